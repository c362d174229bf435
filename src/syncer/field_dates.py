"""Dates, timestamps and time zones of a mapped field (syncer.mapping's `cast`, `tz` and `format`).

The order, for a field with `tz`: the value is converted to the zone first, then cast, rounded, formatted
and cased. So the zone the user named decides the day (`cast = "date"` on 2024-03-09T21:00Z in
Asia/Kolkata is 2024-03-10, as `format = "%Y-%m-%d"` is), and `format` writes the wall clock of that zone.

Value kinds (what a warehouse hands over):
    zoned timestamp (TIMESTAMPTZ)   converted to the zone
    naive timestamp (TIMESTAMP)     taken as UTC, then converted
    date (DATE)                     kept: a day has no instant, no zone moves it
    text (SQLite stores all three   read as ISO 8601: `YYYY-MM-DD` is a date, anything longer a timestamp
      as text; templates give text)   (with an offset: zoned; without: naive, so UTC); other text rejects the row
    number, boolean                 rejects the row: no zone or date format applies to it

`conflicts` finds the option combinations where an option could never apply (e.g. `tz` with `cast = "int"`):
they are configuration errors, not a silent no-op.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

NOT_TIME = ("str", "int", "float", "bool")  # casts whose result no zone or date format applies to


def parse_when(text: str) -> dt.date:
    """ISO 8601 text as a date (`YYYY-MM-DD`) or a datetime (aware when it has an offset; `Z` is UTC).
    Raises ValueError naming the text."""
    stripped = text.strip()
    try:
        if len(stripped) == 10:
            return dt.date.fromisoformat(stripped)
        return dt.datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or timestamp: {text!r}") from None


def in_zone(value: Any, zone: str) -> Any:
    """`value` as the wall clock in `zone` (an IANA name): a timestamp converted (naive = UTC), a date
    kept, ISO text read first. Raises ValueError for any other value (a number, a boolean)."""
    if isinstance(value, str):
        value = parse_when(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(ZoneInfo(zone))
    if isinstance(value, dt.date):
        return value
    raise ValueError(f"tz {zone!r} applies to a date or timestamp, not {type(value).__name__} {value!r}")


def as_utc(value: dt.date) -> dt.date:
    """A zoned datetime as the same instant in UTC; a naive one or a date as it is."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return value


def to_date(value: Any) -> dt.date:
    """`cast = "date"`: the day of a timestamp as it stands (in `tz` when the field has one, else UTC);
    text is read as ISO 8601 (a zoned text's day is its UTC day)."""
    if isinstance(value, str):
        try:
            value = as_utc(parse_when(value))
        except ValueError:
            value = dt.date.fromisoformat(value[:10])  # e.g. nanosecond digits fromisoformat refuses
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def to_datetime(value: Any, zone: str | None) -> dt.datetime:
    """`cast = "datetime"`: a date is its midnight, in `zone` when given (the day is kept), else naive."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(zone) if zone else None)
    return dt.datetime.fromisoformat(str(value))


def formatted(value: Any, fmt: str | None, typed: bool) -> Any:
    """The date-format step: a date or timestamp as `fmt` (strftime) or ISO 8601 text; `typed` without
    `fmt` keeps a timestamp for the conversion table. Text is read as ISO 8601 first (a zoned one in
    UTC). Raises ValueError for any other value."""
    if isinstance(value, str):
        value = as_utc(parse_when(value))
    if isinstance(value, dt.datetime):
        if typed and not fmt:
            return value
        return value.strftime(fmt) if fmt else value.isoformat()
    if isinstance(value, dt.date):
        return value.strftime(fmt) if fmt else value.isoformat()
    raise ValueError(f"cannot apply date format to {type(value).__name__} {value!r}")


def conflicts(cast: str | None, places: int | None, fmt: str | None, zone: str | None) -> list[str]:
    """Why this combination of field options has an option that could never apply (empty: none).
    Each reason names the option and the fix."""
    reasons = []
    for key, given in (("tz", zone), ("format", fmt)):
        if given is None:
            continue
        if cast in NOT_TIME and not (key == "format" and cast == "str"):  # text is read as ISO 8601 again
            reasons.append(
                f"`{key}` never applies: cast = {cast!r} makes a {_made(cast)}, not a date or timestamp; remove "
                f'`{key}`, or use cast = "date" / "datetime" (or no cast)'
            )
        if places is not None:
            reasons.append(
                f"`{key}` never applies: `round` makes a number, not a date or timestamp; remove `{key}` or `round`"
            )
    if places is not None and cast in ("date", "datetime"):
        reasons.append(f"`round` never applies: cast = {cast!r} makes a {cast}, not a number; remove `round`")
    return reasons


def _made(cast: str) -> str:
    return {"str": "text", "int": "number", "float": "number", "bool": "boolean"}[cast]
