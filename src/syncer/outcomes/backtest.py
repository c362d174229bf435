"""`syncer triggers backtest TRIGGER --set threshold=0.7`: what a threshold change would have done.

Seed 003 asks for "guardrails for threshold changes"; this is the look before the leap.

1. In the warehouse, one statement: for every evaluation day d in the span (every `every_days`), the
   per-account metrics as of d (scoring/metrics.py, the same SQL the live refresh runs) filtered by the
   trigger's condition - once with the current definition, once with the changed one - glued with
   UNION ALL. Only the firing (day, account) pairs come back; no usage row leaves the warehouse.
2. The fired sets go, evaluation by evaluation, through the real alert Lifecycle (dedupe, clear after
   quiet evaluations, cooldown, holdout) on a throw-away in-memory state, so "would have fired" means
   what the live engine does - not a second implementation of its rules. Task-dependent rules (worked
   cooldown, task still open) need reps' behaviour and are not replayed.
3. Expansions (the outcomes `expansions` model) decide "converted within the window"; pings per rep
   per day are the fired alerts of a ping-priority trigger per owner per evaluation (not held out, not
   the first evaluation's backlog under quiet activation), capped at the ping budget.

Result per week (alerts, converted; current vs changed) and a summary: precision / recall of the changed
definition's alerted accounts against the current one's, conversion of each, pings per rep per day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from syncer.alerts.model import AlertSettings
from syncer.alerts.store import alerts as alerts_table
from syncer.scoring.dialect import date_literal
from syncer.scoring.execution import WarehouseSession
from syncer.scoring.metrics import metrics_select
from syncer.scoring.model import ScoringConfig
from syncer.scoring.scores import _condition
from syncer.scoring.triggers import TriggerDef

EVALUATED_AFTER = dt.timedelta(hours=30)  # a day's scores are evaluated the next morning (06:00 UTC)


def evaluation_at(as_of: dt.date) -> dt.datetime:
    return dt.datetime(as_of.year, as_of.month, as_of.day, tzinfo=dt.UTC) + EVALUATED_AFTER


def fired_history(
    warehouse: sa.Engine, scoring: ScoringConfig, variants: dict[str, TriggerDef], days: list[dt.date]
) -> tuple[list[sa.Row[Any]], list[str]]:
    """(variant, as_of, account_id, owner_email, value) for every firing pair: one statement, in the warehouse."""
    selects = []
    for day in days:
        m = metrics_select(scoring, day, f"usage_base_{day:%Y%m%d}").subquery(f"m_{day:%Y%m%d}")
        for name, t in variants.items():
            selects.append(
                sa.select(
                    sa.literal(name, sa.String()).label("variant"),
                    date_literal(day).label("as_of"),
                    m.c.account_id,
                    m.c.owner_email,
                    sa.literal_column(f"({t.value})").label("value"),
                )
                .select_from(m)
                .where(sa.literal_column(_condition(t), sa.Boolean()))
            )
    with warehouse.connect() as conn:
        ws = WarehouseSession(conn, scoring.tables.schema_)
        rows = ws.fetch(sa.union_all(*selects)) if selects else []
    return rows, ws.statements


def last_usage_day(warehouse: sa.Engine, scoring: ScoringConfig) -> dt.date | None:
    usage = sa.table(scoring.tables.usage_daily, sa.column("day"), schema=scoring.tables.schema_)
    with warehouse.connect() as conn:
        value = conn.execute(sa.select(sa.func.max(usage.c.day))).scalar()
    if value is None:
        return None
    return (
        value
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime)
        else dt.date.fromisoformat(str(value)[:10])
    )


def replay(
    settings: AlertSettings, trigger: TriggerDef, fired: dict[dt.date, list[dict[str, Any]]]
) -> list[sa.Row[Any]]:
    """The real Lifecycle over the fired sets, on an in-memory state; returns the alerts it opened."""
    from syncer.alerts.lifecycle import Lifecycle
    from syncer.alerts.preview import empty_state
    from syncer.alerts.routing import Router, UserDirectory

    state = empty_state()
    try:
        router = Router(settings, UserDirectory(state, lambda _email: None, settings), "C0BACKTEST")
        lifecycle = Lifecycle(settings, state, router, lambda _alert: ("", []))
        for day in sorted(fired):
            rows = [
                {**r, "trigger": trigger.name, "priority": trigger.priority, "threshold": trigger.threshold}
                for r in fired[day]
            ]
            lifecycle.evaluate(rows, evaluation_at(day))
        with state.connect() as conn:
            return list(conn.execute(sa.select(alerts_table).order_by(alerts_table.c.opened_at, alerts_table.c.id)))
    finally:
        state.dispose()


@dataclass
class VariantResult:
    alerts: int = 0
    converted: int = 0
    accounts: set[str] = field(default_factory=set)
    pings_per_rep_day: float = 0.0
    by_week: dict[str, tuple[int, int]] = field(default_factory=dict)  # week -> (alerts, converted)


@dataclass
class Backtest:
    trigger: str
    current_threshold: float
    new_threshold: float
    days: list[dt.date]
    current: VariantResult
    changed: VariantResult
    precision: float | None  # changed's alerted accounts that the current definition alerted too
    recall: float | None  # current's alerted accounts that the changed definition still alerts
    statements: int = 1

    def as_dict(self) -> dict[str, Any]:
        def variant(v: VariantResult) -> dict[str, Any]:
            d = asdict(v)
            d["accounts"] = len(v.accounts)
            d["by_week"] = {w: {"alerts": a, "converted": c} for w, (a, c) in v.by_week.items()}
            return d

        return {
            "trigger": self.trigger,
            "current_threshold": self.current_threshold,
            "new_threshold": self.new_threshold,
            "from": self.days[0].isoformat() if self.days else None,
            "to": self.days[-1].isoformat() if self.days else None,
            "evaluations": len(self.days),
            "current": variant(self.current),
            "changed": variant(self.changed),
            "precision": self.precision,
            "recall": self.recall,
            "extra_pings_per_rep_per_day": round(self.changed.pings_per_rep_day - self.current.pings_per_rep_day, 3),
        }


def summarise(
    opened: list[sa.Row[Any]], expansions: dict[str, list[dt.datetime]], window: dt.timedelta, settings: AlertSettings,
    pinging: bool, reps: int, span_days: int,
) -> VariantResult:  # fmt: skip
    result = VariantResult()
    pings: dict[tuple[str, dt.date], int] = defaultdict(int)
    for a in opened:
        opened_at = a.opened_at if a.opened_at.tzinfo else a.opened_at.replace(tzinfo=dt.UTC)
        converted = any(opened_at < e <= opened_at + window for e in expansions.get(a.account_id, []))
        week = (opened_at.date() - dt.timedelta(days=opened_at.weekday())).isoformat()
        n, c = result.by_week.get(week, (0, 0))
        result.by_week[week] = (n + 1, c + converted)
        result.alerts += 1
        result.converted += converted
        result.accounts.add(a.account_id)
        if pinging and a.delivery in ("ping", "deferred"):  # not held out, not the activation backlog
            pings[(str(a.owner_email or ""), opened_at.date())] += 1
    cap = settings.alerts.budget.per_recipient
    sent = sum(min(n, cap) for n in pings.values())
    result.pings_per_rep_day = round(sent / max(1, reps) / max(1, span_days), 3)
    return result


def backtest(
    warehouse: sa.Engine,
    scoring: ScoringConfig,
    settings: AlertSettings,
    trigger: TriggerDef,
    changes: dict[str, Any],
    days: list[dt.date],
    expansions: Iterable[dict[str, Any]],
    window_days: float,
) -> Backtest:
    changed = TriggerDef.model_validate({**trigger.model_dump(), **changes})
    rows, statements = fired_history(warehouse, scoring, {"current": trigger, "changed": changed}, days)
    fired: dict[str, dict[dt.date, list[dict[str, Any]]]] = {
        "current": {d: [] for d in days},
        "changed": {d: [] for d in days},
    }
    owners: set[str] = set()
    for r in rows:
        day = r.as_of if isinstance(r.as_of, dt.date) else dt.date.fromisoformat(str(r.as_of)[:10])
        day = day.date() if isinstance(day, dt.datetime) else day
        fired[r.variant][day].append({"account_id": str(r.account_id), "owner_email": r.owner_email, "value": r.value})
        owners.add(str(r.owner_email or ""))
    by_account: dict[str, list[dt.datetime]] = defaultdict(list)
    for e in expansions:
        at = e["expanded_at"]
        at = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(str(at))
        by_account[str(e["account_id"])].append(at if at.tzinfo else at.replace(tzinfo=dt.UTC))
    window = dt.timedelta(days=window_days)
    pinging = trigger.priority in settings.routing.immediate
    span = max(1, (days[-1] - days[0]).days + 1) if days else 1
    cur = summarise(
        replay(settings, trigger, fired["current"]), by_account, window, settings, pinging, len(owners), span
    )
    new = summarise(
        replay(settings, changed, fired["changed"]), by_account, window, settings, pinging, len(owners), span
    )
    both = cur.accounts & new.accounts
    return Backtest(
        trigger.name,
        trigger.threshold,
        changed.threshold,
        days,
        cur,
        new,
        len(both) / len(new.accounts) if new.accounts else None,
        len(both) / len(cur.accounts) if cur.accounts else None,
        len(statements),
    )
