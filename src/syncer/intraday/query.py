"""The intraday lane's one warehouse query, and a meter of warehouse queries.

    SELECT account_id, owner_email, <updated_at>,
           CAST((<value>) AS DOUBLE) AS v_<i>, CASE WHEN <condition> THEN 1 ELSE 0 END AS f_<i>, <context> AS c_<i>
    FROM <schema>.<table> WHERE <updated_at> > :watermark          -- no watermark yet: every row

One statement per evaluation, whatever the number of triggers; it reads only rows changed since the
watermark (an index on the update-time column keeps a quiet evaluation to an index probe). Each row
becomes one fired-trigger row per intraday trigger in the shape of `fired_triggers` (docs/scoring.md),
with `signal_at` = the row's update time: the event that caused the alert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from syncer.intraday.settings import IntradaySettings
from syncer.scoring.dialect import as_double
from syncer.scoring.scores import _condition, _context
from syncer.scoring.triggers import TriggerDef


def lane_select(settings: IntradaySettings, triggers: Sequence[TriggerDef], since: bool) -> sa.Select[Any]:
    """The current-state SELECT; `since`: filter on `updated_at > :watermark` (a bound datetime)."""
    updated = sa.column(settings.updated_at, sa.DateTime())
    columns: list[Any] = [sa.literal_column("account_id"), sa.literal_column("owner_email"), updated.label("_updated")]
    for i, t in enumerate(triggers):
        columns.append(as_double(sa.literal_column(f"({t.value})")).label(f"v_{i}"))
        fired = sa.case((sa.literal_column(_condition(t), sa.Boolean()), 1), else_=0)
        columns += [fired.label(f"f_{i}"), _context(t).label(f"c_{i}")]
    query = sa.select(*columns).select_from(sa.table(settings.table, updated, schema=settings.schema_))
    if since:
        query = query.where(updated > sa.bindparam("watermark", type_=sa.DateTime()))
    return query


def utc(value: Any) -> dt.datetime | None:
    """A warehouse timestamp (naive = UTC, or an ISO string) as an aware UTC datetime."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def fired_rows(row: sa.Row[Any], triggers: Sequence[TriggerDef]) -> Iterator[dict[str, Any]]:
    """One `fired_triggers`-shaped dict per intraday trigger of this account (`fired` 1/0, `signal_at`)."""
    data = row._mapping
    signal = utc(data["_updated"])
    for i, t in enumerate(triggers):
        yield {
            "account_id": data["account_id"],
            "trigger": t.name,
            "priority": t.priority,
            "value": data[f"v_{i}"],
            "threshold": t.threshold,
            "window_days": t.window_days,
            "confidence": t.confidence,
            "expected_conversion": t.expected_conversion or "",
            "owner_email": data["owner_email"],
            "context": data[f"c_{i}"],
            "fired": bool(data[f"f_{i}"]),
            "signal_at": signal.isoformat() if signal is not None else None,
        }


@dataclass
class WarehouseMeter:
    """Statements sent to a warehouse engine while attached (SQLAlchemy `before_cursor_execute`)."""

    queries: int = 0

    def _count(self, *_args: Any) -> None:
        self.queries += 1

    @contextmanager
    def attach(self, engine: sa.Engine) -> Iterator[WarehouseMeter]:
        sa.event.listen(engine, "before_cursor_execute", self._count)
        try:
            yield self
        finally:
            sa.event.remove(engine, "before_cursor_execute", self._count)
