"""Event-to-action latency: each alert's action times, the histogram, and p50/p95/max per lane.

    event   alerts.signal_at: the current-state row's update time (intraday), the model's signal_at, else the
            evaluation that opened the alert
    action  pinged_at / emailed_at / task_created_at: the outbox's delivery time of the ping / alert email / CRM
            task; action_at: every action of the alert's tier done (syncer.alerts.sla), the latest of them
    latency action_at - signal_at, in seconds; observed once per alert into
            syncer_event_to_action_seconds{lane, trigger} when `record_actions` first sees it complete

`record_actions` runs after every delivery of the alerts and intraday jobs; it reads only alerts opened in
the last LOOKBACK whose action_at is still empty.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

import sqlalchemy as sa

from syncer.alerts.sla import sla_of
from syncer.alerts.store import alerts, aware, outbox

LOOKBACK = dt.timedelta(days=7)
KIND_COLUMN = {"ping": "pinged_at", "email": "emailed_at", "task": "task_created_at"}


def record_actions(engine: sa.Engine, now: dt.datetime, histogram: Any = None) -> int:
    """Copy delivery times onto alerts still waiting for their action; alerts whose tier actions are all done get
    action_at and are observed into `histogram` (labels lane, trigger). Returns how many completed."""
    query = sa.select(alerts).where(
        alerts.c.action_at.is_(None),
        alerts.c.actions.is_not(None),
        alerts.c.actions != "[]",
        alerts.c.opened_at >= now - LOOKBACK,
    )
    completed = 0
    with engine.begin() as conn:
        rows = list(conn.execute(query))
        for start in range(0, len(rows), 900):
            part = rows[start : start + 900]
            times = _delivery_times(conn, [r.id for r in part])
            for row, sla in zip(part, sla_of(conn, part).values(), strict=True):
                values: dict[str, Any] = {c: t for c, t in times.get(row.id, {}).items() if getattr(row, c) is None}
                if sla.action_at is not None:
                    values["action_at"] = sla.action_at
                    completed += 1
                    if histogram is not None and sla.seconds_to_action is not None:
                        lane = row.lane or "daily"
                        histogram.labels(lane, row.trigger).observe(max(0.0, sla.seconds_to_action))
                if values:
                    conn.execute(alerts.update().where(alerts.c.id == row.id).values(**values))
    return completed


def _delivery_times(conn: sa.Connection, ids: list[int]) -> dict[int, dict[str, dt.datetime]]:
    """alert id -> {pinged_at | emailed_at | task_created_at: first delivery time}."""
    found: dict[int, dict[str, dt.datetime]] = {}
    query = sa.select(outbox.c.alert_id, outbox.c.kind, sa.func.min(outbox.c.delivered_at)).where(
        outbox.c.alert_id.in_(ids), outbox.c.status == "delivered", outbox.c.kind.in_(sorted(KIND_COLUMN))
    )
    for alert_id, kind, at in conn.execute(query.group_by(outbox.c.alert_id, outbox.c.kind)):
        when = aware(at) if not isinstance(at, str) else aware(dt.datetime.fromisoformat(at))
        if when is not None:
            found.setdefault(int(alert_id), {})[KIND_COLUMN[str(kind)]] = when
    return found


def lane_latency(engine: sa.Engine, since: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
    """Per lane: alerts with every action done, p50 / p95 / max seconds from event to action (since = action_at)."""
    query = sa.select(alerts.c.lane, alerts.c.signal_at, alerts.c.opened_at, alerts.c.action_at).where(
        alerts.c.action_at.is_not(None)
    )
    if since is not None:
        query = query.where(alerts.c.action_at >= since)
    seconds: dict[str, list[float]] = {}
    with engine.connect() as conn:
        for lane, signal, opened, action in conn.execute(query):
            start, end = aware(signal) or aware(opened), aware(action)
            if start is not None and end is not None:
                seconds.setdefault(lane or "daily", []).append(max(0.0, (end - start).total_seconds()))
    return {lane: summary(values) for lane, values in sorted(seconds.items())}


def summary(values: list[float]) -> dict[str, Any]:
    """alerts, p50_seconds, p95_seconds, max_seconds (inclusive quantiles; one value is every quantile)."""
    ordered = sorted(values)
    return {
        "alerts": len(ordered),
        "p50_seconds": round(quantile(ordered, 0.50), 1),
        "p95_seconds": round(quantile(ordered, 0.95), 1),
        "max_seconds": round(ordered[-1], 1),
    }


def quantile(ordered: list[float], q: float) -> float:
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q * 100) - 1]
