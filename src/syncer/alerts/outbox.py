"""The alert outbox: every ping, digest part, escalation and CRM task is a row keyed by its
idempotency key, frozen (target and payload) before anything is sent.

    enqueue (same transaction as the alert)  ->  send through connector.send()  ->  failpoint
        ->  mark delivered / rerouted / rejected (one transaction per acknowledged batch)

A row becomes `delivered` only after the connector acknowledged it. A crash between Slack's
acknowledgement and that write leaves the row pending; the rerun sends the same key to the same
channel, and the Slack connector's history lookup (message metadata) answers "already posted" for
a message with the same key and the same identity fingerprint (`message_record`): a digest key names
a slot (recipient, local day, part) that another state or project fills with other alerts, so a
digest is "this one" only with the same content; an alert's key names its episode (lifecycle.alert_key).
CRM tasks are covered the same way by the connectors' task-key lookup. The channel is frozen in
the row, so a rerun never posts to a different channel than the first attempt (which would defeat
the per-channel history lookup); it changes only when Slack said the first one is undeliverable,
i.e. nothing was posted there.

Every identity a destination sees is scoped by the project id frozen in the row (`scope`,
syncer.project): the Slack fingerprint, hence the email Message-ID, the CRM task key and the webhook
idempotency key. An alert key repeats in every project sharing an account id; without the scope a
second project posting through the same Slack app, mailbox, CRM or receiver is answered "already
delivered" and its alert is lost. A row frozen before the scope existed (NULL) keeps the old identity,
so a rerun after an upgrade finds what the previous release posted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa

from syncer import failpoints
from syncer.alerts.store import alerts, dumps, outbox
from syncer.connector import Record, Result
from syncer.project import project_id, scoped

UNDELIVERABLE = "undeliverable:"
SLOT_KINDS = frozenset({"digest", "email_digest"})  # keys naming a slot (recipient, day, part), not one message


class Sender(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def effective_batch_size(self) -> int: ...

    def send(self, batch: Sequence[Record]) -> list[Result]: ...


@dataclass
class Delivered:
    """What one delivery pass did, by kind."""

    sent: dict[str, int] = field(default_factory=dict)
    rerouted: int = 0
    rejected: int = 0
    failed: int = 0

    def add(self, kind: str, n: int = 1) -> None:
        self.sent[kind] = self.sent.get(kind, 0) + n

    @property
    def undelivered(self) -> int:
        """Rows this pass did not deliver: rejected (never will be as they are) or failed (retried later)."""
        return self.rejected + self.failed


def enqueue(
    conn: sa.Connection,
    key: str,
    kind: str,
    alert_id: int | None,
    recipient: str | None,
    payload: dict[str, Any],
    now: dt.datetime,
    seq: int = 0,
    status: str = "pending",
) -> bool:
    """Insert the row unless the key exists (a key is delivered at most once, ever). True if inserted.
    `status="held"`: a ping waiting for the budget pass (budget.py), which releases or defers it."""
    found = sa.select(outbox.c.key).where(outbox.c.kind == kind, outbox.c.key == key)
    if conn.execute(found).first() is not None:
        return False
    row: dict[str, Any] = {"key": key, "kind": kind, "alert_id": alert_id, "recipient": recipient, "seq": seq}
    row.update(payload=dumps(payload), status=status, attempts=0, created_at=now, scope=project_id(conn))
    conn.execute(outbox.insert(), row)
    return True


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def delivered_key(row: sa.Row[Any]) -> str:
    """The key a destination stores for this row (CRM task key, webhook idempotency key): its key in
    its project (syncer.project.scoped); the bare key for a row frozen before 0013."""
    return scoped(str(row.key), row.scope)


def record_of(row: sa.Row[Any], key: str, match_value: str | None = None) -> Record:
    """The Record of a task or webhook outbox row, under `key`; its idempotency key is `delivered_key(row)`."""
    payload = json.loads(row.payload)
    return Record(key, "insert", payload, _hash(dumps(payload)), delivered_key(row), match_value=match_value)


def message_record(row: sa.Row[Any]) -> Record:
    """The Record of a Slack or email outbox row. Its fingerprint, also its idempotency key (what the Slack
    and email connectors find a message by, as for a sync record), is what makes a message found under the
    row's key *this* row's (the Slack history lookup, the email Message-ID): the project id (another
    project sharing the Slack app or mailbox repeats the key: the same account, trigger and window) and,
    for a slot key (`digest:<recipient>:<local date>:<n>`, `email-digest:<address>:<date>`), the frozen
    payload, since a rebuilt state fills the same slot with other alerts; for an alert's key nothing
    more, since it names one episode even when a re-opened alert renders a moved value
    (lifecycle.alert_key). A row frozen before 0013 (no scope) keeps the previous release's fingerprint,
    so a rerun after the upgrade finds the message that release posted."""
    payload = json.loads(row.payload)
    content = dumps(payload) if row.kind in SLOT_KINDS else None
    if row.scope is None:  # the previous release's identity: payload for slots, else the key alone
        identity = _hash(content if content is not None else str(row.key))
    else:
        identity = _hash("\n".join([str(row.scope), str(row.key), content or ""]))
    return Record(row.key, "insert", payload, identity, identity)  # Slack and email find it by its idempotency key


def task_keys(engine: sa.Engine, keys: Sequence[str]) -> dict[str, str]:
    """Alert key -> the key its CRM task was created under (`delivered_key` of its `task` row: the status
    read-back and the priority raise must name the task the create made). A key without a task row maps
    to itself."""
    found: dict[str, str] = {}
    with engine.connect() as conn:
        for start in range(0, len(keys), 900):
            part = list(keys[start : start + 900])
            query = sa.select(outbox.c.key, outbox.c.scope).where(outbox.c.kind == "task", outbox.c.key.in_(part))
            found.update((str(r.key), delivered_key(r)) for r in conn.execute(query))
    return {key: found.get(key, key) for key in keys}


def pending_rows(engine: sa.Engine, kinds: Sequence[str], statuses: Sequence[str] = ("pending",)) -> list[sa.Row[Any]]:
    query = (
        sa.select(outbox)
        .where(outbox.c.kind.in_(kinds), outbox.c.status.in_(statuses))
        .order_by(outbox.c.created_at, outbox.c.recipient, outbox.c.seq, outbox.c.key)
    )
    with engine.connect() as conn:
        return list(conn.execute(query))


class Outbox:
    """Slack messages, CRM tasks and tier webhooks (email: email_outbox.py)."""

    def __init__(self, engine: sa.Engine, fallback_channel: str | None) -> None:
        self.engine = engine
        self.fallback = fallback_channel

    def pending(self, kinds: Sequence[str], statuses: Sequence[str] = ("pending",)) -> list[sa.Row[Any]]:
        return pending_rows(self.engine, kinds, statuses)

    # -- Slack --------------------------------------------------------------------------------

    def deliver_slack(
        self,
        slack: Sender,
        kinds: Sequence[str],
        now: dt.datetime,
        failpoint: str,
        batch: int | None = None,
        only: Collection[str] | None = None,
    ) -> Delivered:
        """Send every pending row of these kinds (of these recipients, when `only` names them); undeliverable
        ones go once more, to the fallback."""
        done = Delivered()
        for _ in range(2):  # the second pass sends what the first rerouted to the fallback channel
            rows = [r for r in self.pending(kinds) if only is None or r.recipient in only]
            if not rows:
                break
            rerouted = 0
            size = max(1, min(batch or slack.effective_batch_size, slack.effective_batch_size))
            for start in range(0, len(rows), size):
                chunk = rows[start : start + size]
                results = slack.send([message_record(r) for r in chunk])
                failpoints.hit(failpoint)  # acknowledged by Slack, not yet in state: the crash tests stop here
                rerouted += self._settle(chunk, results, now, done)
            if not rerouted:
                break
        return done

    def _settle(self, rows: Sequence[sa.Row[Any]], results: Sequence[Result], now: dt.datetime, done: Delivered) -> int:
        rerouted = 0
        with self.engine.begin() as conn:
            for row, result in zip(rows, results, strict=True):
                where = sa.and_(outbox.c.kind == row.kind, outbox.c.key == row.key)
                if result.status == "ok":
                    conn.execute(
                        outbox.update()
                        .where(where)
                        .values(status="delivered", dest_id=result.dest_id, delivered_at=now)
                    )
                    done.add(str(row.kind))
                elif result.status == "failed":
                    conn.execute(outbox.update().where(where).values(attempts=row.attempts + 1, reason=result.reason))
                    done.failed += 1
                elif (result.reason or "").startswith(UNDELIVERABLE) and self._can_reroute(row):
                    payload = json.loads(row.payload)
                    reason = f"{result.reason} (was {payload.get('channel')})"
                    payload["channel"] = self.fallback
                    conn.execute(
                        outbox.update()
                        .where(where)
                        .values(payload=dumps(payload), reason=reason, attempts=row.attempts + 1)
                    )
                    if row.alert_id is not None and row.kind == "ping":
                        conn.execute(
                            alerts.update()
                            .where(alerts.c.id == row.alert_id)
                            .values(channel=self.fallback, fallback_reason=reason)
                        )
                    rerouted += 1
                    done.rerouted += 1
                else:
                    conn.execute(outbox.update().where(where).values(status="rejected", reason=result.reason))
                    done.rejected += 1
        return rerouted

    def _can_reroute(self, row: sa.Row[Any]) -> bool:
        return bool(self.fallback) and json.loads(row.payload).get("channel") != self.fallback

    # -- CRM tasks ----------------------------------------------------------------------------

    def deliver_tasks(self, crm: Sender, now: dt.datetime, kinds: Sequence[str] = ("task",)) -> Delivered:
        done = Delivered()
        for _ in range(2):  # the second pass retries tasks whose owner the CRM does not know, unowned
            rows = self.pending(kinds)
            if not rows:
                break
            retry = 0
            size = max(1, crm.effective_batch_size)
            for start in range(0, len(rows), size):
                chunk = rows[start : start + size]
                records = [record_of(r, delivered_key(r), r.recipient) for r in chunk]  # the CRM task key
                results = crm.send(records)
                failpoints.hit("task_after_create")
                retry += self._settle_tasks(chunk, results, now, done)
            if not retry:
                break
        return done

    def _settle_tasks(
        self, rows: Sequence[sa.Row[Any]], results: Sequence[Result], now: dt.datetime, done: Delivered
    ) -> int:
        retry = 0
        with self.engine.begin() as conn:
            for row, result in zip(rows, results, strict=True):
                where = sa.and_(outbox.c.kind == row.kind, outbox.c.key == row.key)
                alert = alerts.update().where(alerts.c.id == row.alert_id)
                payload = json.loads(row.payload)
                if result.status == "ok":
                    conn.execute(
                        outbox.update()
                        .where(where)
                        .values(status="delivered", dest_id=result.dest_id, delivered_at=now)
                    )
                    if row.kind == "task":
                        conn.execute(alert.values(task_state="open", task_checked_at=now))
                    done.add(str(row.kind))
                elif result.status == "failed":
                    conn.execute(outbox.update().where(where).values(attempts=row.attempts + 1, reason=result.reason))
                    done.failed += 1
                elif "owner" in (result.reason or "").lower() and payload.pop("owner_email", None):
                    reason = f"{result.reason}; created without owner"
                    conn.execute(outbox.update().where(where).values(payload=dumps(payload), reason=reason))
                    retry += 1
                else:
                    conn.execute(outbox.update().where(where).values(status="rejected", reason=result.reason))
                    if row.kind == "task":
                        conn.execute(alert.values(task_state="rejected"))
                    done.rejected += 1
        return retry

    # -- webhooks (signed, idempotent batches) --------------------------------------------------

    def deliver_webhooks(self, hooks: dict[str, Sender], now: dt.datetime) -> Delivered:
        """Pending `webhook` rows per connector (the row's recipient), in batches; a crash resends the
        same records (same key and fingerprint), which the receiver applies idempotently."""
        done = Delivered()
        rows = self.pending(["webhook"])
        by_hook: dict[str, list[sa.Row[Any]]] = {}
        for row in rows:
            by_hook.setdefault(str(row.recipient), []).append(row)
        for name, group in by_hook.items():
            hook = hooks.get(name)
            if hook is None:
                continue  # config changed: stays pending and visible until the connector is back
            size = max(1, hook.effective_batch_size)
            for start in range(0, len(group), size):
                chunk = group[start : start + size]
                results = hook.send([record_of(r, r.key, r.key) for r in chunk])
                failpoints.hit("webhook_after_ack")
                with self.engine.begin() as conn:
                    for row, result in zip(chunk, results, strict=True):
                        where = sa.and_(outbox.c.kind == row.kind, outbox.c.key == row.key)
                        if result.status == "ok":
                            values: dict[str, Any] = {"status": "delivered", "dest_id": result.dest_id}
                            conn.execute(outbox.update().where(where).values(**values, delivered_at=now))
                            done.add("webhook")
                        elif result.status == "failed":
                            values = {"attempts": row.attempts + 1, "reason": result.reason}
                            conn.execute(outbox.update().where(where).values(**values))
                            done.failed += 1
                        else:
                            conn.execute(outbox.update().where(where).values(status="rejected", reason=result.reason))
                            done.rejected += 1
        return done
