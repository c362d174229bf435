"""A quarter of history for the demo, in bulk: scores in the warehouse, alerts in state, no HTTP.

The report needs matured alerts (a 90-day conversion window), so the demo replays the months before
its two live days. Every `step_days` (default 7) the scores are refreshed in the warehouse as of
that day and the real AlertEngine evaluates the config's fired-triggers model at 08:00 the next
morning (dedupe, cooldown, routing, task and digest decisions are the engine's own). Delivery goes
to a `Ledger` per destination instead of the emulators: it acknowledges every record in-process and
remembers it, so the past costs no HTTP; only the two live days go through the emulators.

Reps (the synthetic world's behaviour, not data): each new alert with a CRM task is worked with
probability `work_probability` after an exponential delay (mean `mean_hours_to_work`); the ledger
answers "completed" for it once the simulated clock passes that instant, and the engine reads it
back like a real CRM. Expansions come from the outcomes simulation's generative model
(`outcomes.simulate.draw_expansions`: the account's hidden propensity decides, the first alert
only dates it), keeping only those that happened before the report time.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from syncer.alerts import AlertEngine
from syncer.alerts.store import alerts as alerts_table
from syncer.alerts.tasks import TaskState
from syncer.connector import Record, Result
from syncer.outcomes.simulate import draw_expansions, expansions_table
from syncer.outcomes.tracking import load_alerts, sync_task_states
from syncer.scoring.model import ScoringConfig
from syncer.scoring.refresh import refresh_scores
from syncer.scoring.synthetic import insert_rows

MORNING = dt.time(8, 0)


class Ledger:
    """Stands in for Slack, a CRM or a webhook during the simulated past: acknowledges every record
    in-process, keeps its fields, and answers task status from the reps' simulated work."""

    def __init__(self, real: Any, worked: dict[str, dt.datetime], clock: Callable[[], dt.datetime]) -> None:
        self.real, self.worked, self.clock = real, worked, clock
        self.name: str = real.name
        self.settings = getattr(real, "settings", None)
        self.sent: dict[str, dict[str, Any]] = {}
        lookup = getattr(real, "lookup_user_by_email", None)
        if lookup is not None:  # owner email -> Slack user: cached in state after the first answer
            self.lookup_user_by_email = lookup

    @property
    def effective_batch_size(self) -> int:
        return 1000

    def send(self, batch: Sequence[Record]) -> list[Result]:
        out = []
        for record in batch:
            self.sent[record.key] = dict(record.fields)
            out.append(Result.ok(record, f"history-{len(self.sent)}"))
        return out

    def task_status(self, keys: Sequence[str]) -> dict[str, TaskState]:
        now = self.clock()
        out = {}
        for key in keys:
            if key in self.sent:
                when = self.worked.get(key)
                done = when is not None and when <= now
                out[key] = TaskState("completed" if done else "open", when if done else None)
        return out


@dataclass
class History:
    evaluations: list[dt.datetime]
    opened: list[int]  # new alerts per evaluation
    accounts: int
    worked: int
    expansions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        return sum(self.opened)


def replay(
    real: AlertEngine,
    warehouse: sa.Engine,
    scoring: ScoringConfig,
    days: Sequence[dt.date],
    zone: ZoneInfo,
    *,
    seed: int = 1,
    work_probability: float = 0.7,
    mean_hours_to_work: float = 14.0,
) -> History:
    """Score, evaluate, deliver to ledgers, digest, escalate and work tasks for each day in `days`."""
    rng = random.Random(seed * 31 + 5)
    worked: dict[str, dt.datetime] = {}
    now = [dt.datetime.combine(days[0], MORNING, zone)]

    def clock() -> dt.datetime:
        return now[0]

    slack, crm = Ledger(real.slack, worked, clock), Ledger(real.crm, worked, clock) if real.crm else None
    engine = AlertEngine(
        real.settings,
        real.engine,
        slack,
        crm,
        rows=real.rows,
        clock=clock,
        render_alert=real.render_alert,
        render_digest=real.render_digest,
        webhooks={name: Ledger(hook, worked, clock) for name, hook in real.webhooks.items()},
        definitions=real.lifecycle.definitions,  # same trigger fingerprints: the live days are not a re-activation
        priors=real.lifecycle.priors,
    )
    history = History([], [], 0, 0)
    for day in days:
        summary = refresh_scores(warehouse, scoring, day)
        history.accounts = summary.accounts_scored
        now[0] = dt.datetime.combine(day + dt.timedelta(days=1), MORNING, zone)
        report = engine.evaluate_and_deliver(now[0])
        fresh = set(report.evaluation.opened_keys)
        with real.engine.connect() as conn:
            tasked = sa.select(alerts_table.c.key).where(alerts_table.c.task_state != "none")
            for (key,) in conn.execute(tasked):
                if key in fresh and rng.random() < work_probability:
                    worked[key] = now[0] + dt.timedelta(hours=rng.expovariate(1 / mean_hours_to_work))
        now[0] += dt.timedelta(hours=1, minutes=1)
        engine.send_due_digests(now[0])
        engine.escalate(now[0] + dt.timedelta(hours=1))
        history.evaluations.append(now[0])
        history.opened.append(len(fresh))
    if crm is not None:
        now[0] = now[0] + dt.timedelta(days=1)
        sync_task_states(real.engine, crm, now[0])
    history.worked = sum(1 for when in worked.values() if when <= now[0])
    engine.close()
    return history


def record_expansions(
    warehouse: sa.Engine,
    state: sa.Engine,
    scoring: ScoringConfig,
    start: dt.datetime,
    report_at: dt.datetime,
    window_days: float,
    seed: int = 1,
) -> list[dict[str, Any]]:
    """Draw the expansions (hidden propensity x first alert) that happened by `report_at` into the warehouse."""
    truth_t = sa.table("ground_truth", sa.column("account_id"), sa.column("propensity"), sa.column("will_expand"))
    acc = sa.table(scoring.tables.accounts, sa.column("account_id"), sa.column("plan_tier"), sa.column("mrr"))
    truth_t.schema = acc.schema = scoring.tables.schema_
    with warehouse.connect() as conn:
        truth = {str(a): (float(p), bool(w)) for a, p, w in conn.execute(sa.select(*truth_t.c))}
        accounts = {str(a): (str(t), float(m or 0)) for a, t, m in conn.execute(sa.select(*acc.c))}
    drawn = draw_expansions(load_alerts(state), truth, accounts, start, report_at, window_days, seed)
    cutoff = report_at.astimezone(dt.UTC).replace(tzinfo=None)
    rows = [r for r in drawn if r["expanded_at"] <= cutoff]
    table = expansions_table("expansions", scoring.tables.schema_)
    with warehouse.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        insert_rows(conn, table, rows)
    return rows
