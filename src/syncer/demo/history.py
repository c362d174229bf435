"""A quarter of history for the demo, in bulk: scores in the warehouse, alerts in state, no HTTP.

The report needs matured alerts (a 90-day conversion window), so the demo replays the months before
its two live days, one evaluation a day. The fired triggers of every day are computed first, in bulk in
the warehouse (`fired_by_day`: a few INSERT ... SELECT statements over the per-day metrics, the same
SQL the live refresh runs); then, day by day, that day's rows are published to `fired_triggers`, the
config's alert model reads them and the real AlertEngine evaluates them at 08:00 the next morning
(dedupe, cooldown, clearing, routing, budget, task and digest decisions are the engine's own). Scores
(tier and health band, which route alerts) are refreshed weekly. Delivery goes to a `Ledger` per
destination instead of the emulators: it acknowledges every record in-process and remembers it, so the
past costs no HTTP; only the two live days go through the emulators. Because the history ends the day
before the first live day, the live days start from the history's alert state and open only that
day's new crossings.

Reps (the synthetic world's behaviour, not data): each new alert with a CRM task is worked with
probability `work_probability` after an exponential delay (mean `mean_hours_to_work`); the ledger
answers "completed" for it once the simulated clock passes that instant, and the engine reads it
back like a real CRM. The reps' plan is kept by alert key (`worked`, what the world decides per alert) and,
for the CRM ledger, by the key the task was created under (`outbox.task_keys`, the one owner of that mapping:
the alert key in its project since migration 0013), which is the key the engine asks the CRM about.
Expansions come from the outcomes simulation's generative model
(`outcomes.simulate.draw_expansions`: the account's hidden propensity decides, one of its alerts
dates it), keeping only those that happened before the report time.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from syncer.alerts import AlertEngine
from syncer.alerts.lifecycle import SweepScope, is_firing
from syncer.alerts.outbox import task_keys
from syncer.alerts.store import CHUNK, aware, pairs
from syncer.alerts.store import alerts as alerts_table
from syncer.alerts.tasks import TaskState
from syncer.connector import Record, Result
from syncer.identity import identity_text
from syncer.outcomes.churn import churn_table, draw_churn
from syncer.outcomes.simulate import draw_expansions, expansions_table
from syncer.outcomes.tracking import load_alerts, sync_task_states
from syncer.scoring.dialect import date_literal, sql_text
from syncer.scoring.execution import WarehouseSession
from syncer.scoring.metrics import metrics_select
from syncer.scoring.model import ScoringConfig
from syncer.scoring.refresh import refresh_scores
from syncer.scoring.scores import TRIGGER_COLUMNS, triggers_select
from syncer.scoring.synthetic import insert_rows
from syncer.wording import plural

MORNING = dt.time(8, 0)
HISTORY_SUFFIX = "__history"  # fired_triggers__history: every replayed day's fired triggers, one table


class Ledger:
    """Stands in for Slack, a CRM or a webhook during the simulated past: acknowledges every record
    in-process, keeps its fields, and answers task status from the reps' simulated work.

    `worked`: CRM task key (`Record.key` of the task, `outbox.task_keys` of its alert) -> when its rep
    completes it; empty for Slack and webhooks, which have no tasks."""

    def __init__(
        self, real: Any, clock: Callable[[], dt.datetime], worked: dict[str, dt.datetime] | None = None
    ) -> None:
        self.real, self.clock = real, clock
        self.worked: dict[str, dt.datetime] = {} if worked is None else worked
        self.name: str = real.name
        self.settings = getattr(real, "settings", None)
        self.sent: dict[str, dict[str, Any]] = {}
        lookup = getattr(real, "lookup_user_by_email", None)
        if lookup is not None:  # owner email -> Slack user, asked once: the past makes no HTTP call after that
            self.lookup_user_by_email = functools.cache(lookup)
        names = getattr(real, "channel_name", None)
        if names is not None:  # channel id -> its name, asked once, as the live days ask it
            self.channel_name = functools.cache(names)

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
    fed: list[int] = field(default_factory=list)  # fired rows each evaluation looked at (changed accounts only)
    held_out: int = 0  # of the opened alerts, those held out as the control group (never sent; outcomes/report.py)

    @property
    def alerts(self) -> int:
        return sum(self.opened)

    def line(self) -> str:
        """What the demo prints after the replay, its totals labelled as the report labels them (opened = sent +
        held out as the control group): '4,065 alerts opened over 150 days (3,590 sent; 475 held out as the control
        group); 2.7% of accounts a day, last 7 days: 53 alerts; 1,099 tasks worked by their owners'."""
        days = len(self.opened)
        per_day = self.alerts / max(1, days) / max(1, self.accounts)
        sent = self.alerts - self.held_out
        opened = f"{self.alerts:,} {'alert' if self.alerts == 1 else 'alerts'} opened over {plural(days, 'day')}"
        tasks = f"{self.worked:,} {'task' if self.worked == 1 else 'tasks'}"
        return (
            f"{opened} ({sent:,} sent; {self.held_out:,} held out as the control group); "
            f"{100 * per_day:.1f}% of accounts a day, last 7 days: {plural(sum(self.opened[-7:]), 'alert')}; "
            f"{tasks} worked by their owners"
        )


class FiredByDay:
    """Every day's fired triggers, computed in the warehouse, `chunk` days per statement, in a background
    thread so the warehouse works while the alert engine replays the days already computed (2 cores: one
    each). Per day: the metrics as of that day (scoring/metrics.py, the SQL the live refresh runs) filtered
    by every trigger (scores.triggers_select), all glued with UNION ALL into one table. No usage row leaves
    the warehouse. `wait(n)` blocks until day n is in the table (and re-raises the thread's error)."""

    def __init__(self, warehouse: sa.Engine, scoring: ScoringConfig, days: Sequence[dt.date], chunk: int = 10) -> None:
        self.warehouse, self.scoring, self.days, self.chunk = warehouse, scoring, list(days), chunk
        self.table = scoring.tables.triggers + HISTORY_SUFFIX
        self.ready = [threading.Event() for _ in range(0, len(self.days), chunk)]
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="demo-history-triggers", daemon=True)
        self.thread.start()

    def wait(self, n: int) -> None:
        self.ready[n // self.chunk].wait()
        if self.error is not None:
            raise RuntimeError(f"computing the history's fired triggers failed: {self.error}") from self.error

    def _run(self) -> None:
        try:
            for i, start in enumerate(range(0, len(self.days), self.chunk)):
                self._insert(self.days[start : start + self.chunk], first=i == 0)
                self.ready[i].set()
        except BaseException as exc:  # handed to the waiting thread
            self.error = exc
            for event in self.ready:
                event.set()

    def _insert(self, days: Sequence[dt.date], first: bool) -> None:
        s = self.scoring
        selects = [
            triggers_select(s, day, metrics_select(s, day, f"usage_{day:%Y%m%d}").cte(f"m_{day:%Y%m%d}"))
            for day in days
        ]
        union = sa.union_all(*selects) if len(selects) > 1 else selects[0]
        with self.warehouse.begin() as conn:
            ws = WarehouseSession(conn, s.tables.schema_)
            if first:
                ws.create_table_as(self.table, union)
            else:
                ws.execute(f"INSERT INTO {ws.table(self.table)} {sql_text(union, ws.dialect)}")


def publish_day(warehouse: sa.Engine, scoring: ScoringConfig, history: str, day: dt.date) -> None:
    """Make the published fired-triggers table hold `day`'s rows, so the config's alert model reads that day."""
    columns = ", ".join(f'"{c}"' for c in TRIGGER_COLUMNS)
    with warehouse.begin() as conn:
        ws = WarehouseSession(conn, scoring.tables.schema_)
        target = ws.table(scoring.tables.triggers)
        ws.execute(f"DELETE FROM {target} WHERE 1 = 1")
        ws.execute(
            f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {ws.table(history)} "
            f"WHERE as_of = {sql_text(date_literal(day), ws.dialect)}"
        )


def changed_accounts(
    state: sa.Engine,
    rows: Sequence[dict[str, Any]],
    now: dt.datetime,
    cooldown_days: float,
    worked: dict[str, dt.datetime],
) -> set[str]:
    """Accounts whose evaluation today could change something, by the lifecycle's rules (alerts/lifecycle.py):
    a firing pair without an open alert, unless the engine keeps it quiet whatever happens today (its last
    alert opened within the cooldown, or that alert's task is open and its rep never works it); an open alert
    whose row is gone or no longer firing (quiet count, hysteresis). Every other pair is still firing, cooling
    down or not firing: evaluating it again today changes nothing the report or the live days read."""
    since = now - dt.timedelta(days=cooldown_days)
    firing = {(identity_text(r["account_id"]), str(r["trigger"])) for r in rows if is_firing(r)}
    with state.connect() as conn:
        query = sa.select(pairs.c.account_id, pairs.c.trigger).where(pairs.c.open_alert_id.is_not(None))
        open_pairs = {(str(a), str(t)) for a, t in conn.execute(query)}
        candidates = firing - open_pairs
        last = alerts_table.alias("last")
        query = sa.select(pairs.c.account_id, pairs.c.trigger, last.c.key, last.c.opened_at, last.c.task_state).join(
            last, last.c.id == pairs.c.last_alert_id
        )
        accounts = sorted({a for a, _ in candidates})
        for start in range(0, len(accounts), CHUNK):
            part = query.where(pairs.c.account_id.in_(accounts[start : start + CHUNK]))
            for account_id, trigger, key, opened_at, task in conn.execute(part):
                quiet = aware(opened_at) > since or (task == "open" and key not in worked)  # type: ignore[operator]
                if quiet:
                    candidates.discard((str(account_id), str(trigger)))
    return {a for a, _ in candidates | (open_pairs - firing)}


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
    scores_every: int = 7,
) -> History:
    """Every day in `days`: the day's fired triggers (computed in bulk beforehand) through the real alert
    engine at 08:00 the next morning, deliveries to ledgers, the 09:00 digests, escalation, reps working
    tasks. Scores (tier and health, which route alerts and pick their actions) refresh every `scores_every`
    days; the triggers themselves are daily. Each evaluation looks only at the accounts where something can
    change (`changed_accounts`) and sweeps only those, which is what a full evaluation would do for them.
    Digests and escalations of the past go to the ledgers weekly and on the last day (the report reads
    neither; task outcomes are read back at the end), so the live days start with nothing left over."""
    rng = random.Random(seed * 31 + 5)
    worked: dict[str, dt.datetime] = {}  # alert key -> when its rep completes its task (the world's plan)
    worked_tasks: dict[str, dt.datetime] = {}  # the same plan by CRM task key: what the CRM ledger answers
    now = [dt.datetime.combine(days[0], MORNING, zone)]

    def clock() -> dt.datetime:
        return now[0]

    slack, crm = Ledger(real.slack, clock), Ledger(real.crm, clock, worked_tasks) if real.crm else None
    engine = AlertEngine(
        real.settings,
        real.engine,
        slack,
        crm,
        rows=real.rows,
        clock=clock,
        render_alert=real.render_alert,
        render_digest=real.render_digest,
        webhooks={name: Ledger(hook, clock) for name, hook in real.webhooks.items()},
        definitions=real.lifecycle.definitions,  # same trigger fingerprints: the live days are not a re-activation
        priors=real.lifecycle.priors,
    )
    if real.rows is None:
        raise ValueError("the config has no [alerts.model]: nothing to replay")
    history = History([], [], 0, 0)
    fired = FiredByDay(warehouse, scoring, days)
    for n, day in enumerate(days):
        fired.wait(n)
        if n % scores_every == 0:
            history.accounts = refresh_scores(warehouse, scoring, day).accounts_scored
        publish_day(warehouse, scoring, fired.table, day)
        rows = list(real.rows())
        now[0] = dt.datetime.combine(day + dt.timedelta(days=1), MORNING, zone)
        lane, scope = engine.daily_lane(rows)
        lane = list(lane)
        accounts = changed_accounts(real.engine, lane, now[0], real.settings.alerts.cooldown_days, worked)
        picked = [r for r in lane if identity_text(r["account_id"]) in accounts]
        evaluation = engine.evaluate(picked, now[0], SweepScope(scope.triggers, scope.exclude, frozenset(accounts)))
        engine.deliver_all(now[0])
        fresh = set(evaluation.opened_keys)
        if fresh:
            with real.engine.connect() as conn:
                tasked = sa.select(alerts_table.c.key).where(
                    alerts_table.c.key.in_(sorted(fresh)), alerts_table.c.task_state != "none"
                )
                keys = [str(key) for (key,) in conn.execute(tasked)]
            task_of = task_keys(real.engine, keys)  # the key each task was created under (its project's)
            for key in keys:
                if rng.random() < work_probability:
                    worked[key] = now[0] + dt.timedelta(hours=rng.expovariate(1 / mean_hours_to_work))
                    worked_tasks[task_of[key]] = worked[key]
        now[0] += dt.timedelta(hours=1, minutes=1)
        if n % scores_every == scores_every - 1 or n == len(days) - 1:  # weekly, and on the last day
            engine.send_due_digests(now[0])
            engine.escalate(now[0] + dt.timedelta(hours=1))
        history.evaluations.append(now[0])
        history.opened.append(len(fresh))
        history.fed.append(len(picked))
    if crm is not None:
        now[0] = now[0] + dt.timedelta(days=1)
        sync_task_states(real.engine, crm, now[0])
    history.worked = sum(1 for when in worked.values() if when <= now[0])
    with real.engine.connect() as conn:  # the control group, counted as the report counts it (delivery "holdout")
        held = sa.select(sa.func.count()).where(alerts_table.c.delivery == "holdout")
        history.held_out = int(conn.scalar(held) or 0)
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
    """Draw the expansions (hidden propensity, dated by one of the account's alerts) that happened by
    `report_at` into the warehouse."""
    truth_t = sa.table("ground_truth", sa.column("account_id"), sa.column("propensity"), sa.column("will_expand"))
    acc = sa.table(scoring.tables.accounts, sa.column("account_id"), sa.column("plan_tier"), sa.column("mrr"))
    truth_t.schema = acc.schema = scoring.tables.schema_
    with warehouse.connect() as conn:
        truth = {str(a): (float(p), bool(w)) for a, p, w in conn.execute(sa.select(*truth_t.c))}
        accounts = {str(a): (str(t), float(m or 0)) for a, t, m in conn.execute(sa.select(*acc.c))}
    drawn = draw_expansions(load_alerts(state), truth, accounts, start, report_at, window_days, seed)
    cutoff = report_at.astimezone(dt.UTC).replace(tzinfo=None)
    rows = [r for r in drawn if r["expanded_at"] <= cutoff]
    _replace_table(warehouse, expansions_table("expansions", scoring.tables.schema_), rows)
    return rows


def _replace_table(warehouse: sa.Engine, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Drop and recreate `table` with exactly `rows`, in one transaction (each demo run draws its world anew)."""
    with warehouse.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        insert_rows(conn, table, rows)


CHURN_CONFIG = """
[outcomes]
# the synthetic world's cancellations and downgrades (demo/history.py record_churn): portfolio health on the report
churn = { table = "churn_events", primary_key = ["account_id", "churned_at"] }
"""


def record_churn(
    warehouse: sa.Engine, scoring: ScoringConfig, start: dt.datetime, report_at: dt.datetime, seed: int = 1
) -> list[dict[str, Any]]:
    """Draw the churn events (outcomes/churn.py's generative model) that happened in (start, report_at] into the
    warehouse table `churn_events`. Each account's usage decline is measured in the warehouse: its mean DAU over
    the last 30 usage days against the first 30 (one GROUP BY; no usage row leaves the warehouse). Then the events
    act on that usage (`churn_usage`): call this before anything scores or replays the world."""
    usage = sa.table(scoring.tables.usage_daily, sa.column("account_id"), sa.column("day"), sa.column("dau"))
    acc = sa.table(scoring.tables.accounts, sa.column("account_id"), sa.column("mrr"))
    usage.schema = acc.schema = scoring.tables.schema_
    with warehouse.connect() as conn:
        first, last = conn.execute(sa.select(sa.func.min(usage.c.day), sa.func.max(usage.c.day))).one()
        early = sa.func.avg(sa.case((usage.c.day < first + dt.timedelta(days=30), usage.c.dau)))
        recent = sa.func.avg(sa.case((usage.c.day > last - dt.timedelta(days=30), usage.c.dau)))
        query = sa.select(usage.c.account_id, early, recent).group_by(usage.c.account_id)
        decline = {str(a): 1 - float(r or 0) / float(e) if e else 0.0 for a, e, r in conn.execute(query)}
        mrr = {str(a): float(m or 0) for a, m in conn.execute(sa.select(*acc.c))}
    rows = draw_churn(decline, mrr, start, report_at, seed)
    _replace_table(warehouse, churn_table("churn_events", scoring.tables.schema_), rows)
    churn_usage(warehouse, scoring, rows, mrr)
    return rows


# what a customer does in the product; storage (data at rest), plan constants and billing flags stay as they were
ACTIVITY = ("seats_used", "dau", "wau", "api_calls", "features_used", "premium_features_used", "power_users_advanced",
            "power_actions", "total_actions", "sessions", "session_minutes", "collaboration_events",
            "active_integrations", "admin_invites", "new_user_activations", "reports_created")  # fmt: skip
DOWNGRADE_KEEP = 0.6  # a downgrade of an account with no MRR to lose (free tier): 40 % less activity


def churn_usage(
    warehouse: sa.Engine, scoring: ScoringConfig, rows: Sequence[dict[str, Any]], mrr: dict[str, float]
) -> None:
    """The churn events' effect on the usage they were drawn from, in the warehouse: from the day after
    `churned_at`, a cancel stops all activity (the ACTIVITY counts become 0: the account stays, nobody uses it)
    and a downgrade lowers it by the share of MRR it lost (churned_mrr / mrr; DOWNGRADE_KEEP for an account
    with no MRR). Later events of an account apply on top of earlier ones; usage before an event is untouched.
    One UPDATE ... FROM over (account, after, until, keep) spans that never overlap (80 events: one statement)."""
    spans: list[dict[str, Any]] = []
    by_account: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: r["churned_at"]):
        by_account.setdefault(r["account_id"], []).append(r)
    for account, events in by_account.items():
        keep = 1.0
        for n, r in enumerate(events):
            paid = mrr.get(account, 0.0)
            lost = (
                1.0 if r["kind"] == "cancel" else min(1.0, r["churned_mrr"] / paid) if paid > 0 else 1 - DOWNGRADE_KEEP
            )
            keep *= 1 - lost
            until = events[n + 1]["churned_at"].date() if n + 1 < len(events) else dt.date.max
            spans.append({"account": account, "after": r["churned_at"].date(), "until": until, "keep": keep})
    if not spans:
        return
    values = ", ".join(f"(:a{i}, :f{i}, :u{i}, :k{i})" for i in range(len(spans)))
    params: dict[str, Any] = {}
    for i, span in enumerate(spans):
        params |= {f"a{i}": span["account"], f"f{i}": span["after"], f"u{i}": span["until"], f"k{i}": span["keep"]}
    sets = ", ".join(f"{col} = CAST(round({col} * e.keep) AS BIGINT)" for col in ACTIVITY)
    with warehouse.begin() as conn:
        usage = WarehouseSession(conn, scoring.tables.schema_).table(scoring.tables.usage_daily)
        conn.execute(
            sa.text(
                f"UPDATE {usage} SET {sets} FROM (VALUES {values}) AS e(account, after_day, until_day, keep) "
                f"WHERE {usage}.account_id = e.account AND {usage}.day > e.after_day AND {usage}.day <= e.until_day"
            ),
            params,
        )
