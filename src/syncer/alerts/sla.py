"""SLA tracking: time from signal to action for every alert, and a per-tier report.

    signal  = the row's `signal_at` when the model has one, else the evaluation that opened the alert
    action  = every action of the alert's tier acknowledged (alerts.actions):
              notify   first of its Slack ping / alert email delivered
              task     the owner's CRM task created          sdr_task  the SDR queue's task created
              webhook  the in-app / SDR webhook acknowledged
    time to action = the latest of those delivery times - signal; within SLA when <= sla_hours

An action that was rejected (or given up) never completes: the alert counts as breached once its
SLA has passed, with the reason. Alerts without actions (digest-only) have no SLA and are left out.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from syncer.alerts.actions import ACTION_OF_KIND
from syncer.alerts.store import alerts, aware, outbox

FAILED = ("rejected", "gave_up")


@dataclass
class AlertSla:
    """Where one alert stands against its tier's SLA."""

    tier: str | None
    sla_hours: float | None
    signal_at: dt.datetime
    actions: dict[str, str] = field(default_factory=dict)  # action -> "delivered" | "pending" | "rejected: ..."
    action_at: dt.datetime | None = None

    @property
    def seconds_to_action(self) -> float | None:
        return (self.action_at - self.signal_at).total_seconds() if self.action_at is not None else None

    def state(self, now: dt.datetime) -> str:
        """met | missed | pending | breached | failed | none."""
        if not self.actions or self.sla_hours is None:
            return "none"
        due = self.signal_at + dt.timedelta(hours=self.sla_hours)
        if self.action_at is not None:
            return "met" if self.action_at <= due else "missed"
        if any(v.startswith(FAILED) for v in self.actions.values()):
            return "failed"
        return "breached" if now > due else "pending"

    def as_dict(self, now: dt.datetime) -> dict[str, Any]:
        seconds = self.seconds_to_action
        return {
            "tier": self.tier,
            "sla_hours": self.sla_hours,
            "signal_at": self.signal_at.isoformat(timespec="seconds"),
            "actions": dict(self.actions),
            "action_at": self.action_at.isoformat(timespec="seconds") if self.action_at else None,
            "time_to_action_hours": round(seconds / 3600, 2) if seconds is not None else None,
            "sla": self.state(now),
        }


def alert_sla(alert: sa.Row[Any], boxes: Iterable[sa.Row[Any]]) -> AlertSla:
    """One alert's SLA from its row and its outbox rows."""
    signal = aware(alert.signal_at) or aware(alert.opened_at)
    assert signal is not None
    wanted: list[str] = json.loads(alert.actions) if alert.actions else []
    sla = AlertSla(alert.tier, alert.sla_hours, signal, {name: "pending" for name in wanted})
    done: dict[str, dt.datetime] = {}
    for box in boxes:
        name = ACTION_OF_KIND.get(str(box.kind))
        if name not in sla.actions:
            continue
        delivered = aware(box.delivered_at)
        if box.status == "delivered" and delivered is not None:
            done[name] = min(done.get(name, delivered), delivered)  # notify: the first channel that got it
            sla.actions[name] = "delivered"
        elif box.status in (*FAILED, "in_doubt") and name not in done:
            sla.actions[name] = f"{box.status}: {box.reason}"
    if wanted and all(name in done for name in wanted):
        sla.action_at = max(done.values())
    return sla


def sla_of(conn: sa.Connection, rows: Sequence[sa.Row[Any]]) -> dict[int, AlertSla]:
    """SLA state of these alert rows (outbox read per chunk of 900 ids)."""
    ids = [r.id for r in rows]
    boxes: dict[int, list[sa.Row[Any]]] = {}
    for start in range(0, len(ids), 900):
        query = sa.select(outbox).where(outbox.c.alert_id.in_(ids[start : start + 900]))
        for box in conn.execute(query):
            boxes.setdefault(box.alert_id, []).append(box)
    return {r.id: alert_sla(r, boxes.get(r.id, [])) for r in rows}


def sla_report(engine: sa.Engine, now: dt.datetime, since: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
    """Per tier: alerts with actions, how many met / missed / failed / breached / pending, p50 and p90
    (and max) hours from signal to action. `since` limits it to alerts opened from then on (default: all)."""
    report: dict[str, dict[str, Any]] = {}
    times: dict[str, list[float]] = {}
    query = sa.select(alerts).where(alerts.c.actions.is_not(None), alerts.c.actions != "[]").order_by(alerts.c.id)
    if since is not None:
        query = query.where(alerts.c.opened_at >= since)
    with engine.connect() as conn:
        rows = list(conn.execute(query))
        for start in range(0, len(rows), 900):
            for sla in sla_of(conn, rows[start : start + 900]).values():
                tier = sla.tier or "none"
                entry = report.setdefault(
                    tier,
                    {
                        "sla_hours": sla.sla_hours,
                        "alerts": 0,
                        "met": 0,
                        "missed": 0,
                        "failed": 0,
                        "breached": 0,
                        "pending": 0,
                    },
                )
                entry["alerts"] += 1
                state = sla.state(now)
                if state in entry:
                    entry[state] += 1
                if sla.seconds_to_action is not None:
                    times.setdefault(tier, []).append(sla.seconds_to_action / 3600)
    for tier, entry in report.items():
        hours = sorted(times.get(tier, []))
        entry["within_sla"] = entry["met"]
        entry["p50_hours"] = round(_quantile(hours, 0.5), 3) if hours else None
        entry["p90_hours"] = round(_quantile(hours, 0.9), 3) if hours else None
        entry["max_hours"] = round(hours[-1], 3) if hours else None
    return dict(sorted(report.items()))


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]
