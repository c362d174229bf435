"""Canary roll-out of a trigger change: the new definition on a share of accounts, beside the current one.

Seed 003: "canary deployments on 10% traffic", "rollback criteria include metric failure ...
automate rollbacks where possible". A trigger in `[[scoring.triggers]]` with a `canary = { threshold =
0.7 }` table is computed twice in the warehouse (fired rows carry `variant` "" or "canary"). The
alert engine keeps, per account, one of the two - sha256("canary:<trigger>:<account>") < share picks
the canary - and marks the canary's alerts (`alerts.canary = "canary"`). The decision lives in state
(`alert_canaries`): running -> promoted (the new definition for every account, until the config is
edited to it) or rolled_back (the current one for every account).

After every evaluation `check` compares the two groups over the canary window (defaults from
`[alerts.canary]`) and rolls back on its own, raising an ops alert, when the canary at full roll-out
would ping a rep more than the budget per day, or its worked-within-SLA rate drops by more than
`max_worked_drop` (20%) relative to the current definition's.

"Worked within SLA" is the one rule of `syncer report`, `alerts sla` and the dashboard (alerts/sla.py
`worked_state`, `summarize`): alerts sent with a CRM task (pending, open or completed; held-out alerts were
never sent), their task completed within the priority's `[outcomes] sla_hours` of firing; the rate is met
over those whose SLA is decided (met / missed / breached), so alerts not yet due count neither way.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from syncer.alerts.holdout import unit_hash
from syncer.alerts.sla import summarize, worked_state
from syncer.alerts.store import alerts as alerts_table
from syncer.alerts.store import aware, canaries

if TYPE_CHECKING:
    from syncer.alerts.model import AlertSettings

CANARY = "canary"


class CanaryConfig(BaseModel):
    """`[alerts.canary]`: the share a changed trigger runs on and when it is rolled back automatically."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    share: float = Field(default=0.10, gt=0, lt=1)
    """Share of accounts on which a trigger's `canary` definition replaces the current one (seed 003: 10%)."""
    window_days: float = Field(default=14.0, gt=0)
    """The comparison looks at alerts opened this many days back."""
    min_alerts: int = Field(default=10, ge=1)
    """Canary alerts whose worked-within-SLA is decided (met, missed or breached) before the automatic rollback judges
    the worked rate."""
    max_worked_drop: float = Field(default=0.20, gt=0, le=1)
    """Roll back when the canary's worked-within-SLA rate is this much (relative) below the current one's."""
    auto_rollback: bool = True
    """Roll back on its own (and raise an ops alert) when a criterion is met; false: only report."""


def in_canary(share: float, trigger: str, account_id: str) -> bool:
    return unit_hash(CANARY, trigger, account_id) < share


def statuses(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.trigger: r.status for r in conn.execute(sa.select(canaries.c.trigger, canaries.c.status))}


def keep_row(row: dict[str, Any], status: dict[str, str], canaried: set[str], share: float) -> bool:
    """Whether a fired row counts for its account: one variant per (account, trigger)."""
    trigger, variant = str(row["trigger"]), str(row.get("variant") or "")
    if trigger not in canaried:
        return variant != CANARY
    state = status.get(trigger, "running")
    use_canary = state == "promoted" or (state == "running" and in_canary(share, trigger, str(row["account_id"])))
    return (variant == CANARY) == use_canary


def decide(engine: sa.Engine, trigger: str, status: str, reason: str, now: dt.datetime) -> None:
    """Record promoted / rolled_back (or running) for a trigger's canary."""
    with engine.begin() as conn:
        conn.execute(canaries.delete().where(canaries.c.trigger == trigger))
        conn.execute(canaries.insert(), {"trigger": trigger, "status": status, "reason": reason, "decided_at": now})


@dataclass
class Group:
    fired: int = 0
    with_task: int = 0  # sent with a CRM task (the shared rule's alerts: alerts/sla.py worked_state)
    worked_in_sla: int = 0  # of those, task completed within the SLA (met)
    sla_due: int = 0  # of those, SLA decided (met, missed, breached): the rate's denominator
    pings_per_rep_day: float = 0.0
    converted: int | None = None  # expanded within the window after the alert (when expansions are given)

    @property
    def worked_rate(self) -> float | None:
        """met / due, as `syncer report` counts it; None while no alert's SLA is decided."""
        return self.worked_in_sla / self.sla_due if self.sla_due else None


def default_sla_hours() -> dict[str, float]:
    """`[outcomes] sla_hours`'s default (priority -> hours), for an engine built without the outcome settings."""
    from syncer.outcomes.model import OutcomesConfig

    return dict(OutcomesConfig().sla_hours)


def compare(
    engine: sa.Engine,
    trigger: str,
    now: dt.datetime,
    window_days: float,
    expansions: dict[str, list[dt.datetime]] | None = None,
    conversion_days: float = 90.0,
    sla_hours: dict[str, float] | None = None,
) -> dict[str, Group]:
    """Current vs canary over the window: fired, worked within SLA (the report's rule, with `sla_hours` priority ->
    hours, default `[outcomes] sla_hours`'s), pings per rep per day, and converted (an expansion of the account
    within `conversion_days` after the alert) when given expansions."""
    since = now - dt.timedelta(days=window_days)
    hours = default_sla_hours() if sla_hours is None else sla_hours
    groups = {"current": Group(), CANARY: Group()}
    states: dict[str, list[tuple[str | None, float | None]]] = {k: [] for k in groups}
    pings: dict[str, dict[tuple[str, dt.date], int]] = {k: defaultdict(int) for k in groups}
    days: set[dt.date] = set()
    query = sa.select(alerts_table).where(alerts_table.c.trigger == trigger, alerts_table.c.opened_at >= since)
    with engine.connect() as conn:
        for a in conn.execute(query):
            name = CANARY if a.canary == CANARY else "current"
            g = groups[name]
            g.fired += 1
            opened = aware(a.opened_at)
            assert opened is not None
            days.add(opened.date())
            if expansions is not None:
                until = opened + dt.timedelta(days=conversion_days)
                hit = any(opened < e <= until for e in expansions.get(str(a.account_id), []))
                g.converted = (g.converted or 0) + hit
            if a.delivery != "holdout":  # held out: never sent, so never worked (as worked_report)
                states[name].append((worked_state(opened, aware(a.worked_at), a.task_state, hours.get(a.priority),
                                                  now), None))  # fmt: skip
            if a.delivery in ("ping", "deferred"):
                pings[name][(str(a.owner_email or ""), opened.date())] += 1
    for name, g in groups.items():
        summary = summarize(states[name])
        g.with_task, g.worked_in_sla, g.sla_due = summary["alerts"], summary["met"], summary["due"]
        reps = {owner for owner, _ in pings[name]}
        g.pings_per_rep_day = round(sum(pings[name].values()) / max(1, len(reps)) / max(1, len(days)), 3)
    return groups


def check(
    engine: sa.Engine,
    settings: AlertSettings,
    canaried: set[str],
    now: dt.datetime,
    sla_hours: dict[str, float] | None = None,
) -> list[tuple[str, str]]:
    """Automatic rollback: (trigger, reason) for every running canary that meets a criterion (and is rolled back).
    `sla_hours`: `[outcomes] sla_hours` (priority -> hours; its default when None)."""
    cfg = settings.alerts.canary
    status = statuses(engine)
    rolled = []
    for trigger in sorted(canaried):
        if status.get(trigger, "running") != "running":
            continue
        groups = compare(engine, trigger, now, cfg.window_days, sla_hours=sla_hours)
        new, old = groups[CANARY], groups["current"]
        reasons = []
        at_full = new.pings_per_rep_day / cfg.share
        budget = settings.alerts.budget.per_recipient
        if new.fired and at_full > budget:
            reasons.append(
                f"at full roll-out it would ping a rep {at_full:.1f} times a day (budget {budget}; "
                f"{new.pings_per_rep_day:.2f} a day on {cfg.share:.0%} of accounts)"
            )
        if new.sla_due >= cfg.min_alerts and new.worked_rate is not None and old.worked_rate:
            drop = 1 - new.worked_rate / old.worked_rate
            if drop > cfg.max_worked_drop:
                reasons.append(
                    f"worked within SLA {new.worked_rate:.0%} vs {old.worked_rate:.0%} for the current definition "
                    f"({drop:.0%} drop > {cfg.max_worked_drop:.0%})"
                )
        if reasons and cfg.auto_rollback:
            reason = "; ".join(reasons)
            decide(engine, trigger, "rolled_back", f"automatic: {reason}", now)
            rolled.append((trigger, reason))
    return rolled


def report(
    engine: sa.Engine,
    trigger: str,
    now: dt.datetime,
    window_days: float,
    expansions: dict[str, list[dt.datetime]] | None = None,
    conversion_days: float = 90.0,
    sla_hours: dict[str, float] | None = None,
) -> dict[str, Any]:
    groups = compare(engine, trigger, now, window_days, expansions, conversion_days, sla_hours)
    status = statuses(engine).get(trigger, "running")
    out: dict[str, Any] = {"trigger": trigger, "status": status, "window_days": window_days}
    for name, g in groups.items():
        out[name] = {**asdict(g), "worked_rate": g.worked_rate}
    return out
