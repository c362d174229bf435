"""`syncer demo`: the whole product on one machine, with no credentials and no network.

It builds a synthetic DuckDB warehouse, scores it in the warehouse, starts loopback emulators of
HubSpot, Salesforce (HTTPS), Slack and an in-app messaging webhook, then runs the example
config (`config.example.toml` + `mappings/`) exactly as a user would: plan, run, advance one
simulated day, plan and run again to show that only the changes move. Everything it made stays in the
demo folder, so `syncer runs`, `syncer audit` and friends can be pointed at it afterwards.

Simulated time is always in the past. The live days end with the alert report at REPORT_TIME local
(`DIGEST_ZONE`) the day after the last scored day; `last_scored_day` picks the latest day whose schedule
(07:10 syncs, 08:00 alerts, 09:01 digests, 10:00 escalations, 12:00 report) is over by the real now, so no
age `syncer alerts` shows is negative and no digest or report is dated in the future. The synthetic usage
always runs to yesterday (what a served daemon scores next); before noon the live days are a day older.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from syncer.config import load_config
from syncer.demo.history import History
from syncer.demo.services import (
    DEMO_SECRETS,
    ENTERPRISE,
    FALLBACK,
    HUBSPOT_PROPERTIES,
    Services,
    email_csm,
    enable_email,
    name_accounts,
    person_name,
    start_services,
    work_some_tasks,
)
from syncer.runner import Runtime, Summary, SyncJob
from syncer.scoring.model import ScoringConfig
from syncer.scoring.refresh import ScoreSummary, refresh_scores
from syncer.scoring.synthetic import REALISTIC_MIX, build_world
from syncer.tables import print_table
from syncer.wording import plural

EXAMPLES = Path(__file__).parent.parent / "examples"
SYNC_ORDER = ("hubspot_companies", "salesforce_accounts", "inapp_low_tier")
DIGEST_ZONE = ZoneInfo("America/New_York")
REPORT_TIME = dt.time(12, 0)  # the last simulated instant: the report, the day after the last scored day
HISTORY_WINDOW = 30  # each evaluation scores this many days of usage up to it (so the first is day 30 of the world)


def last_scored_day(now: dt.datetime, zone: ZoneInfo = DIGEST_ZONE) -> date:
    """The last day the live demo scores, for a real aware `now`: the latest day D such that the next day's
    schedule, up to the report at D + 1 REPORT_TIME in `zone`, is over by `now` (yesterday from noon local,
    the day before yesterday before it). Every simulated instant is then in the past."""
    local = now.astimezone(zone)
    report_day = (local - dt.timedelta(hours=REPORT_TIME.hour, minutes=REPORT_TIME.minute)).date()
    return report_day - timedelta(days=1)


def pings_per_rep(state: sa.Engine, opened_at: dt.datetime) -> dict[str, int]:
    """Owner -> alerts the evaluation at `opened_at` opened that went out as an immediate ping (within budget)."""
    from syncer.alerts.store import alerts

    at = opened_at  # bound as the engine stored it (SQLite keeps the wall time of the instant it was given)
    query = (
        sa.select(alerts.c.owner_email, sa.func.count())
        .where(alerts.c.opened_at >= at, alerts.c.opened_at < at + dt.timedelta(hours=1), alerts.c.delivery == "ping")
        .group_by(alerts.c.owner_email)
    )
    with state.connect() as conn:
        return {str(owner): int(n) for owner, n in conn.execute(query)}


def prepare_folder(folder: Path, warehouse_url: str) -> Path:
    """Copy the example config and mappings into the demo folder; start from empty state. The alert model also
    selects `accounts.owner_name` (name_accounts adds it), so emails and fallback posts name the owner."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder / "data", ignore_errors=True)
    text = (EXAMPLES / "config.example.toml").read_text(encoding="utf-8")
    model = "f.owner_email, a.segment"  # the [alerts.model] query: the demo's accounts also know owner names
    if model not in text:
        raise ValueError(f"{EXAMPLES / 'config.example.toml'}: the [alerts.model] query no longer selects {model}")
    (folder / "config.toml").write_text(text.replace(model, "f.owner_email, a.owner_name, a.segment", 1))
    shutil.rmtree(folder / "mappings", ignore_errors=True)
    shutil.copytree(EXAMPLES / "mappings", folder / "mappings")
    return folder / "config.toml"


class Demo:
    def __init__(self, folder: Path, accounts: int, days: int, seed: int, console: Console) -> None:
        self.folder = folder.resolve()
        self.accounts, self.days, self.seed = accounts, days, seed
        self.console = console
        self.rows: list[tuple[str, str, Summary]] = []
        self.alert_rows: list[tuple[str, dict[str, Any], dict[str, Any], int]] = []
        self.history: History | None = None
        self.churn: list[dict[str, Any]] = []
        self.reps = 0  # account owners in the synthetic world
        self.started = dt.datetime.now(dt.UTC)  # the real now: every simulated instant is before it
        self.sim_now = self.started  # the live days' simulated clock (Slack message times)
        self.world_start = date.min  # the synthetic usage's first day (set by run)
        self.timeline: list[tuple[dt.datetime, str]] = []  # what happened in the live days, simulated local time

    def step(self, text: str) -> None:
        self.console.print(f"[bold cyan]>[/bold cyan] {text}")

    def run(self, serve_port: int | None = None) -> int:
        """The demo; with `serve_port`, then keep the emulators and a daemon up until Ctrl-C (demo/serve.py)."""
        started = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        warehouse_path = self.folder / "warehouse.duckdb"
        warehouse_path.unlink(missing_ok=True)
        warehouse_url = f"duckdb:///{warehouse_path}"
        engine = sa.create_engine(warehouse_url)
        self.step(
            f"building a synthetic warehouse: {plural(self.accounts, 'account')} x {plural(self.days, 'day')} (DuckDB)"
        )
        today = self.started.astimezone(DIGEST_ZONE).date()
        world_end = build_world(  # the usage runs to yesterday, so a served daemon's jobs make sense
            engine,
            accounts=self.accounts,
            days=self.days,
            seed=self.seed,
            as_of=today - timedelta(days=1),
            mix=REALISTIC_MIX,
        )
        self.world_start = world_end - timedelta(days=self.days - 1)
        last_day = min(world_end, last_scored_day(self.started))  # the live days' schedule is in the past
        scoring = ScoringConfig()
        first_day = last_day - timedelta(days=1)
        name_accounts(engine)
        self._churn(engine, first_day, last_day)
        with engine.connect() as conn:
            self.reps = int(conn.execute(sa.text("SELECT count(DISTINCT owner_email) FROM accounts")).scalar_one())
        config_path = prepare_folder(self.folder, warehouse_url)
        services = start_services(self.folder, engine)
        for clocked in (services.slack, services.email):  # messages carry the simulated time
            clocked.wall_clock = lambda: self.sim_now.timestamp()
        env = {"SYNCER_WAREHOUSE_URL": warehouse_url, **services.env}
        os.environ.update(env)
        # demo-only values (the fake secrets are the emulators'): lets `syncer runs` etc. load this config later
        (self.folder / "demo.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        try:
            self._history(config_path, engine, scoring, first_day)
            self.step(f"scoring in the warehouse as of {first_day}")
            self._score(engine, scoring, first_day)
            csm = email_csm(self._dry_run(config_path, last_day), services.slack)
            enable_email(config_path, csm)
            self.step(f"{person_name(csm)[0]} ({csm}) prefers email: their alerts and digests go out over SMTP")
            engine.dispose()
            self._syncs(config_path, "day 1", show_plan=True, day=last_day)
            self._alerts(config_path, "day 1", last_day)
            self.step(f"one simulated day later: scoring as of {last_day}")
            engine = sa.create_engine(warehouse_url)
            self._score(engine, scoring, last_day)
            engine.dispose()
            self._syncs(config_path, "day 2", show_plan=True, day=last_day + timedelta(days=1))
            worked = work_some_tasks(services.salesforce, share=0.6, seed=self.seed, day=last_day)
            self.step(f"overnight, account owners completed {worked} of the CRM tasks")
            evening = dt.datetime.combine(last_day, dt.time(18, 0), DIGEST_ZONE)
            completed = plural(worked, "Salesforce task")
            self.timeline.append((evening, f"Account owners completed {completed} during the day"))
            self._alerts(config_path, "day 2", last_day + timedelta(days=1))
            report = self._report(config_path, warehouse_url, last_day + timedelta(days=1))
            page = self._write_page(services)
            self._summary(time.monotonic() - started, config_path, page, report, serving=serve_port is not None)
            if serve_port is not None:
                from syncer.demo.serve import serve

                services.slack.wall_clock = services.email.wall_clock = time.time  # live from here on
                return serve(config_path, page, serve_port, self.console.print)
        finally:
            services.stop()
        return 0

    def _history_days(self, first_live: date) -> list[date]:
        """Every day from the first with HISTORY_WINDOW days of usage up to it, to the day before `first_live`."""
        first = self.world_start + timedelta(days=HISTORY_WINDOW - 1)
        return [first + timedelta(days=n) for n in range((first_live - first).days)]

    def _report_time(self, last_day: date) -> dt.datetime:
        return dt.datetime.combine(last_day + timedelta(days=1), REPORT_TIME, DIGEST_ZONE)

    def _churn(self, warehouse: sa.Engine, first_live: date, last_day: date) -> None:
        """The world's churn over the replayed span, drawn before anything reads the usage: a cancelled account
        stops using the product from the day after, a downgraded one uses it less (demo/history.py)."""
        from syncer.demo.history import MORNING, record_churn

        days = self._history_days(first_live)
        now = self._report_time(last_day)
        # from a day before the first evaluation (08:00 the next morning, its digests an hour later), as the report
        start = dt.datetime.combine(days[0], MORNING, DIGEST_ZONE) + timedelta(hours=1, minutes=1) if days else now
        self.churn = record_churn(warehouse, ScoringConfig(), start - timedelta(days=0 if days else 2), now, self.seed)

    def _history(self, config_path: Path, warehouse: sa.Engine, scoring: ScoringConfig, first_live: date) -> None:
        """The months before the two live days, in bulk (demo/history.py): alerts mature, reps work tasks."""
        from syncer.alerts import AlertEngine
        from syncer.demo.history import replay

        days = self._history_days(first_live)
        if not days:
            return
        self.step(
            f"replaying {plural(len(days), 'daily evaluation')} from {days[0]} to {days[-1]} "
            "(triggers in bulk in the warehouse, alerts in state, deliveries to an in-process ledger)"
        )
        config = load_config(config_path)
        state = config.open_state()
        engine = AlertEngine.from_config(config, state)
        try:
            self.history = replay(engine, warehouse, scoring, days, DIGEST_ZONE, seed=self.seed)
        finally:
            engine.close()
            state.close()
        h = self.history
        self.console.print(f"  {h.line()}", highlight=False)

    def _dry_run(self, config_path: Path, day: date) -> dict[str, dict[str, list[str]]]:
        """Who the first live day's 08:00 evaluation would alert (the engine's dry run: nothing sent or kept)."""
        from syncer.alerts import AlertEngine

        config = load_config(config_path)
        state = config.open_state()
        engine = AlertEngine.from_config(config, state)
        try:
            morning = dt.datetime.combine(day, dt.time(8), DIGEST_ZONE)
            plan: dict[str, dict[str, list[str]]] = engine.dry_run(now=morning)["recipients"]
            return plan
        finally:
            engine.close()
            state.close()

    def _score(self, engine: sa.Engine, config: ScoringConfig, as_of: date) -> ScoreSummary:
        summary = refresh_scores(engine, config, as_of)
        tiers = ", ".join(f"{k} {v}" for k, v in sorted(summary.pql_tiers.items()))
        self.console.print(
            f"  scored {plural(summary.accounts_scored, 'account')} ({tiers}); {summary.triggers_fired} "
            f"triggers fired; data-quality guard: {summary.guard.state}"
        )
        return summary

    def _syncs(self, config_path: Path, label: str, show_plan: bool, day: date) -> None:
        config = load_config(config_path)
        state = config.open_state()
        try:
            for name in SYNC_ORDER:
                job = SyncJob(config, name, state, Runtime())
                try:
                    if show_plan:
                        plan = job.plan()
                        t = plan.tally
                        self.step(f"{label} plan {name}: +{t.added} ~{t.changed} -{t.removed} ={t.unchanged}")
                    summary = job.run()
                finally:
                    job.close()
                self.console.print(
                    f"  run {name}: {summary.succeeded} ok, {summary.failed} failed, "
                    f"{summary.rejected + summary.bad_rejected} rejected, {plural(summary.api_calls, 'API call')} "
                    f"({summary.duration_s:.1f} s)"
                )
                self.rows.append((label, name, summary))
                at = dt.datetime.combine(day, dt.time(7, 10 * (SYNC_ORDER.index(name) + 1)), DIGEST_ZONE)
                self.sim_now = at
                t = summary.tally
                calls = plural(summary.api_calls, "API call")
                self.timeline.append(
                    (at, f"sync {name}: {t.added} added, {t.changed} changed, {t.removed} removed, "
                         f"{t.unchanged} unchanged; {summary.succeeded} written in {calls}")
                )  # fmt: skip
        finally:
            state.close()

    def _alerts(self, config_path: Path, label: str, day: date) -> None:
        """Evaluate fired triggers at 08:00 local, send the 09:00 digest, escalate what is past its SLA."""
        from syncer.alerts import AlertEngine

        morning = dt.datetime.combine(day, dt.time(8, 0), DIGEST_ZONE)
        config = load_config(config_path)
        state = config.open_state()
        engine = AlertEngine.from_config(config, state)
        try:
            self.sim_now = morning
            report = engine.evaluate_and_deliver(now=morning)
            self.sim_now = morning + dt.timedelta(hours=1, minutes=1)
            digests = engine.send_due_digests(now=self.sim_now)
            self.sim_now = morning + dt.timedelta(hours=2)
            escalated = engine.escalate(now=self.sim_now)
            fallbacks = sum(1 for a in engine.open_alerts(now=morning) if a.get("fallback_reason"))
            per_rep = pings_per_rep(state.engine, morning)
        finally:
            engine.close()
            state.close()
        r = report.as_dict()
        r["pings_per_rep"] = {"reps": self.reps, "mean": round(sum(per_rep.values()) / max(1, self.reps), 3),
                              "max": max(per_rep.values(), default=0)}  # fmt: skip
        pings, tasks = plural(r["pings"], "Slack ping"), plural(r["tasks"], "CRM task")
        emails = plural(r["emails"], "alert email")
        messages = plural(digests["messages"], "Slack message")
        self.step(
            f"{label} alerts: {r['opened']} opened, {r['still_firing']} still firing (no repeat), "
            f"{r['cleared']} cleared, {pings} and {emails} (immediate alerts: "
            f"{r['pings_per_rep']['mean']:.2f} a rep on average, the busiest rep "
            f"{plural(r['pings_per_rep']['max'], 'alert')}), {tasks}, "
            f"{plural(digests['messages'], 'digest message')}, {len(escalated.escalated)} escalated, "
            f"{plural(fallbacks, 'open alert')} routed to the fallback channel"
        )
        self.alert_rows.append((label, r, digests, len(escalated.escalated)))
        self.timeline += [
            (morning, f"alerts: {r['opened']} opened ({pings}, {emails}, {tasks}), "
                      f"{r['still_firing']} still firing without a repeat, {r['cleared']} cleared"),
            (morning + dt.timedelta(hours=1, minutes=1), f"daily digests: {messages}"),
            (morning + dt.timedelta(hours=2), f"escalations: {len(escalated.escalated)} high alerts not worked "
                                              "within their SLA"),
        ]  # fmt: skip

    def _report(self, config_path: Path, warehouse_url: str, day: date) -> Path:
        """The alert -> action -> outcome report (no expansions yet after two days: it shows the pipeline)."""
        from syncer.demo.history import CHURN_CONFIG, record_expansions
        from syncer.outcomes import run_report
        from syncer.outcomes.model import load_outcome_settings

        config_path.write_text(config_path.read_text(encoding="utf-8") + CHURN_CONFIG, encoding="utf-8")
        config = load_config(config_path)
        state = config.open_state()
        path = self.folder / "report.html"
        now = self._report_time(day - timedelta(days=1))
        engine = sa.create_engine(warehouse_url)
        start = self.history.evaluations[0] - timedelta(days=1) if self.history else now - timedelta(days=2)
        window = load_outcome_settings(config.raw, str(config.path)).outcomes.window_days
        expansions = record_expansions(engine, state.engine, ScoringConfig(), start, now, window, self.seed)
        engine.dispose()
        churned = self.churn
        lost = {r["account_id"] for r in churned}
        self.step(
            f"{plural(len(expansions), 'expansion')} and {plural(len(churned), 'churn event')} "
            f"({plural(len(lost), 'account')}, {sum(r['kind'] == 'cancel' for r in churned)} cancelled) happened by "
            f"{now:%Y-%m-%d} (the synthetic world's hidden propensity and churn risk)"
        )
        try:
            run_report(config, state, html=path, now=now, echo=lambda _line: None)
        finally:
            state.close()
        self.step(f"alert outcomes report written: {path.name}")
        return path

    def _write_page(self, services: Services) -> Path:
        """The "what landed" page (demo/landed.py), from the emulators' stores."""
        from syncer.demo.landed import landed_page

        engine = sa.create_engine(f"duckdb:///{self.folder / 'warehouse.duckdb'}")
        with engine.connect() as conn:
            names = {str(a): str(n) for a, n in conn.execute(sa.text("SELECT account_id, name FROM accounts"))}
        engine.dispose()
        page = self.folder / "demo.html"
        page.write_text(landed_page(services, sorted(self.timeline), DIGEST_ZONE, names), encoding="utf-8")
        return page

    def _summary(self, seconds: float, config_path: Path, page: Path, report: Path, serving: bool) -> None:
        table = Table(title=f"syncer demo ({seconds:.1f} s)")
        for column in ("day", "sync", "added", "changed", "removed", "unchanged", "sent ok", "rejected", "API calls"):
            table.add_column(column, justify="right" if column not in ("day", "sync") else "left")
        for label, name, s in self.rows:
            t = s.tally
            table.add_row(
                label,
                name,
                *(
                    str(v)
                    for v in (
                        t.added,
                        t.changed,
                        t.removed,
                        t.unchanged,
                        s.succeeded,
                        s.rejected + s.bad_rejected,
                        s.api_calls,
                    )
                ),
            )
        print_table(table, self.console)
        from syncer.demo.serve import command_prefix

        env, program = command_prefix(self.folder)
        config = command_prefix(config_path.parent)[0].removeprefix("env $(cat ").removesuffix("demo.env)")
        self.console.print(f"What landed: {page}")
        self.console.print(f"Alert outcomes report: {report}")
        self.console.print("Explore what happened (from this folder; no venv activation needed):")
        commands = ["runs", "audit hubspot_companies --limit 5", "alerts", "digest --preview"]
        if serving:  # these talk to the emulators, which stay up only while serving
            commands += ["report", "run hubspot_companies --wait 120"]  # waits out the daemon's own run
        for command in commands:
            self.console.print(f"  {env} {program} {command} -c {config}config.toml", soft_wrap=True)
        if not serving:
            self.console.print(f"Keep it running with the dashboard: {program} demo --serve (or make demo-serve)")
        syncs = [{"day": label, "sync": name, **s.as_dict()} for label, name, s in self.rows]
        alerts = [
            {"day": label, **report, "digest": digests, "escalated": escalated}
            for label, report, digests, escalated in self.alert_rows
        ]
        (self.folder / "summary.json").write_text(json.dumps({"syncs": syncs, "alerts": alerts}, default=str, indent=1))


__all__ = ["DEMO_SECRETS", "ENTERPRISE", "FALLBACK", "HUBSPOT_PROPERTIES", "Demo", "Services", "start_services"]
