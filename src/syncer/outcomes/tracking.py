"""Per-alert outcome: fired -> worked (CRM task completed) -> converted (account expanded in the window).

Inputs: the `alerts` table in state (task_state / worked_at are kept there by the alert engine, read
back from the CRM connectors' `task_status`) and the expansion model in the warehouse (one row per
expansion: account_id, expanded_at, kind, expansion_mrr). Attribution (docs/outcomes.md):

- an alert *converts* when its account expands in (fired_at, fired_at + window]. Per trigger, an
  expansion converts at most one alert: the earliest not-yet-converted alert of that trigger whose
  window holds it; an alert converts at most once.
- an alert is *relevant* (trigger accuracy) when its account expanded in its window at all, whoever
  got the credit.
- revenue: each expansion's MRR is credited once, to the earliest alert of any trigger whose window
  holds it (ties: higher priority, then trigger name). Expansions with no such alert stay unattributed.
- an alert is *matured* once its window has closed (fired_at + window <= now). Only matured alerts
  enter conversion rates, so young alerts do not drag rates down.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from syncer.alerts.lifecycle import refresh_tasks
from syncer.alerts.sla import worked_state
from syncer.alerts.store import alerts as alerts_table
from syncer.alerts.store import aware
from syncer.alerts.tasks import TaskConnector, read_status
from syncer.identity import identity_text

PRIORITY_RANK = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class AlertRecord:
    """One row of the `alerts` table, as outcome tracking needs it."""

    id: int
    key: str
    account_id: str
    trigger: str
    priority: str
    delivery: str
    owner_email: str | None
    opened_at: dt.datetime
    task_state: str
    worked_at: dt.datetime | None
    value: float | None = None


@dataclass(frozen=True)
class Expansion:
    account_id: str
    expanded_at: dt.datetime
    kind: str
    mrr: float


@dataclass
class AlertOutcome:
    alert: AlertRecord
    matured: bool
    hours_to_action: float | None = None  # task completed - fired, hours
    sla: str | None = None  # syncer.alerts.sla.worked_state: met | missed | breached | pending; None: no task / SLA
    converted: Expansion | None = None  # per-trigger credit
    relevant: bool = False  # the account expanded in this alert's window (any credit)
    credited: list[Expansion] = field(default_factory=list)  # revenue credit (each expansion once, globally)

    @property
    def within_sla(self) -> bool | None:
        """Worked within SLA; None: no CRM task, no SLA for its priority, or not yet due (pending)."""
        return {"met": True, "missed": False, "breached": False}.get(self.sla or "")

    @property
    def attributed_mrr(self) -> float:
        return sum(e.mrr for e in self.credited)

    @property
    def stage(self) -> str:
        """converted | lost (window closed, no expansion) | worked | open (window still running)."""
        if self.converted is not None:
            return "converted"
        if self.matured:
            return "lost"
        return "worked" if self.alert.worked_at is not None else "open"

    def as_row(self) -> dict[str, Any]:
        a, c = self.alert, self.converted
        return {
            "alert_key": a.key,
            "account_id": a.account_id,
            "trigger": a.trigger,
            "priority": a.priority,
            "delivery": a.delivery,
            "owner_email": a.owner_email,
            "fired_at": a.opened_at,
            "task_state": a.task_state,
            "worked_at": a.worked_at,
            "hours_to_action": None if self.hours_to_action is None else round(self.hours_to_action, 2),
            "worked_within_sla": self.within_sla,
            "matured": self.matured,
            "stage": self.stage,
            "converted_at": c.expanded_at if c else None,
            "expansion_kind": c.kind if c else None,
            "expansion_mrr": c.mrr if c else None,
            "relevant": self.relevant,
            "attributed_mrr": round(self.attributed_mrr, 2),
        }


def as_datetime(value: Any) -> dt.datetime:
    """Warehouse dates/timestamps -> aware UTC datetimes (a DATE is its midnight UTC)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str):
        return as_datetime(dt.datetime.fromisoformat(value))
    raise ValueError(f"not a date or timestamp: {value!r}")


def load_alerts(engine: sa.Engine) -> list[AlertRecord]:
    """Every alert in state (open and cleared), oldest first."""
    t = alerts_table
    query = sa.select(
        t.c.id,
        t.c.key,
        t.c.account_id,
        t.c.trigger,
        t.c.priority,
        t.c.delivery,
        t.c.owner_email,
        t.c.opened_at,
        t.c.task_state,
        t.c.worked_at,
        t.c.value,
    ).order_by(t.c.opened_at, t.c.id)
    out = []
    with engine.connect() as conn:
        for r in conn.execute(query):
            opened = aware(r.opened_at)
            assert opened is not None
            out.append(
                AlertRecord(
                    r.id,
                    r.key,
                    str(r.account_id),
                    r.trigger,
                    r.priority,
                    r.delivery,
                    r.owner_email,
                    opened,
                    r.task_state or "none",
                    aware(r.worked_at),
                    r.value,
                )
            )
    return out


def parse_expansions(rows: Iterable[dict[str, Any]]) -> list[Expansion]:
    """Rows of the expansion model -> Expansion (unknown kinds kept as given; NULL MRR counts 0)."""
    out = []
    for row in rows:
        mrr = row.get("expansion_mrr")
        out.append(
            Expansion(
                identity_text(row["account_id"]),
                as_datetime(row["expanded_at"]),
                str(row.get("kind") or "unknown"),
                float(mrr) if mrr is not None else 0.0,
            )
        )
    out.sort(key=lambda e: (e.expanded_at, e.account_id))
    return out


def track(
    records: Sequence[AlertRecord],
    expansions: Sequence[Expansion],
    now: dt.datetime,
    window_days: float,
    sla_hours: dict[str, float],
) -> tuple[list[AlertOutcome], list[Expansion]]:
    """Outcome per alert, plus the expansions no alert got credit for (same order as `records`)."""
    window = dt.timedelta(days=window_days)
    outcomes = [AlertOutcome(r, matured=r.opened_at + window <= now) for r in records]
    for o in outcomes:
        a = o.alert
        if a.worked_at is not None:
            o.hours_to_action = max(0.0, (a.worked_at - a.opened_at).total_seconds() / 3600)
        o.sla = worked_state(a.opened_at, a.worked_at, a.task_state, sla_hours.get(a.priority), now)
    by_account: dict[str, list[AlertOutcome]] = defaultdict(list)
    for o in outcomes:
        by_account[o.alert.account_id].append(o)
    unattributed = []
    for e in expansions:  # in time order
        candidates = [
            o
            for o in by_account.get(e.account_id, ())
            if o.alert.opened_at < e.expanded_at <= o.alert.opened_at + window
        ]
        for o in candidates:
            o.relevant = True
        if not candidates:
            unattributed.append(e)
            continue
        first = min(
            candidates, key=lambda o: (o.alert.opened_at, PRIORITY_RANK.get(o.alert.priority, 3), o.alert.trigger)
        )
        first.credited.append(e)
        per_trigger: dict[str, AlertOutcome] = {}
        for o in sorted(candidates, key=lambda o: (o.alert.opened_at, o.alert.id)):
            if o.converted is None and o.alert.trigger not in per_trigger:
                per_trigger[o.alert.trigger] = o
        for o in per_trigger.values():
            o.converted = e
    return outcomes, unattributed


def sync_task_states(engine: sa.Engine, crm: TaskConnector, now: dt.datetime) -> int:
    """Read back every still-open CRM task (the alert engine stops once it escalated); returns newly worked.

    The engine reads task status only for suppression and escalation; an alert escalated, cleared or
    never re-fired keeps `task_state = open` in state even after the rep closed the task. The report
    calls this first so `worked_at` is current. Uses the engine's own `refresh_tasks`.
    """
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(alerts_table).where(alerts_table.c.task_state == "open")))
    if not rows:
        return 0
    refresh_tasks(engine, lambda keys: read_status(crm, list(keys)), rows, now)
    with engine.connect() as conn:
        worked = conn.execute(
            sa.select(sa.func.count())
            .select_from(alerts_table)
            .where(alerts_table.c.task_state == "completed", alerts_table.c.task_checked_at == now)
        ).scalar_one()
    return int(worked)
