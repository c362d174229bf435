"""Escalation: a high alert whose CRM task is still open after the SLA (default 24 h) is escalated once.

    candidates: every alert whose own CRM task is open, not escalated, opened before now - SLA
                (pinged, deferred past the ping budget to the digest, digest/none tiers with
                `crm_task`); not the quiet backlog (`ESCALATED_DELIVERIES`)
    -> read task status back (completed: the alert is worked, no escalation)
    -> one transaction: escalated_at, outbox `escalation:<alert key>` (a Slack message to the
       owner's manager by DM, else the escalation channel, else the fallback) and outbox
       `task_priority:<alert key>` (raise the CRM task's priority)
    -> deliver (failpoint "escalation_after_post" between Slack's ack and the state write)

The CRM connectors have no call to change an existing task: the priority raise is delivered
through `crm.raise_task_priority(keys, priority) -> {key: None | reason}` when the connector has
it, else the row stays `unsupported` with that reason and is retried on every escalate().
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from syncer.alerts.lifecycle import AlertRenderer, StatusReader, refresh_tasks
from syncer.alerts.model import AlertSettings
from syncer.alerts.outbox import Delivered, Outbox, Sender, enqueue, task_keys
from syncer.alerts.people import owner_name
from syncer.alerts.routing import UserDirectory
from syncer.alerts.store import alerts, outbox
from syncer.escaping import slack_line

# How an alert was delivered does not decide whether its open task is overdue: a high alert the ping
# budget deferred to the digest still has its task (adv6 #3). Left out: the quiet first activation's
# backlog (its point is no interruption for accounts already firing; docs/alerts.md) and the holdout
# (no task).
ESCALATED_DELIVERIES = ("ping", "deferred", "digest", "none")

RaisePriority = Callable[[list[str], str], dict[str, str | None]]


@dataclass
class Escalated:
    checked: int = 0
    worked: int = 0
    escalated: list[str] = field(default_factory=list)
    delivered: Delivered = field(default_factory=Delivered)
    priority_raised: int = 0
    priority_unsupported: int = 0
    priority_rejected: int = 0

    @property
    def undelivered(self) -> int:
        """Escalation messages and priority raises not delivered (rejected or failed): `alerts escalate` exits 1."""
        return self.delivered.undelivered + self.priority_rejected


class Escalations:
    def __init__(
        self,
        settings: AlertSettings,
        engine: sa.Engine,
        outbox: Outbox,
        users: UserDirectory,
        render_alert: AlertRenderer,
        read_tasks: StatusReader | None,
        raise_priority: RaisePriority | None,
        crm_name: str,
        fallback_channel: str | None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.outbox = outbox
        self.users = users
        self.render_alert = render_alert
        self.read_tasks = read_tasks
        self.raise_priority = raise_priority
        self.crm_name = crm_name
        self.fallback = fallback_channel

    def target(self, owner_email: str | None, now: dt.datetime) -> tuple[str | None, str]:
        manager = self.settings.alerts.managers.get((owner_email or "").strip().lower())
        if manager:
            user = self.users.user_id(manager, now)
            if user:
                return user, f"manager {manager}"
        if self.settings.alerts.escalation_channel:
            return self.settings.alerts.escalation_channel, "escalation channel"
        return self.fallback, "fallback channel"

    def run(self, slack: Sender, now: dt.datetime) -> Escalated:
        done = Escalated()
        if self.read_tasks is None:
            return done  # no CRM tasks configured: nothing tells us whether an alert was worked
        cutoff = now - dt.timedelta(hours=self.settings.alerts.sla_hours)
        query = sa.select(alerts).where(
            alerts.c.delivery.in_(ESCALATED_DELIVERIES),
            alerts.c.task_state == "open",
            alerts.c.escalated_at.is_(None),
            alerts.c.opened_at <= cutoff,
        )
        with self.engine.connect() as conn:
            candidates = list(conn.execute(query))
        done.checked = len(candidates)
        if candidates:
            refresh_tasks(self.engine, self.read_tasks, candidates, now)
            with self.engine.connect() as conn:
                still = list(conn.execute(query))
            done.worked = len(candidates) - len(still)
            for row in still:
                self._escalate(row, now)
                done.escalated.append(row.key)
        done.delivered = self.outbox.deliver_slack(slack, ["escalation"], now, "escalation_after_post")
        self._raise_priorities(now, done)
        return done

    def _escalate(self, row: sa.Row[Any], now: dt.datetime) -> None:
        alert = json.loads(row.payload)
        channel, why = self.target(row.owner_email, now)
        manager = why.removeprefix("manager ") if why.startswith("manager ") else None  # a DM: the manager reads it
        zone = self.settings.digest.zone_for(channel, manager)
        text, blocks = self.render_alert({**alert, "time_zone": zone.key})
        hours = self.settings.alerts.sla_hours
        owner = owner_name(alert) or row.owner_email  # a name where one is known
        payload = escalation_message(text, blocks, channel, why, hours, row.owner_slack_id, owner)
        with self.engine.begin() as conn:
            taken = conn.execute(
                alerts.update().where(alerts.c.id == row.id, alerts.c.escalated_at.is_(None)).values(escalated_at=now)
            ).rowcount
            if not taken:
                return
            enqueue(conn, f"escalation:{row.key}", "escalation", row.id, channel, payload, now)
            enqueue(
                conn, row.key, "task_priority", row.id, None, {"priority": self.settings.alerts.escalated_priority}, now
            )

    def _raise_priorities(self, now: dt.datetime, done: Escalated) -> None:
        rows = self.outbox.pending(["task_priority"], statuses=("pending", "unsupported"))
        if not rows:
            return
        where_keys = [r.key for r in rows]
        if self.raise_priority is None:
            reason = f"connector {self.crm_name!r} has no raise_task_priority(keys, priority): not raised"
            self._set(where_keys, "unsupported", reason, now)
            done.priority_unsupported = len(rows)
            return
        crm_keys = task_keys(self.engine, where_keys)  # the key each task was created under (its project's)
        raised = self.raise_priority(list(dict.fromkeys(crm_keys.values())), self.settings.alerts.escalated_priority)
        answers = {key: raised[crm_keys[key]] for key in where_keys if crm_keys[key] in raised}
        ok = [k for k in where_keys if k in answers and answers[k] is None]
        self._set(ok, "delivered", None, now)
        for key in where_keys:
            if answers.get(key):
                self._set([key], "rejected", answers[key], now)
                done.priority_rejected += 1
        done.priority_raised = len(ok)

    def _set(self, keys: list[str], status: str, reason: str | None, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            for start in range(0, len(keys), 900):
                conn.execute(
                    outbox.update()
                    .where(outbox.c.kind == "task_priority", outbox.c.key.in_(keys[start : start + 900]))
                    .values(status=status, reason=reason, delivered_at=now if status == "delivered" else None)
                )


def escalation_message(
    text: str,
    blocks: list[dict[str, Any]],
    channel: str | None,
    why: str,
    hours: float,
    owner_slack_id: str | None,
    owner_shown: str | None,
) -> dict[str, Any]:
    """The escalation post: a note (owner mentioned only by a valid Slack user id, otherwise `owner_shown` -
    their name where known, else their email - escaped) above the alert's own, already escaped, text and blocks."""
    slack_id = str(owner_slack_id or "")
    is_user = slack_id.isalnum() and slack_id[:1] in ("U", "W")
    owner = f"<@{slack_id}>" if is_user else slack_line(owner_shown or "no owner")
    note = f":rotating_light: *Escalation*: not worked within {hours:g} h (CRM task still open). Owner: {owner}."
    return {
        "channel": channel,
        "text": f"Escalation ({slack_line(why)}): {text}"[:3000],
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": note}}, *blocks][:50],
    }
