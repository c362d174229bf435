"""SLA tracking: time from signal to action for every alert, and a per-tier report.

    signal  = the row's `signal_at` when the model has one, else the evaluation that opened the alert
    action  = every action of the alert's tier acknowledged (alerts.actions):
              notify   first of its Slack ping / alert email delivered
              task     the owner's CRM task created          sdr_task  the SDR queue's task created
              webhook  the in-app / SDR webhook acknowledged
    time to action = the latest of those delivery times - signal; within SLA when <= sla_hours

An action that was rejected (or given up) never completes: the alert counts as failed, with the
reason. Alerts without actions (digest-only) have no SLA and are left out.

Hours (p50 / p90 / max) are over every alert whose SLA is decided, an alert that never got its action
(breached or failed) ranking as "never", longer than any: a median over the acted-on alerts alone would
read 1.3 h while 678 of 679 were never worked. A quantile that lands on a never is None in `--json`
("never" in the tables); pending alerts (not done, not yet due) count neither way.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from syncer.alerts.actions import ACTION_OF_KIND
from syncer.alerts.store import alerts, aware, outbox

FAILED = ("rejected", "gave_up")


STATES = ("met", "missed", "failed", "breached", "pending")
NEVER = ("failed", "breached")  # decided without an action: its time to action is "never" (longer than any)
TASK_STATES = ("pending", "open", "completed")  # an alert with a CRM task (digest alerts have none)
TASK_REJECTED = "rejected"  # its CRM task was refused: sent for work that never can be done (failed)


def sla_state(start: dt.datetime, done_at: dt.datetime | None, sla_hours: float, now: dt.datetime,
              *, failed: bool = False) -> str:  # fmt: skip
    """The one SLA rule, for delivery (`alerts sla`) and for rep work (`report`, its `--json` and the dashboard).

    met: done by start + sla_hours; missed: done later; failed: never will be (the action was rejected);
    breached: not done and past due; pending: not done, not yet due (counts neither way).
    """
    due = start + dt.timedelta(hours=sla_hours)
    if done_at is not None:
        return "met" if done_at <= due else "missed"
    if failed:
        return "failed"
    return "breached" if now > due else "pending"


def worked_state(
    opened_at: dt.datetime, worked_at: dt.datetime | None, task_state: str | None, sla_hours: float | None,
    now: dt.datetime,
) -> str | None:  # fmt: skip
    """Rep-work SLA of one alert: its CRM task completed (`worked_at`) within `sla_hours` of firing.
    A task the CRM rejected is `failed` (the alert was meant to be worked and never can be), not left out.
    None when the alert has no CRM task or no SLA (docs/outcomes.md "Worked within SLA")."""
    if sla_hours is None or (task_state not in TASK_STATES and task_state != TASK_REJECTED):
        return None
    return sla_state(opened_at, worked_at, sla_hours, now, failed=task_state == TASK_REJECTED)


def summarize(items: Iterable[tuple[str | None, float | None]]) -> dict[str, Any]:
    """(state, hours to action) per alert -> {alerts, met, missed, failed, breached, pending, due, within_sla,
    share, p50_hours, p90_hours, max_hours}. `due` = alerts whose SLA is decided (all but pending);
    `share` = met / due (None when nothing is due). Hours are over the due alerts, a failed or breached one
    counting as never (module docstring): a quantile that falls on a never is None, as is every quantile
    when nothing is due; so `due > 0` with `p50_hours` None means more than half were never acted on.
    States None are skipped."""
    out: dict[str, Any] = {"alerts": 0, **dict.fromkeys(STATES, 0)}
    hours: list[float] = []
    for state, h in items:
        if state is None:
            continue
        out["alerts"] += 1
        out[state] += 1
        if h is not None:
            hours.append(h)
        elif state in NEVER:
            hours.append(math.inf)
    hours.sort()
    out["due"] = out["alerts"] - out["pending"]
    out["within_sla"] = out["met"]
    out["share"] = round(out["met"] / out["due"], 4) if out["due"] else None
    out["p50_hours"] = _finite(_quantile(hours, 0.5)) if hours else None
    out["p90_hours"] = _finite(_quantile(hours, 0.9)) if hours else None
    out["max_hours"] = _finite(hours[-1]) if hours else None
    return out


def _finite(hours: float) -> float | None:
    """Hours rounded as the reports show them; None for never (math.inf)."""
    return None if math.isinf(hours) else round(hours, 3)


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
        """met | missed | pending | breached | failed | none (see `sla_state`)."""
        if not self.actions or self.sla_hours is None:
            return "none"
        failed = any(v.startswith(FAILED) for v in self.actions.values())
        return sla_state(self.signal_at, self.action_at, self.sla_hours, now, failed=failed)

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
    """Per tier: alerts with actions and their delivery SLA (`summarize`: met / missed / failed / breached /
    pending, which add up to `alerts`, and p50 / p90 / max hours from signal to the actions acknowledged).
    `since` limits it to alerts opened from then on (default: all)."""
    items: dict[str, list[tuple[str | None, float | None]]] = {}
    hours_of: dict[str, float | None] = {}
    query = sa.select(alerts).where(alerts.c.actions.is_not(None), alerts.c.actions != "[]").order_by(alerts.c.id)
    if since is not None:
        query = query.where(alerts.c.opened_at >= since)
    with engine.connect() as conn:
        rows = list(conn.execute(query))
        for start in range(0, len(rows), 900):
            for sla in sla_of(conn, rows[start : start + 900]).values():
                tier = sla.tier or "none"
                hours_of.setdefault(tier, sla.sla_hours)
                seconds = sla.seconds_to_action
                state = sla.state(now)
                items.setdefault(tier, []).append(
                    (None if state == "none" else state, None if seconds is None else seconds / 3600)
                )
    return {tier: {"sla_hours": hours_of[tier], **summarize(items[tier])} for tier in sorted(items)}


def worked_report(
    engine: sa.Engine, now: dt.datetime, sla_hours: dict[str, float], since: dt.datetime | None = None
) -> dict[str, dict[str, Any]]:
    """Per priority: alerts sent with a CRM task and their rep-work SLA (`worked_state`, `summarize`), as the
    outcome report counts it (held-out alerts excluded: nobody got them). Hours: fired -> task completed."""
    query = sa.select(alerts.c.priority, alerts.c.opened_at, alerts.c.worked_at, alerts.c.task_state).where(
        alerts.c.delivery != "holdout"
    )
    if since is not None:
        query = query.where(alerts.c.opened_at >= since)
    items: dict[str, list[tuple[str | None, float | None]]] = {}
    with engine.connect() as conn:
        for r in conn.execute(query):
            opened, worked = aware(r.opened_at), aware(r.worked_at)
            assert opened is not None
            hours = None if worked is None else max(0.0, (worked - opened).total_seconds() / 3600)
            state = worked_state(opened, worked, r.task_state, sla_hours.get(r.priority), now)
            items.setdefault(r.priority, []).append((state, hours))
    return by_priority(items, sla_hours)


def by_priority(
    items: dict[str, list[tuple[str | None, float | None]]], sla_hours: dict[str, float]
) -> dict[str, dict[str, Any]]:
    """Priority -> {"sla_hours", **summarize(...)}, priorities with an SLA'd alert only, high first."""
    rank = {"high": 0, "medium": 1, "low": 2}
    out = {}
    for priority in sorted(items, key=lambda p: (rank.get(p, 3), p)):
        summary = summarize(items[priority])
        if summary["alerts"]:
            out[priority] = {"sla_hours": sla_hours.get(priority), **summary}
    return out


def _quantile(values: list[float], q: float) -> float:
    """The q-quantile of sorted `values` by linear interpolation between closest ranks (numpy's default and
    `statistics.quantiles(method="inclusive")`; q = 0.5 is the median); math.inf when it touches a never."""
    position = q * (len(values) - 1)
    low = int(position)
    fraction = position - low
    if fraction == 0 or math.isinf(values[low + 1]):
        return values[low] if fraction == 0 else math.inf
    return values[low] + (values[low + 1] - values[low]) * fraction
