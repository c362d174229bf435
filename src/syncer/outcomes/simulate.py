"""A multi-month simulation on the synthetic world, where every account's true propensity is known.

The generative model (docs/outcomes.md, "Simulation"), stated plainly so nobody mistakes it for data:

1. `build_world` draws each account's propensity p and `will_expand ~ Bernoulli(p)` (ground_truth).
2. Every week for `weeks` weeks: `refresh_scores` at that week's usage day, then the real AlertEngine
   evaluates `fired_triggers` and delivers (Slack pings, CRM tasks) on a patched clock.
3. Reps: each alert that got a CRM task is worked with probability `work_probability`, after an
   exponential delay (mean `mean_hours_to_work`); the task is completed in the CRM at that instant
   through `complete_task` (the CRM emulator), and read back through the connector like in production.
4. Expansions: an account with will_expand expands exactly once. If it was alerted, each of its alerts
   raises the hazard of an expansion for a window after it: the expansion falls in one of its alerts'
   windows, picked uniformly among them, at a uniform instant in (alert, alert + window] - usage signals
   lead expansions by up to a window, and an account alerted again in autumn can expand in winter.
   Whether it expands is p, not the alert. Never-alerted accounts that expand do so uniformly over the
   simulated span. Kind and MRR are drawn from the account's tier and MRR. Alerts and rep work do not
   cause expansions in this model: measured conversion is the trigger's predictive value, not a
   treatment effect.

Under this model the expansion time of an alerted account has the density
f(t) = (1/n) x sum over its n alerts i of 1{t in (opened_i, opened_i + window]} / window, so the true
chance that alert a converts is p x the mass of f on a's credit interval: the part of a's own window not
in the window of an earlier alert of the same trigger on the account (tracking.py's attribution).
`expected` averages that over each trigger's matured alerts: the ground truth the report's intervals
must cover.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from syncer.alerts.engine import AlertEngine
from syncer.alerts.store import alerts as alerts_table
from syncer.identity import identity_text
from syncer.outcomes.tracking import AlertRecord, load_alerts
from syncer.scoring import ScoringConfig, refresh_scores
from syncer.scoring.synthetic import insert_rows
from syncer.timestamps import UtcDateTime

CompleteTask = Callable[[str, dt.datetime], bool]


def expansions_table(name: str = "expansions", schema: str | None = None) -> sa.Table:
    """The expansion model's contract (docs/outcomes.md), as the simulation writes it."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("expanded_at", UtcDateTime(timezone=False), primary_key=True),
        sa.Column("kind", sa.String(40)),
        sa.Column("expansion_mrr", sa.Double()),
        schema=schema,
    )


@dataclass
class Simulation:
    evaluations: list[dt.datetime]
    report_at: dt.datetime
    window_days: float
    truth: dict[str, tuple[float, bool]]  # account -> (propensity, will_expand)
    alerts: list[AlertRecord]
    expansions: list[dict[str, Any]]
    expected: dict[str, float] = field(default_factory=dict)  # trigger -> true conversion of its matured alerts
    worked: int = 0


def _truth(warehouse: sa.Engine, scoring: ScoringConfig) -> dict[str, tuple[float, bool]]:
    gt = sa.table("ground_truth", sa.column("account_id"), sa.column("propensity"), sa.column("will_expand"))
    gt.schema = scoring.tables.schema_
    with warehouse.connect() as conn:
        return {str(a): (float(p), bool(w)) for a, p, w in conn.execute(sa.select(*gt.c))}


def fired_rows(warehouse: sa.Engine, scoring: ScoringConfig) -> list[dict[str, Any]]:
    t = sa.table(scoring.tables.triggers, schema=scoring.tables.schema_)
    with warehouse.connect() as conn:
        result = conn.execute(sa.select(sa.text("*")).select_from(t))
        return [dict(r._mapping) for r in result]


def run_alerts(
    warehouse: sa.Engine,
    engine: AlertEngine,
    scoring: ScoringConfig,
    first_day: dt.date,
    weeks: int,
    complete_task: CompleteTask,
    *,
    seed: int = 1,
    work_probability: float = 0.85,
    mean_hours_to_work: float = 10.0,
) -> tuple[list[dt.datetime], dict[str, dt.datetime]]:
    """Weekly score refresh + alert evaluation; reps complete tasks. Returns evaluation times and work plan."""
    rng = random.Random(seed)
    plan: dict[str, dt.datetime] = {}  # alert key -> when its rep completes the task
    done: set[str] = set()
    evaluations = []
    for week in range(weeks):
        as_of = first_day + dt.timedelta(days=7 * week)
        now = dt.datetime(as_of.year, as_of.month, as_of.day, tzinfo=dt.UTC) + dt.timedelta(hours=30)
        work_due(plan, done, now, complete_task)
        summary = refresh_scores(warehouse, scoring, as_of)
        if not summary.published:
            raise RuntimeError(f"scores held back on {as_of}: {summary.guard.reasons}")
        report = engine.evaluate_and_deliver(now, rows=fired_rows(warehouse, scoring))
        with engine.engine.connect() as conn:
            opened = sa.select(alerts_table.c.key).where(alerts_table.c.task_state != "none")
            fresh = set(report.evaluation.opened_keys)
            tasked = {k for (k,) in conn.execute(opened) if k in fresh}
        for key in sorted(tasked):
            if rng.random() < work_probability:
                plan[key] = now + dt.timedelta(hours=rng.expovariate(1 / mean_hours_to_work))
        engine.escalate(now)
        evaluations.append(now)
    return evaluations, plan


def work_due(plan: dict[str, dt.datetime], done: set[str], now: dt.datetime, complete_task: CompleteTask) -> None:
    for key, when in sorted(plan.items(), key=lambda kv: kv[1]):
        if key not in done and when <= now:
            complete_task(key, when)
            done.add(key)


def alert_windows(
    alerts: Iterable[AlertRecord], window_days: float
) -> dict[str, list[tuple[dt.datetime, dt.datetime]]]:
    """Account -> the (opened, opened + window] interval of each of its alerts, oldest first: where its
    expansion may fall under the generative model (one interval drawn uniformly, then a uniform instant in it)."""
    window = dt.timedelta(days=window_days)
    out: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for a in sorted(alerts, key=lambda a: (a.opened_at, a.id)):
        out[a.account_id].append((a.opened_at, a.opened_at + window))
    return dict(out)


def draw_expansions(
    alerts: Sequence[AlertRecord],
    truth: dict[str, tuple[float, bool]],
    accounts: dict[str, tuple[str, float]],
    start: dt.datetime,
    end: dt.datetime,
    window_days: float,
    seed: int = 1,
) -> list[dict[str, Any]]:
    """The expansion model rows (see the module docstring for the generative model): one per account whose
    hidden `will_expand` is true; `expanded_at` naive UTC, `expansion_mrr` in the account's currency a month."""
    rng = random.Random(seed * 7919 + 17)
    windows = alert_windows(alerts, window_days)
    rows = []
    for account_id in sorted(truth):
        _, will_expand = truth[account_id]
        if not will_expand:
            continue
        if account_id in windows:  # each alert raises the hazard for a window after it: pick one, then an instant
            lo, hi = rng.choice(windows[account_id])
            at = hi - (hi - lo) * rng.random()  # in (lo, hi]
        else:
            at = start + (end - start) * rng.random()
        tier, mrr = accounts.get(account_id, ("", 0.0))
        kinds = ["plan_upgrade", "seat_increase", "closed_won_expansion"]
        kind = rng.choices(kinds, weights=[0.6, 0.3, 0.1] if tier == "free" else [0.3, 0.5, 0.2])[0]
        amount = rng.uniform(40, 400) if mrr <= 0 else mrr * rng.uniform(0.15, 0.8)
        rows.append(
            {
                "account_id": account_id,
                "expanded_at": at.replace(tzinfo=None, microsecond=0),
                "kind": kind,
                "expansion_mrr": round(amount, 2),
            }
        )
    return rows


def _overlap(lo: dt.datetime, hi: dt.datetime, a: dt.datetime, b: dt.datetime) -> dt.timedelta:
    """Length of (lo, hi] intersected with (a, b]; zero when they do not meet."""
    return max(dt.timedelta(0), min(hi, b) - max(lo, a))


def expected_conversion(
    alerts: Sequence[AlertRecord],
    truth: dict[str, tuple[float, bool]],
    report_at: dt.datetime,
    window_days: float,
) -> dict[str, float]:
    """Per trigger, the mean true conversion probability of its matured alerts under the model (module
    docstring): p x the model's probability mass inside the alert's credit interval."""
    window = dt.timedelta(days=window_days)
    windows = alert_windows(alerts, window_days)
    last_end: dict[tuple[str, str], dt.datetime] = {}
    probs: dict[str, list[float]] = defaultdict(list)
    for a in sorted(alerts, key=lambda a: (a.opened_at, a.id)):
        pair = (a.account_id, a.trigger)
        lo, hi = max(a.opened_at, last_end.get(pair, a.opened_at)), a.opened_at + window
        last_end[pair] = hi
        if hi > report_at:
            continue
        spans = windows[a.account_id]
        share = sum(_overlap(lo, hi, s, e) / (e - s) for s, e in spans) / len(spans)
        probs[a.trigger].append(truth[a.account_id][0] * share)
    return {t: sum(p) / len(p) for t, p in probs.items()}


def simulate(
    warehouse: sa.Engine,
    engine: AlertEngine,
    complete_task: CompleteTask,
    *,
    first_day: dt.date,
    weeks: int = 13,
    window_days: float = 90.0,
    scoring: ScoringConfig | None = None,
    seed: int = 1,
    work_probability: float = 0.85,
    mean_hours_to_work: float = 10.0,
    expansions_name: str = "expansions",
) -> Simulation:
    """Run the weeks, draw the expansions into the warehouse, return the ground truth beside them."""
    scoring = scoring or ScoringConfig()
    evaluations, plan = run_alerts(
        warehouse,
        engine,
        scoring,
        first_day,
        weeks,
        complete_task,
        seed=seed,
        work_probability=work_probability,
        mean_hours_to_work=mean_hours_to_work,
    )
    report_at = evaluations[-1] + dt.timedelta(days=window_days, hours=1)
    done: set[str] = set()
    work_due(plan, done, report_at, complete_task)
    alerts = load_alerts(engine.engine)
    truth = _truth(warehouse, scoring)
    acc = sa.table(scoring.tables.accounts, sa.column("account_id"), sa.column("plan_tier"), sa.column("mrr"))
    acc.schema = scoring.tables.schema_
    with warehouse.connect() as conn:
        accounts = {str(a): (str(t), float(m or 0)) for a, t, m in conn.execute(sa.select(*acc.c))}
    start = evaluations[0] - dt.timedelta(days=1)
    rows = draw_expansions(alerts, truth, accounts, start, report_at, window_days, seed)
    table = expansions_table(expansions_name, scoring.tables.schema_)
    with warehouse.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        insert_rows(conn, table, rows)
    return Simulation(
        evaluations=evaluations,
        report_at=report_at,
        window_days=window_days,
        truth=truth,
        alerts=alerts,
        expansions=rows,
        expected=expected_conversion(alerts, truth, report_at, window_days),
        worked=len(plan),
    )


def fired_accounts(warehouse: sa.Engine, scoring: ScoringConfig, days: Iterable[dt.date]) -> dict[str, set[str]]:
    """Trigger -> accounts it fires on, on any of `days` (a score refresh per day)."""
    fired: dict[str, set[str]] = defaultdict(set)
    for day in days:
        refresh_scores(warehouse, scoring, day)
        for row in fired_rows(warehouse, scoring):
            fired[str(row["trigger"])].add(identity_text(row["account_id"]))
    return dict(fired)


def precision_recall(fired: dict[str, set[str]], truth: dict[str, tuple[float, bool]]) -> tuple[float, float, int]:
    """Account level: precision = alerted accounts that truly expand / alerted; recall = of those that expand."""
    alerted = set().union(*fired.values()) if fired else set()
    expanding = {a for a, (_, w) in truth.items() if w}
    hit = len(alerted & expanding)
    return (hit / len(alerted) if alerted else 0.0, hit / len(expanding) if expanding else 0.0, len(alerted))
