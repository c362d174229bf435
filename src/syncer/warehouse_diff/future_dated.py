"""A model row whose `updated_at` lies in the future must not park the watermark there.

The watermark is the highest `updated_at` a run read; the next window reads rows at or after it
minus `updated_at_lookback`. One row dated next year (a typo, a test row, a client clock) would put
the window's start next year: every real change made before then falls outside it until the next
full diff. So the watermark stored is never later than the run's start (`Window.record` clamps it
with `at_most`), and the row itself stays in every window (re-read, found unchanged, not re-sent).
When the value is more than the lookback ahead, a warning names the sync, the column and how far
(plan, run and `syncer check`); less than that is clock skew between the warehouse and syncer.

Compared as the warehouse gives the value: a zone-aware timestamp exactly; a naive TIMESTAMP as UTC
(a warehouse writing local time ahead of UTC only widens the window: nothing is missed); a DATE
with today's UTC date.
"""

from __future__ import annotations

import datetime as dt

from syncer.config import format_duration

Stamp = dt.datetime | dt.date


def ahead(value: Stamp, now: dt.datetime) -> dt.timedelta:
    """How far `value` lies after `now` (zone-aware UTC); zero or less when it does not."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value - now.astimezone(dt.UTC).replace(tzinfo=None)
        return value - now
    return dt.timedelta(days=(value - now.astimezone(dt.UTC).date()).days)


def at_most(value: Stamp, now: dt.datetime) -> Stamp:
    """`value`, or `now` in its type (naive UTC, its own zone, or a date) when `value` is later."""
    if ahead(value, now) <= dt.timedelta(0):
        return value
    if isinstance(value, dt.datetime):
        return now.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo is None else now.astimezone(value.tzinfo)
    return now.astimezone(dt.UTC).date()


def warning(sync: str, column: str, value: Stamp, distance: dt.timedelta) -> str:
    """The warning for a `value` of `column` `distance` ahead of now."""
    return (
        f"sync {sync}: model.updated_at: column {column!r} holds a value {words(distance)} in the future "
        f"({value.isoformat()}; a TIMESTAMP without a zone is read as UTC): the watermark is held at now so later "
        "changes stay in the window, and the row is read again on every run; fix that row's updated_at"
    )


def words(distance: dt.timedelta) -> str:
    """`distance` to the minute, days first: 3 days 2 h -> "3d2h", 90 s -> "1m"."""
    minutes = int(distance.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    tail = format_duration(dt.timedelta(minutes=rest)) if rest else ""
    return f"{days}d{tail}" if days else tail or "under 1m"
