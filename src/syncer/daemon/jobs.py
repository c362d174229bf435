"""The daemon's built-in jobs: `score` (scoring refresh), `alerts` (evaluate fired triggers, ping, create
tasks), `digest` (send the digests that are due), `escalate` (alerts not worked within the SLA) and `report`
(rewrite the outcomes report).

They run on the same path as the syncs (lease, job_slots, dependants: see daemon/slots.py); BuiltinJobs is
mixed into Daemon, which sets the attributes declared below.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from syncer.config import Config
from syncer.errors import described
from syncer.metrics import Metrics
from syncer.ops_alerts import Observation, OpsAlerts
from syncer.runner import Runtime
from syncer.scheduler import ALERTS_JOB, DIGEST_JOB, ESCALATE_JOB, INTRADAY_JOB, SCORE_JOB
from syncer.secrets import mask
from syncer.source import Source
from syncer.state import StateStore

if TYPE_CHECKING:
    from syncer.alerts import AlertEngine
    from syncer.alerts.outbox import Delivered
    from syncer.daemon.settings import DaemonSettings

log = logging.getLogger("syncer.daemon")
Counts = tuple[int, int, int]  # sent, failed, rejected: what a built-in job tells the ops alerts


class BuiltinJobs:
    """The built-in jobs of Daemon (daemon.py)."""

    config: Config
    settings: DaemonSettings
    state: StateStore
    clock: Callable[[], dt.datetime]
    runtime: Callable[[], Runtime]
    metrics: Metrics
    alerts: OpsAlerts
    warehouse: sa.Engine

    def _builtin(self, name: str) -> str:
        """A built-in job; its outcome feeds the runs metrics and the `failed` ops alert like a sync's."""
        started = time.perf_counter()
        if name == SCORE_JOB:
            status = self._score()
        else:
            jobs = {
                ALERTS_JOB: self._alerts,
                DIGEST_JOB: self._digest,
                ESCALATE_JOB: self._escalate,
                INTRADAY_JOB: self._intraday,
            }
            try:
                status, (sent, failed, rejected) = jobs[name]() if name in jobs else self._report()
            except Exception as exc:  # Slack/CRM fatal errors, an unreachable warehouse, a bug
                error = mask(described(exc))
                log.error("%s job failed: %s", name, error)
                self.alerts.observe_run(Observation(name, "error", error, 0, 0, 0, None, None, name, None))
                status = "error"
            else:
                self.alerts.observe_run(Observation(name, status, None, sent, failed, rejected, None, None, name, None))
        self.metrics.record_job(name, status, time.perf_counter() - started)
        return status

    def _alert_engine(self) -> AlertEngine:
        from syncer.alerts import AlertEngine

        # Built per run (cheap next to the run): a reload's config applies at once, nothing is shared between
        # the alert jobs' threads, and each run's connections are closed at its end.
        engine = AlertEngine.from_config(self.config, self.state, self.runtime(), self.clock)
        engine.ops_alerts = self.alerts  # an automatic canary rollback is an ops alert
        return engine

    def _alerts(self) -> tuple[str, Counts]:
        now = self.clock()
        engine = self._alert_engine()
        source = Source(self.config.warehouse, self.config.base_dir, str(self.config.path))
        rows = cast(Generator[dict[str, Any]], source.stream(engine.settings.alerts.model, self.config.base_dir))
        try:
            report = engine.evaluate_and_deliver(now, rows=rows)
            self._count_fired(engine, report.evaluation.opened_keys)
            from syncer.intraday.latency import record_actions

            record_actions(engine.engine, now, self.metrics.event_to_action)
        finally:
            rows.close()
            source.close()
            engine.close()
        self.metrics.alerts_pinged.labels("slack").inc(report.pings.sent.get("ping", 0))
        self.metrics.alerts_pinged.labels("email").inc(report.emails.sent.get("email", 0))
        ev = report.evaluation
        self.metrics.alerts_deferred.inc(sum(ev.deferred.values()))
        for reason, n in {**ev.suppressed, "backlog": ev.backlog, "holdout": ev.holdout}.items():
            self.metrics.alerts_suppressed.labels(reason).inc(n)
        log.info("alerts job: %s", report.as_dict())
        return _delivery_status(report.pings, report.tasks, report.emails, report.webhooks)

    def _intraday(self) -> tuple[str, Counts]:
        from syncer.intraday.job import run_lane
        from syncer.intraday.latency import lane_latency
        from syncer.intraday.settings import LANE

        lane = self.settings.intraday
        assert lane is not None  # the job exists only with [daemon.intraday]
        now = self.clock()
        engine = self._alert_engine()
        triggers = [t for t in self.config.scoring.triggers if t.lane == LANE]
        try:
            run = run_lane(engine, self.warehouse, lane, triggers, now, self.metrics.event_to_action, self.clock)
            self._count_fired(engine, run.keys)
            latency = lane_latency(engine.engine, now - dt.timedelta(hours=1)).get(LANE)
        finally:
            engine.close()
        self.metrics.intraday_queries.inc(run.queries)
        self.metrics.intraday_rows.inc(run.rows_read)
        self.alerts.observe_latency(LANE, latency, lane.budget_seconds)
        if run.accounts:
            log.info("intraday job: %s", run.as_dict())
        return _delivery_status(*run.delivered)

    def _count_fired(self, engine: AlertEngine, keys: list[str]) -> None:
        from syncer.alerts.store import alerts

        with engine.engine.connect() as conn:
            for start in range(0, len(keys), 900):
                query = sa.select(alerts.c.trigger, alerts.c.priority).where(
                    alerts.c.key.in_(keys[start : start + 900])
                )
                for trigger, priority in conn.execute(query):
                    self.metrics.alerts_fired.labels(trigger, priority).inc()

    def _digest(self) -> tuple[str, Counts]:
        from syncer.alerts.store import digests

        now = self.clock()
        engine = self._alert_engine()
        try:
            result = engine.send_due_digests(now)
            with engine.engine.connect() as conn:
                for built in result["built"]:  # counted once: a recipient's day is built once
                    where = (digests.c.recipient == built["recipient"], digests.c.local_date == built["date"])
                    count = conn.scalar(sa.select(digests.c.alerts).where(*where)) or 0
                    self.metrics.alerts_digested.labels("slack").inc(count)
        finally:
            engine.close()
        self.metrics.alerts_digested.labels("email").inc(sum(b["alerts"] for b in result["email_built"]))
        if result["built"] or result["messages"] or result["email_built"]:
            log.info("digest job: %s", result)
        failed = int(result["failed"]) + int(result["email_failed"])
        rejected = int(result["rejected"]) + int(result["email_rejected"])
        sent = int(result["messages"]) + int(result["emails"])
        return ("partial" if failed or rejected else "ok"), (sent, failed, rejected)

    def _escalate(self) -> tuple[str, Counts]:
        now = self.clock()
        engine = self._alert_engine()
        try:
            done = engine.escalate(now)
        finally:
            engine.close()
        self.metrics.alerts_escalated.labels("slack").inc(done.delivered.sent.get("escalation", 0))
        if done.escalated or done.delivered.sent:
            log.info("escalate job: %d checked, %d escalated", done.checked, len(done.escalated))
        return _delivery_status(done.delivered)

    def _report(self) -> tuple[str, Counts]:
        from syncer.outcomes.command import write_latest

        path = write_latest(self.config, self.state, self.clock())
        log.info("report job: %s", f"wrote {path}" if path else "no [report].path; nothing written")
        return ("ok" if path else "skipped"), (0, 0, 0)

    def report_file(self) -> Path | None:
        """The HTML report the report job keeps (for /report), when [report].path is set."""
        raw = (self.config.raw.get("report") or {}).get("path")
        if not raw:
            return None
        path = Path(str(raw))
        return path if path.is_absolute() else self.config.base_dir / path

    def _score(self) -> str:
        try:
            from syncer.scoring.model import ScoringConfig
            from syncer.scoring.refresh import refresh_scores
        except ImportError as exc:
            log.warning("score job: syncer.scoring is not available (%s); no refresh, dependants still run", exc)
            return "skipped"
        try:
            cfg = ScoringConfig.model_validate(self.config.raw["scoring"])
            tz = ZoneInfo(self.settings.score.timezone if self.settings.score else "UTC")
            as_of = self.clock().astimezone(tz).date() - dt.timedelta(days=self.settings.score_lag_days)
            result = refresh_scores(self.warehouse, cfg, as_of)
        except Exception as exc:
            error = mask(described(exc))
            log.error("score refresh failed: %s", error)
            self.alerts.observe_run(Observation(SCORE_JOB, "error", error, 0, 0, 0, None, None, "warehouse", None))
            return "error"
        self.metrics.record_guard(result.guard.state)
        self.alerts.observe_run(Observation(SCORE_JOB, "ok", None, 0, 0, 0, None, None, "warehouse", None))
        self.alerts.observe_guard(result.guard.state, result.guard.reasons)
        log.info("score refresh as of %s: %s, %d accounts", as_of, result.guard.state, result.accounts_scored)
        return "ok" if result.published else "guarded"


def _delivery_status(*parts: Delivered) -> tuple[str, Counts]:
    """ok, or partial when a message/task failed (the outbox retries it next run) or was rejected."""
    sent = sum(sum(p.sent.values()) for p in parts)
    failed, rejected = sum(p.failed for p in parts), sum(p.rejected for p in parts)
    return ("partial" if failed or rejected else "ok"), (sent, failed, rejected)
