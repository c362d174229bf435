"""Every "already delivered?" identity is scoped by the project (syncer.project).

Two projects with the same account id, trigger and window, posting through one Slack app, mailbox,
CRM or webhook receiver, must each deliver their own alert (before: the second was answered "already
posted" and never sent). The same project after a crash must still find what it sent, and a row
frozen by the previous release (no scope) must still find that release's message after an upgrade.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from syncer_connectors.email.connector import message_id_for
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts.outbox import message_record, record_of
from syncer.alerts.store import outbox
from syncer.connector import Record, Result
from syncer.ops_alerts import OpsAlert, SlackNotifier
from syncer.runner import idempotency_key
from tests.alerts.support import T0, Clock, all_keys, engine, row, sqlite_url

KEY = "acct-1:seat_limit_approaching:20260220T000000Z"
DIGEST = "digest:U0AE1:2026-03-02:1"


def outbox_row(kind: str, key: str, payload: dict[str, str], scope: str | None) -> sa.Row[object]:
    """An outbox row as the delivery reads it."""
    columns = [
        sa.literal(kind).label("kind"),
        sa.literal(key).label("key"),
        sa.literal(json.dumps(payload)).label("payload"),
        sa.literal(scope, sa.String).label("scope"),
    ]
    with sa.create_engine("sqlite://").connect() as conn:
        return conn.execute(sa.select(*columns)).one()


def slack_identity(kind: str) -> Callable[[str, dict[str, str], str | None], str]:
    """What the Slack history lookup compares (metadata key + fingerprint)."""
    return lambda key, payload, scope: "/".join(
        [(r := message_record(outbox_row(kind, key, payload, scope))).key, r.fingerprint]
    )


def email_identity(kind: str) -> Callable[[str, dict[str, str], str | None], str]:
    """The email's Message-ID (receivers drop a second message with a seen one)."""

    def identity(key: str, payload: dict[str, str], scope: str | None) -> str:
        record = message_record(outbox_row(kind, key, payload, scope))
        return message_id_for(record.key, record.fingerprint, "syncer.example")

    return identity


def task_identity(key: str, payload: dict[str, str], scope: str | None) -> str:
    """The key the CRM stores on the task and looks up before creating one."""
    from syncer.alerts.outbox import delivered_key

    row_ = outbox_row("task", key, payload, scope)
    return record_of(row_, delivered_key(row_)).key


def webhook_identity(key: str, payload: dict[str, str], scope: str | None) -> str:
    """The tier webhook's idempotency key."""
    return record_of(outbox_row("webhook", key, payload, scope), key, key).idempotency_key


class Posted:
    """A Slack sender that only records what it was given."""

    name, effective_batch_size = "slack", 1

    def __init__(self) -> None:
        self.records: list[Record] = []

    def send(self, batch: list[Record]) -> list[Result]:
        self.records.extend(batch)
        return [Result.ok(r, "ts") for r in batch]


def ops_identity(key: str, payload: dict[str, str], scope: str | None) -> str:
    """An ops alert's Slack identity (its key names a state change of a sync, which another project repeats)."""
    posted = Posted()
    notifier = SlackNotifier(posted, "C0OPS")  # type: ignore[arg-type]
    notifier.notify(OpsAlert("accounts", "failed", "firing", payload["text"], T0, scope))
    return posted.records[0].fingerprint


def sync_identity(key: str, payload: dict[str, str], scope: str | None) -> str:
    """A sync record's webhook idempotency key (sync name, key, content)."""
    return idempotency_key("accounts", key, "fp-1", scope or "")


# (destination identity, key, payload, payload of the same message re-rendered after a crash / state rebuild)
IDENTITIES = [
    ("slack ping", slack_identity("ping"), KEY, {"text": "85%"}, {"text": "91%"}),
    ("slack escalation", slack_identity("escalation"), f"escalation:{KEY}", {"text": "a"}, {"text": "b"}),
    ("slack digest", slack_identity("digest"), DIGEST, {"text": "3 alerts"}, {"text": "3 alerts"}),
    ("alert email Message-ID", email_identity("email"), KEY, {"text": "85%"}, {"text": "91%"}),
    (
        "digest email Message-ID",
        email_identity("email_digest"),
        "email-digest:a@x.io:2026-03-02",
        {"t": "3"},
        {"t": "3"},
    ),
    ("CRM task key", task_identity, KEY, {"subject": "Seat limit"}, {"subject": "Seat limit"}),
    ("SDR task key", task_identity, f"sdr:{KEY}", {"subject": "SDR"}, {"subject": "SDR"}),
    ("tier webhook idempotency key", webhook_identity, KEY, {"v": "1"}, {"v": "1"}),
    ("ops alert Slack identity", ops_identity, "-", {"text": "run failed"}, {"text": "run failed"}),
    ("sync webhook idempotency key", sync_identity, "42", {}, {}),
]
ONE, OTHER = "1f2e3d4c5b6a7980", "0a1b2c3d4e5f6071"  # two projects' ids


@pytest.mark.parametrize(("what", "identity", "key", "payload", "again"), IDENTITIES, ids=[c[0] for c in IDENTITIES])
def test_identity_is_the_projects(
    what: str,
    identity: Callable[[str, dict[str, str], str | None], str],
    key: str,
    payload: dict[str, str],
    again: dict[str, str],
) -> None:
    """Another project's message under the same key is not this one's; this project's rerun is."""
    mine = identity(key, payload, ONE)
    assert identity(key, payload, OTHER) != mine, what  # another project: not "already delivered"
    assert identity(key, again, ONE) == mine, what  # a crash and rerun of this project: found, not re-sent


# (kind, key, payload, the identity the previous release gave the row: what its message / task carries)
LEGACY = [
    ("ping", KEY, {"text": "85%"}, hashlib.sha256(KEY.encode()).hexdigest()[:32]),
    ("digest", DIGEST, {"text": "3 alerts"}, hashlib.sha256(b'{"text": "3 alerts"}').hexdigest()[:32]),
]


@pytest.mark.parametrize(("kind", "key", "payload", "previous"), LEGACY, ids=[c[0] for c in LEGACY])
def test_a_row_frozen_by_the_previous_release_keeps_its_identity(
    kind: str, key: str, payload: dict[str, str], previous: str
) -> None:
    """After an upgrade the pending row (no scope) is looked up as the previous release posted it."""
    assert message_record(outbox_row(kind, key, payload, None)).fingerprint == previous
    task = outbox_row("task", key, payload, None)
    assert record_of(task, key).idempotency_key == key and task_identity(key, payload, None) == key


def two_projects(tmp_path: Path, slack: SlackEmulator, crm: HubSpotEmulator, fake: Clock) -> tuple[str, str]:
    """Two projects (two states, one Slack app, one CRM) firing the same alerts at the same time."""
    urls = sqlite_url(tmp_path, "a.sqlite"), sqlite_url(tmp_path, "b.sqlite")
    for url in urls:
        eng = engine(
            url, slack.api_url, slack.token, fake, crm.base_url, fast=True, alerts={"activation": {"quiet": False}}
        )
        eng.evaluate_and_deliver(T0, rows=[row(i) for i in range(3)])
        eng.close()
    return urls


def redeliver(url: str, slack: SlackEmulator, crm: HubSpotEmulator, fake: Clock, kinds: tuple[str, ...]) -> None:
    """A crash after the destination acknowledged, before the state write: the rows are pending again."""
    with sa.create_engine(url).begin() as conn:
        conn.execute(outbox.update().where(outbox.c.kind.in_(kinds)).values(status="pending", dest_id=None))
    eng = engine(
        url, slack.api_url, slack.token, fake, crm.base_url, fast=True, alerts={"activation": {"quiet": False}}
    )
    eng.evaluate_and_deliver(T0 + dt.timedelta(minutes=5), rows=[row(i) for i in range(3)])
    eng.close()


def test_two_projects_each_deliver_and_a_crash_rerun_duplicates_nothing(
    tmp_path: Path, slack: SlackEmulator, crm: HubSpotEmulator, fake: Clock
) -> None:
    first, _ = two_projects(tmp_path, slack, crm, fake)
    pings, tasks = sorted(all_keys(slack)), len(crm.store.live("tasks"))
    print(f"\ntwo projects, 3 alerts each: {len(pings)} pings, {tasks} tasks")
    assert len(pings) == 6 and len(set(pings)) == 3 and tasks == 6  # each project's rep got its own
    redeliver(first, slack, crm, fake, ("ping", "task"))
    assert sorted(all_keys(slack)) == pings and len(crm.store.live("tasks")) == tasks  # found, not re-sent


def test_a_rerun_after_the_upgrade_finds_what_the_previous_release_posted(
    tmp_path: Path, slack: SlackEmulator, fake: Clock
) -> None:
    """The previous release posted the ping (its identity: the key alone) and crashed before the state write."""
    url = sqlite_url(tmp_path)
    eng = engine(url, slack.api_url, slack.token, fake, fast=True, alerts={"activation": {"quiet": False}})
    eng.evaluate_and_deliver(T0, rows=[row(1)])
    eng.close()
    [message] = [m for c in list(slack.channels) for m in slack.messages(c) if "metadata" in m]
    key = message["metadata"]["event_payload"]["key"]
    with sa.create_engine(url).begin() as conn:  # the row as 0013 finds it: no scope, sent, not recorded
        conn.execute(outbox.update().where(outbox.c.kind == "ping").values(scope=None, status="pending"))
        payload = json.loads(conn.scalar(sa.select(outbox.c.payload).where(outbox.c.kind == "ping")))
    for c in list(slack.channels):  # what the previous release's message carries
        for m in slack.messages(c):
            if "metadata" in m:
                m["metadata"]["event_payload"]["fingerprint"] = hashlib.sha256(key.encode()).hexdigest()[:32]
    eng = engine(url, slack.api_url, slack.token, fake, fast=True, alerts={"activation": {"quiet": False}})
    eng.evaluate_and_deliver(T0 + dt.timedelta(minutes=5), rows=[row(1)])
    eng.close()
    assert all_keys(slack) == [key] and payload  # found under the old identity: not posted again
    with sa.create_engine(url).connect() as conn:
        assert conn.scalar(sa.select(outbox.c.status).where(outbox.c.kind == "ping")) == "delivered"
