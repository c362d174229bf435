"""The email channel's daily digest: one email per address per local day, like the Slack digest.

At `[digest] time` in the address's zone (`digest.timezones[address]`, else `digest.timezone`), the
open alerts queued for that address before that instant are rendered into one email and frozen as
outbox row `email_digest` / `email-digest:<address>:<local date>` together with the
`alert_email_digests` row, in one transaction; then it is sent through the same in-flight-marker
delivery as alert emails (email_outbox.py). The Message-ID derives from that key and the frozen email, so a re-send
(in_doubt = "resend", or a lost reply after DATA) is the same message to the receiver.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection
from typing import Any

import sqlalchemy as sa

from syncer.alerts.digest import due_day, send_instant
from syncer.alerts.model import AlertSettings
from syncer.alerts.outbox import enqueue
from syncer.alerts.store import alerts, email_digests, email_queue

DigestEmailRenderer = Callable[[str, list[dict[str, Any]]], tuple[str, str, str]]


class EmailDigests:
    def __init__(self, settings: AlertSettings, engine: sa.Engine, render: DigestEmailRenderer) -> None:
        self.settings = settings
        self.engine = engine
        self.render = render

    def addresses(self) -> list[str]:
        with self.engine.connect() as conn:
            query = sa.select(email_queue.c.address).where(email_queue.c.digest.is_(None)).distinct()
            return sorted(str(r) for r in conn.scalars(query))

    def queued(
        self, conn: sa.Connection, address: str, until: dt.datetime | None = None
    ) -> tuple[list[dict[str, Any]], list[int], list[int]]:
        """Open alerts waiting for this address (as render input; queued at or before `until`, UTC, when
        given: the day's send instant), their ids, and the ids of cleared ones."""
        query = (
            sa.select(alerts.c.id, alerts.c.status, alerts.c.payload, alerts.c.value)
            .join(email_queue, email_queue.c.alert_id == alerts.c.id)
            .where(email_queue.c.address == address, email_queue.c.digest.is_(None))
            .order_by(alerts.c.id)
        )
        if until is not None:
            query = query.where(email_queue.c.queued_at <= until)
        listed, ids, cleared = [], [], []
        for row in conn.execute(query):
            if row.status != "open":
                cleared.append(row.id)
                continue
            alert = json.loads(row.payload)
            if row.value is not None:
                alert["value"] = row.value
            listed.append(alert)
            ids.append(row.id)
        return listed, ids, cleared

    def freeze_due(self, now: dt.datetime, only: Collection[str] | None = None) -> list[tuple[str, str, int]]:
        """Freeze every due digest email not built yet today (to one of these addresses, lower case, when
        `only` names them); returns (address, local date, alerts)."""
        built = []
        for address in self.addresses():
            if only is not None and not {a.strip().lower() for a in address.split(",")} & set(only):
                continue
            zone = self.settings.digest.zone_for(address)
            day = due_day(now, self.settings.digest.time, zone)
            if day is None:
                continue
            with self.engine.begin() as conn:
                exists = sa.select(email_digests.c.address).where(
                    email_digests.c.address == address, email_digests.c.local_date == day.isoformat()
                )
                if conn.execute(exists).first() is not None:
                    continue
                listed, ids, cleared = self.queued(conn, address, send_instant(day, self.settings.digest.time, zone))
                self._mark(conn, cleared, "dropped:cleared")
                if not listed:
                    continue
                subject, text, html = self.render(address, listed)
                to = [a.strip() for a in address.split(",") if a.strip()]
                payload = {"to": to, "subject": subject, "text": text, "html": html}
                key = f"email-digest:{address}:{day.isoformat()}"
                enqueue(conn, key, "email_digest", None, to[0][:100], payload, now)
                conn.execute(
                    email_digests.insert().values(
                        address=address, local_date=day.isoformat(), alerts=len(listed), frozen_at=now
                    )
                )
                self._mark(conn, ids, f"{address}:{day.isoformat()}")
                built.append((address, day.isoformat(), len(listed)))
        return built

    def preview(self, address: str) -> tuple[str, str, str] | None:
        with self.engine.connect() as conn:
            listed, _, _ = self.queued(conn, address)
        return self.render(address, listed) if listed else None

    @staticmethod
    def _mark(conn: sa.Connection, ids: list[int], digest: str) -> None:
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            conn.execute(email_queue.update().where(email_queue.c.alert_id.in_(part)).values(digest=digest[:400]))
