"""The intraday lane's watermark in the state DB (table `intraday_watermarks`, migration 0009).

    lane          "intraday"
    watermark     the latest update time (UTC) of the current-state rows already evaluated
    evaluated_at  when the evaluation that set it ran
    accounts      accounts that evaluation looked at

The job writes it only after the evaluation's alerts and outbox rows are committed, so a crash in
between re-reads those rows next time: the lifecycle sees them as still firing and sends nothing twice.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from syncer.alerts.store import TS, aware, metadata

watermarks = sa.Table(
    "intraday_watermarks",
    metadata,
    sa.Column("lane", sa.String(50), primary_key=True),
    sa.Column("watermark", TS),
    sa.Column("evaluated_at", TS),
    sa.Column("accounts", sa.Integer),
)


def read_watermark(engine: sa.Engine, lane: str) -> dt.datetime | None:
    with engine.connect() as conn:
        value = conn.scalar(sa.select(watermarks.c.watermark).where(watermarks.c.lane == lane))
    return aware(value)


def advance_watermark(engine: sa.Engine, lane: str, watermark: dt.datetime, now: dt.datetime, accounts: int) -> None:
    """Move the lane's watermark forward (never back: a replica's older evaluation does not rewind it)."""
    values = {"watermark": watermark, "evaluated_at": now, "accounts": accounts}
    with engine.begin() as conn:
        current = aware(conn.scalar(sa.select(watermarks.c.watermark).where(watermarks.c.lane == lane)))
        if current is None and not conn.scalar(sa.select(sa.func.count()).where(watermarks.c.lane == lane)):
            conn.execute(watermarks.insert().values(lane=lane, **values))
        elif current is None or watermark > current:
            conn.execute(watermarks.update().where(watermarks.c.lane == lane).values(**values))
