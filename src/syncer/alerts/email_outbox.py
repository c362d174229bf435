"""Email delivery from the outbox: `email` and `email_digest` rows, sent one message at a time.

SMTP has no history to ask, so instead of the lookup Slack and the CRMs answer (outbox.py), each
send sits between a committed `sending` marker and the state write; a row still `sending` when a
process starts was interrupted mid-send and is held (`in_doubt`) or re-sent, as `in_doubt` says.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa

from syncer import failpoints
from syncer.alerts.outbox import Delivered, Sender, message_record, pending_rows
from syncer.alerts.store import alerts, outbox
from syncer.connector import Result


def addressed_to(row: sa.Row[Any]) -> set[str]:
    """The addresses (lower case) an email outbox row goes to."""
    to = json.loads(row.payload).get("to") or []
    return {str(a).strip().lower() for a in ([to] if isinstance(to, str) else to)}


class EmailOutbox:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def deliver_email(
        self,
        email: Sender,
        kinds: Sequence[str],
        now: dt.datetime,
        in_doubt: str,
        max_attempts: int,
        only: Collection[str] | None = None,
    ) -> Delivered:
        """One message per send, each between a committed `sending` marker and the state write.

        SMTP cannot answer "did you already get this?", so a row still `sending` when a process
        starts was interrupted between the marker and the state write (SIGKILL, OOM, power): the
        server may or may not have accepted it. `in_doubt = "hold"` marks it `in_doubt` and never
        sends it again by itself (no duplicate; `release_in_doubt` re-sends on request);
        `"resend"` sends it again with the same Message-ID (receivers that de-duplicate by
        Message-ID show it once, others twice). `only`: just the rows addressed to one of these addresses
        (lower case).
        """
        self.recover(kinds, in_doubt, now)
        done = Delivered()
        for row in pending_rows(self.engine, kinds):
            if only is not None and not addressed_to(row).intersection(only):
                continue
            where = sa.and_(outbox.c.kind == row.kind, outbox.c.key == row.key)
            with self.engine.begin() as conn:
                conn.execute(outbox.update().where(where).values(status="sending", attempts=row.attempts + 1))
            try:
                [result] = email.send([message_record(row)])
            except BaseException:
                with self.engine.begin() as conn:  # nothing was accepted: a fatal error before DATA
                    conn.execute(outbox.update().where(where).values(status="pending"))
                raise
            failpoints.hit("email_after_send")  # accepted by the server, not yet in state
            self._settle_email(row, result, now, done, max_attempts)
        return done

    def _settle_email(
        self, row: sa.Row[Any], result: Result, now: dt.datetime, done: Delivered, max_attempts: int
    ) -> None:
        where = sa.and_(outbox.c.kind == row.kind, outbox.c.key == row.key)
        with self.engine.begin() as conn:
            if result.status == "ok":
                values = {
                    "status": "delivered",
                    "dest_id": result.dest_id,
                    "delivered_at": now,
                    "reason": result.reason,
                }
                conn.execute(outbox.update().where(where).values(**values))
                done.add(str(row.kind))
                return
            if result.status == "failed":
                status = "gave_up" if row.attempts + 1 >= max_attempts else "pending"
                reason = f"{result.reason} (attempt {row.attempts + 1} of {max_attempts})"
                conn.execute(outbox.update().where(where).values(status=status, reason=reason))
                done.failed += 1
                if status == "pending":
                    return
            else:
                conn.execute(outbox.update().where(where).values(status="rejected", reason=result.reason))
                done.rejected += 1
            if row.alert_id is not None:
                error = result.reason if result.status == "rejected" else f"gave up: {result.reason}"
                conn.execute(alerts.update().where(alerts.c.id == row.alert_id).values(email_error=error))

    def recover(self, kinds: Sequence[str], in_doubt: str, now: dt.datetime) -> int:
        """Rows left `sending` by a process that died mid-send: in doubt (hold) or pending again (resend)."""
        where = sa.and_(outbox.c.kind.in_(kinds), outbox.c.status == "sending")
        if in_doubt == "resend":
            values: dict[str, Any] = {"status": "pending", "reason": "re-sent after an interrupted send"}
        else:
            values = {
                "status": "in_doubt",
                "reason": f"interrupted mid-send (found {now.isoformat(timespec='seconds')}): the server may have "
                "it; not re-sent (in_doubt = hold)",
            }
        with self.engine.begin() as conn:
            return int(conn.execute(outbox.update().where(where).values(**values)).rowcount or 0)

    def statuses(self, keys: Sequence[str]) -> dict[str, str]:
        """Key -> status of the email and email digest rows with these keys (absent: no such email)."""
        where = sa.and_(outbox.c.kind.in_(["email", "email_digest"]), outbox.c.key.in_(list(keys)))
        with self.engine.connect() as conn:
            return {
                str(r.key): str(r.status) for r in conn.execute(sa.select(outbox.c.key, outbox.c.status).where(where))
            }

    def release_in_doubt(self, keys: Sequence[str] | None = None) -> int:
        """Send these in-doubt emails (all when None) again, with the same Message-ID, on the next delivery."""
        where = sa.and_(outbox.c.status == "in_doubt", outbox.c.kind.in_(["email", "email_digest"]))
        if keys is not None:
            where = sa.and_(where, outbox.c.key.in_(list(keys)))
        with self.engine.begin() as conn:
            return int(conn.execute(outbox.update().where(where).values(status="pending")).rowcount or 0)
