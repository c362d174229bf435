"""One column type for every instant syncer stores: UTC in, UTC out, on every database.

SQLAlchemy's `DateTime` hands a zone-aware value to the driver as it is. SQLite has no
timestamp type: the pysqlite dialect writes the value's wall-clock reading and drops the zone
(SQLAlchemy docs, "SQLite > Date and Time Types": "does not store timezone information"), so
09:00 in New York came back as 09:00 UTC, five hours off. PostgreSQL `timestamp without time
zone` likewise keeps only the wall clock. `UtcDateTime` converts every aware value to UTC before
it is bound, takes a naive value as UTC already (syncer's convention), and returns aware UTC
datetimes for `timezone=True` columns (naive UTC for `timezone=False` ones).

The DDL is the wrapped `DateTime`'s, so existing tables and migrations are unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa


def to_utc(value: dt.datetime) -> dt.datetime:
    """`value` as an aware UTC datetime; a naive one is taken to be UTC already."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """`sa.DateTime(timezone=...)` that stores the instant in UTC and reads it back aware in UTC.

    Bind: aware -> converted to UTC (zone dropped for `timezone=False` columns and for SQLite,
    which cannot keep it); naive -> taken as UTC. Result: an aware UTC datetime for `timezone=True`
    columns, a naive UTC one for `timezone=False` columns (each column's existing contract), or None.
    """

    impl = sa.DateTime
    cache_ok = True

    def __init__(self, timezone: bool = True) -> None:
        super().__init__(timezone=timezone)
        self.timezone = timezone

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if not isinstance(value, dt.datetime):
            return value
        utc = to_utc(value)
        return utc if self.timezone and dialect.name != "sqlite" else utc.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite read through a plain text() query's column
            value = dt.datetime.fromisoformat(value)
        utc = to_utc(value)
        return utc if self.timezone else utc.replace(tzinfo=None)
