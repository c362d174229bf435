"""The alert tables (created by migrations 0003_alerts and 0004_tier_actions) and small helpers to read and write them.

alert_pairs         one row per account x trigger ever seen: the open alert, quiet count, last value
alerts              one row per alert (a firing that passed dedupe, cooldown and suppression)
alert_outbox        every message/task to deliver, keyed by its idempotency key, frozen before sending
alert_digest_queue  medium/low alerts waiting for their recipient's next digest
alert_digests       one row per recipient per local day: "this day's digest exists"
alert_evaluations   one row per evaluation (its sequence number marks the pairs it saw)
alert_slack_users   owner email -> Slack user id, cached with the time it was checked
alert_email_queue   alerts waiting for their address's next digest email (0004)
alert_email_digests one row per address per local day: "this day's digest email exists" (0004)
alert_trigger_activations  trigger -> definition fingerprint it was activated with (0006)
alert_trigger_rates        trigger -> matured / converted alerts from the outcomes report (0006)
alert_canaries             trigger -> its canary's decision: running | promoted | rolled_back (0008)
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from syncer.timestamps import UtcDateTime

metadata = sa.MetaData()
TS = UtcDateTime()

pairs = sa.Table(
    "alert_pairs",
    metadata,
    sa.Column("account_id", sa.String(300), primary_key=True),
    sa.Column("trigger", sa.String(200), primary_key=True),
    sa.Column("open_alert_id", sa.Integer),
    sa.Column("last_alert_id", sa.Integer),
    sa.Column("quiet_evals", sa.Integer),
    sa.Column("last_value", sa.Float),
    sa.Column("seen_seq", sa.Integer),
    sa.Column("last_seen_at", TS),
)
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(600)),  # "<account>:<trigger>:<episode start UTC>" (alert_key): ping, task, email key
    sa.Column("account_id", sa.String(300)),
    sa.Column("trigger", sa.String(200)),
    sa.Column("priority", sa.String(20)),
    sa.Column("status", sa.String(20)),  # open | cleared
    sa.Column("delivery", sa.String(20)),  # ping | digest
    sa.Column("owner_email", sa.String(320)),
    sa.Column("owner_slack_id", sa.String(50)),
    sa.Column("channel", sa.String(50)),  # where the ping / digest goes (after fallback)
    sa.Column("rule", sa.String(200)),
    sa.Column("fallback_reason", sa.Text),
    sa.Column("payload", sa.Text),  # the alert dict (blocks.render_* input), JSON
    sa.Column("value", sa.Float),
    sa.Column("opened_at", TS),
    sa.Column("last_seen_at", TS),
    sa.Column("cleared_at", TS),
    sa.Column("task_state", sa.String(20)),  # none | pending | open | completed | rejected
    sa.Column("task_checked_at", TS),
    sa.Column("worked_at", TS),
    sa.Column("escalated_at", TS),
    # 0004: tier actions, SLA, email channel
    sa.Column("tier", sa.String(50)),  # the PQL tier whose actions ran (row's tier, else by priority)
    sa.Column("actions", sa.Text),  # JSON list the SLA waits for: notify | task | sdr_task | webhook
    sa.Column("sla_hours", sa.Float),
    sa.Column("signal_at", TS),  # the row's signal_at when it has one, else opened_at
    sa.Column("email_to", sa.Text),  # comma-separated addresses on the email channel
    sa.Column("email_error", sa.Text),  # the server's reply when the alert email was refused
    # 0006: ping budget, holdout, canary
    sa.Column("expected_value", sa.Float),  # conversion x expansion potential (budget ranking)
    sa.Column("holdout", sa.Integer),  # 1: held out - recorded, nobody pinged or tasked
    sa.Column("canary", sa.String(20)),  # "" current definition | "canary" the changed definition
    # 0009: lanes and event-to-action latency (syncer/intraday/latency.py)
    sa.Column("lane", sa.String(20)),  # daily | intraday: the evaluation that opened it
    sa.Column("pinged_at", TS),  # first Slack ping delivered
    sa.Column("emailed_at", TS),  # alert email delivered
    sa.Column("task_created_at", TS),  # owner's CRM task created
    sa.Column("action_at", TS),  # every action of its tier done: signal_at -> action_at is event-to-action
)
outbox = sa.Table(
    "alert_outbox",
    metadata,
    sa.Column("kind", sa.String(20), primary_key=True),  # ping | task | digest | escalation | task_priority
    sa.Column("key", sa.String(400), primary_key=True),  # the connector's Record.key
    sa.Column("alert_id", sa.Integer),
    sa.Column("recipient", sa.String(100)),
    sa.Column("seq", sa.Integer),  # digest part number, for ordering
    sa.Column("payload", sa.Text),  # Record.fields, JSON, frozen at enqueue time
    sa.Column("status", sa.String(20)),  # pending | delivered | rejected | unsupported
    sa.Column("dest_id", sa.String(300)),
    sa.Column("reason", sa.Text),
    sa.Column("attempts", sa.Integer),
    sa.Column("created_at", TS),
    sa.Column("delivered_at", TS),
    # 0013: the project id the row was frozen under (syncer.project); NULL: frozen before 0013
    sa.Column("scope", sa.String(64)),
)
digest_queue = sa.Table(
    "alert_digest_queue",
    metadata,
    sa.Column("alert_id", sa.Integer, primary_key=True),
    sa.Column("recipient", sa.String(100)),
    sa.Column("queued_at", TS),
    sa.Column("digest", sa.String(300)),  # "<recipient>:<date>" once frozen into a digest
    sa.Column("reason", sa.String(20)),  # 0006: null | deferred (over the ping budget) | backlog
)
digests = sa.Table(
    "alert_digests",
    metadata,
    sa.Column("recipient", sa.String(100), primary_key=True),
    sa.Column("local_date", sa.String(10), primary_key=True),
    sa.Column("parts", sa.Integer),
    sa.Column("alerts", sa.Integer),
    sa.Column("frozen_at", TS),
)
evaluations = sa.Table(
    "alert_evaluations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", TS),
    sa.Column("rows", sa.Integer),
    sa.Column("opened", sa.Integer),
    sa.Column("cleared", sa.Integer),
    sa.Column("suppressed", sa.Integer),
)
slack_users = sa.Table(
    "alert_slack_users",
    metadata,
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("user_id", sa.String(50)),
    sa.Column("checked_at", TS),
)

email_queue = sa.Table(
    "alert_email_queue",
    metadata,
    sa.Column("alert_id", sa.Integer, primary_key=True),
    sa.Column("address", sa.String(320)),
    sa.Column("queued_at", TS),
    sa.Column("digest", sa.String(400)),  # "<address>:<date>" once frozen into a digest email
)
email_digests = sa.Table(
    "alert_email_digests",
    metadata,
    sa.Column("address", sa.String(320), primary_key=True),
    sa.Column("local_date", sa.String(10), primary_key=True),
    sa.Column("alerts", sa.Integer),
    sa.Column("frozen_at", TS),
)

activations = sa.Table(
    "alert_trigger_activations",
    metadata,
    sa.Column("trigger", sa.String(200), primary_key=True),
    sa.Column("fingerprint", sa.String(64)),
    sa.Column("activated_at", TS),
    sa.Column("evaluation", sa.Integer),
)
trigger_rates = sa.Table(
    "alert_trigger_rates",
    metadata,
    sa.Column("trigger", sa.String(200), primary_key=True),
    sa.Column("matured", sa.Integer),
    sa.Column("converted", sa.Integer),
    sa.Column("updated_at", TS),
)

canaries = sa.Table(
    "alert_canaries",
    metadata,
    sa.Column("trigger", sa.String(200), primary_key=True),
    sa.Column("status", sa.String(20)),  # running | promoted | rolled_back
    sa.Column("reason", sa.Text),
    sa.Column("decided_at", TS),
)

CHUNK = 900  # under SQLite's bound-parameter limit


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes for timezone=True columns: they are UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
