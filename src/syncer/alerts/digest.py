"""The daily digest: medium/low alerts per recipient (an owner's DM or a channel), once per local day.

At the configured local time in the recipient's IANA zone (zoneinfo: DST-correct), the alerts
queued before that instant are frozen into outbox rows `digest:<recipient>:<local date>:<n>`
together with the `alert_digests` row for that day, in one transaction; then the parts are sent.
A restart mid-send resends only the pending parts (the Slack history lookup finds a part that
landed before the crash), and the day's row means a second digest is never built that day.
Alerts that cleared before the digest was built are left out (marked `dropped:cleared`), except
pings deferred by the budget (budget.py): those were promised to this digest and are always listed.
Deferred and backlog alerts carry `digest_section` so the renderer lists them under their own heading.
An alert queued after the day's send instant waits for the next day's digest, also when nothing was
queued at that instant: the digest arrives at the same local time daily (PRODUCT.md), never at the
hour of the day's first alert. A process that was down at the send instant builds the day's digest
when it comes back, from what was queued before the instant.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from syncer.alerts.model import AlertSettings
from syncer.alerts.outbox import Delivered, Outbox, Sender, enqueue
from syncer.alerts.people import reader_zone
from syncer.alerts.store import alerts, aware, digest_queue, digests, email_queue

Blocks = list[dict[str, Any]]
DIGEST_BATCH = 5
DigestRenderer = Callable[[str, list[dict[str, Any]]], list[tuple[str, Blocks]]]


def send_instant(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of local `at` on `day` (a time skipped by a DST jump maps past the jump)."""
    local = dt.datetime.combine(day, at).replace(tzinfo=zone)
    return local.astimezone(dt.UTC)


def next_send_at(now: dt.datetime, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The next digest instant strictly after `now`, in UTC."""
    day = now.astimezone(zone).date()
    for offset in range(3):
        candidate = send_instant(day + dt.timedelta(days=offset), at, zone)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a day has at most one DST jump")


def due_day(now: dt.datetime, at: dt.time, zone: ZoneInfo) -> dt.date | None:
    """The local date whose digest is due at `now`, or None before today's send time."""
    day = now.astimezone(zone).date()
    return day if now >= send_instant(day, at, zone) else None


class Digests:
    def __init__(self, settings: AlertSettings, engine: sa.Engine, outbox: Outbox, render: DigestRenderer) -> None:
        self.settings = settings
        self.engine = engine
        self.outbox = outbox
        self.render = render

    def recipients(self) -> list[str]:
        with self.engine.connect() as conn:
            query = sa.select(digest_queue.c.recipient).where(digest_queue.c.digest.is_(None)).distinct()
            return sorted(str(r) for r in conn.scalars(query))

    def resolve(self, who: str) -> set[str]:
        """The digest recipients `who` names (`syncer digest --recipient`): a Slack user or channel id, or an
        address, that a digest was ever queued for; an owner's email also names their Slack user id (their
        digest goes to that DM). Empty when no digest was ever queued for it. Emails in lower case."""
        wanted = who.strip()
        with self.engine.connect() as conn:
            slack = set(conn.scalars(sa.select(digest_queue.c.recipient).where(digest_queue.c.recipient == wanted)))
            if "@" in wanted:
                owner = sa.func.lower(alerts.c.owner_email) == wanted.lower()
                ids = sa.select(alerts.c.owner_slack_id).where(owner, alerts.c.owner_slack_id.is_not(None))
                slack |= set(conn.scalars(sa.select(digest_queue.c.recipient).where(digest_queue.c.recipient.in_(ids))))
                queued = sa.select(email_queue.c.address).distinct()
                addresses = {a.strip().lower() for row in conn.scalars(queued) for a in str(row).split(",")}
                if wanted.lower() in addresses:
                    slack.add(wanted.lower())
        return {str(r) for r in slack}

    def known(self) -> list[str]:
        """Every Slack recipient a digest was ever queued for (for "did you mean")."""
        with self.engine.connect() as conn:
            return sorted(str(r) for r in conn.scalars(sa.select(digest_queue.c.recipient).distinct()))

    def queued(
        self, conn: sa.Connection, recipient: str, until: dt.datetime | None = None
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """The open alerts waiting for this recipient's digest (queued at or before `until`, UTC, when
        given: the day's send instant), and the ids of cleared ones."""
        query = (
            sa.select(alerts.c.id, alerts.c.status, alerts.c.payload, alerts.c.value, digest_queue.c.reason)
            .join(digest_queue, digest_queue.c.alert_id == alerts.c.id)
            .where(digest_queue.c.recipient == recipient, digest_queue.c.digest.is_(None))
            .order_by(alerts.c.id)
        )
        if until is not None:
            query = query.where(digest_queue.c.queued_at <= until)
        listed, cleared = [], []
        for row in conn.execute(query):
            if row.status != "open" and row.reason != "deferred":  # a deferred ping is never dropped
                cleared.append(row.id)
                continue
            alert = json.loads(row.payload)
            if row.reason:
                alert["digest_section"] = row.reason  # deferred | backlog: the renderer's sections
            if row.value is not None:
                alert["value"] = row.value  # the latest value seen, not the one at firing
            alert["_id"] = row.id
            listed.append(alert)
        return listed, cleared

    def freeze_due(self, now: dt.datetime, only: Collection[str] | None = None) -> list[tuple[str, str, int]]:
        """Build every digest that is due and not yet built today (of these recipients, when `only` names
        them); returns (recipient, date, parts)."""
        built = []
        at = self.settings.digest.time
        for recipient in self.recipients():
            if only is not None and recipient not in only:
                continue
            with self.engine.begin() as conn:
                zone = reader_zone(conn, self.settings.digest, recipient)
                day = due_day(now, at, zone)
                if day is None:
                    continue
                exists = sa.select(digests.c.recipient).where(
                    digests.c.recipient == recipient, digests.c.local_date == day.isoformat()
                )
                if conn.execute(exists).first() is not None:
                    continue  # today's digest exists; what arrived since waits for tomorrow's
                listed, cleared = self.queued(conn, recipient, send_instant(day, at, zone))
                self._mark(conn, cleared, "dropped:cleared")
                if not listed:
                    continue
                ids = [a.pop("_id") for a in listed]
                parts = self.render(recipient, listed)
                conn.execute(
                    digests.insert().values(
                        recipient=recipient,
                        local_date=day.isoformat(),
                        parts=len(parts),
                        alerts=len(listed),
                        frozen_at=now,
                    )
                )
                for n, (text, blocks) in enumerate(parts, 1):
                    key = f"digest:{recipient}:{day.isoformat()}:{n}"
                    payload = {"channel": recipient, "text": text, "blocks": blocks}
                    enqueue(conn, key, "digest", None, recipient, payload, now, seq=n)
                self._mark(conn, ids, f"{recipient}:{day.isoformat()}")
                built.append((recipient, day.isoformat(), len(parts)))
        return built

    @staticmethod
    def _mark(conn: sa.Connection, ids: list[int], digest: str) -> None:
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            conn.execute(digest_queue.update().where(digest_queue.c.alert_id.in_(part)).values(digest=digest))

    def send(self, slack: Sender, now: dt.datetime, only: Collection[str] | None = None) -> Delivered:
        # state is written every DIGEST_BATCH parts: a crash re-checks at most that many in history
        return self.outbox.deliver_slack(slack, ["digest"], now, "digest_after_post", DIGEST_BATCH, only)

    def last_sent(self, now: dt.datetime, recipient: str | None = None) -> dict[str, Any]:
        """Why a preview can be empty: the latest digests built (`frozen_at` UTC, `recipients`, `messages`,
        `alerts`; None when none was ever built) and the next send instant (`next_at`) in the recipient's
        zone, else the default one (`zone`). Reads the `alert_digests` and `alerts` tables only."""
        with self.engine.connect() as conn:
            latest = conn.execute(sa.select(sa.func.max(digests.c.frozen_at))).scalar()
            row = None
            if latest is not None:
                since = latest - dt.timedelta(hours=12)  # one send round: every recipient's digest of that morning
                row = conn.execute(
                    sa.select(sa.func.count(), sa.func.sum(digests.c.parts), sa.func.sum(digests.c.alerts)).where(
                        digests.c.frozen_at > since
                    )
                ).one()
            cfg = self.settings.digest
            zone = reader_zone(conn, cfg, recipient) if recipient else ZoneInfo(cfg.timezone)
        return {
            "frozen_at": aware(latest),
            "recipients": int(row[0]) if row else 0,
            "messages": int(row[1] or 0) if row else 0,
            "alerts": int(row[2] or 0) if row else 0,
            "next_at": next_send_at(now, cfg.time, zone),
            "zone": zone,
        }

    def preview(self, recipient: str | None = None) -> dict[str, list[tuple[str, Blocks]]]:
        """Render what the next digest of each recipient (or one) would hold; writes nothing."""
        out: dict[str, list[tuple[str, Blocks]]] = {}
        with self.engine.connect() as conn:
            for who in sorted(self.resolve(recipient)) if recipient else self.recipients():
                listed, _ = self.queued(conn, who)
                for alert in listed:
                    alert.pop("_id", None)
                out[who] = self.render(who, listed) if listed else []
        return out
