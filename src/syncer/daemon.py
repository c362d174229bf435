"""`syncer daemon`: every scheduled job, with leases, signals, endpoints, metrics and ops alerts.

One firing of a job (see scheduler.py) goes:

    slot = the scheduled fire time          (same on every replica)
    in-process lock on the job              (no overlap inside this process)
    lease on the job in the state DB        (no overlap across replicas; heartbeat renews it)
       busy? -> check again when that lease would expire (take over a dead replica's slot)
    claim (job, slot) in job_slots          (done already? -> nothing to do: each slot runs once)
    run the sync in this thread             (stops between batches on SIGTERM or a lost lease)
    metrics, ops alerts, sync log; release the lease
    run the jobs that list this one in `after`, for the same slot

Besides the syncs, the same path runs the built-in jobs: `score` (scoring refresh), `alerts`
(evaluate fired triggers, ping, create tasks), `digest` (send the digests that are due),
`escalate` (alerts not worked within the SLA) and `report` (rewrite the outcomes report).

Signals: SIGHUP reloads and re-validates config (on error the old schedule stays and the problem
is logged); SIGTERM/SIGINT stop taking work, let each running sync finish its current batch, and
exit 0 within `grace_seconds`. A run still busy then (a batch stuck in retries) is abandoned, which
is as safe as SIGKILL: state only holds acknowledged batches, and its lease expires within the TTL.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from syncer import registry, secrets
from syncer.config import Config, ScheduleConfig, load_config
from syncer.connector import Connector, Destination
from syncer.diff import Change, Differ
from syncer.errors import ConfigError, ConfigIssue
from syncer.lease import Lease, LeaseStore
from syncer.logs import setup_logging
from syncer.metrics import Metrics
from syncer.metrics import install as install_metrics
from syncer.ops_alerts import (
    LogNotifier,
    Notifier,
    Observation,
    OpsAlerts,
    OpsAlertSettings,
    SlackNotifier,
    WebhookNotifier,
)
from syncer.ratelimit import RateLimiter
from syncer.runner import Runtime, Summary, SyncJob
from syncer.scheduler import (
    ALERTS_JOB,
    DIGEST_JOB,
    ESCALATE_JOB,
    REPORT_JOB,
    RETRY_PREFIX,
    SCORE_JOB,
    JobSpec,
    apply_jobs,
    dependants,
    job_slots,
    job_specs,
    new_scheduler,
    prune_slots,
    schedule_retry,
    slot_for,
    slot_key,
)
from syncer.secrets import mask
from syncer.source import Source
from syncer.state import StateStore, utcnow
from syncer.synclog import SyncLog, SynclogSettings

if TYPE_CHECKING:
    from syncer.alerts import AlertEngine
    from syncer.alerts.outbox import Delivered

log = logging.getLogger("syncer.daemon")
Counts = tuple[int, int, int]  # sent, failed, rejected: what a built-in job tells the ops alerts
OK_STATUSES = ("ok", "partial", "skipped", "guarded")  # dependants run after these
SLOT_RETENTION = dt.timedelta(days=7)  # finished job_slots rows older than this are pruned (hourly)


class DaemonSettings(BaseModel):
    """`[daemon]` in config.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "0.0.0.0"
    port: int = Field(default=9108, ge=0, le=65535)
    lease_ttl_seconds: float = Field(default=60.0, ge=1)
    grace_seconds: float = Field(default=30.0, ge=0)
    misfire_grace_seconds: int = Field(default=300, ge=1)
    max_parallel: int = Field(default=4, ge=1, le=64)
    replica_id: str | None = None
    score: ScheduleConfig | None = None  # when the `score` job (scoring refresh) runs
    score_lag_days: int = Field(default=1, ge=0)  # score usage up to this many days before today
    ops_alert_webhook: str | None = None  # URL; may be a ${SECRET} reference
    ops_alert_channel: str | None = None  # Slack channel ID for ops alerts
    ops_alert_slack: str = "slack"  # the slack connector (in [connectors]) that posts them
    ops_alerts: OpsAlertSettings = Field(default_factory=OpsAlertSettings)
    synclog: SynclogSettings | None = None
    alerts: ScheduleConfig | None = None  # the built-in jobs' schedules (defaults: scheduler.DEFAULT_SCHEDULES)
    digest: ScheduleConfig | None = None
    escalate: ScheduleConfig | None = None
    report: ScheduleConfig | None = None

    def schedules(self) -> dict[str, ScheduleConfig | None]:
        return {ALERTS_JOB: self.alerts, DIGEST_JOB: self.digest, ESCALATE_JOB: self.escalate, REPORT_JOB: self.report}


def load_settings(config: Config) -> DaemonSettings:
    """Validate `[daemon]`; every problem is a ConfigIssue keyed `daemon.<key>`."""
    raw = dict(config.raw.get("daemon") or {})
    file, issues = str(config.path), []
    hook = raw.get("ops_alert_webhook")
    if isinstance(hook, str) and "${" in hook:
        resolved, missing = secrets.resolve(hook)
        issues += [ConfigIssue(file, "daemon.ops_alert_webhook", f"${{{m}}} is not set") for m in missing]
        raw["ops_alert_webhook"] = resolved
    try:
        settings = DaemonSettings.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(p) for p in ("daemon", *err["loc"]))
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
            issues.append(ConfigIssue(file, key, message))
        raise ConfigError(issues) from None
    if settings.ops_alert_channel:
        entry = config.connectors.get(settings.ops_alert_slack)
        if entry is None or entry.type != "slack":
            name = settings.ops_alert_slack
            issues.append(
                ConfigIssue(file, "daemon.ops_alert_slack", f"no slack connector named {name!r} in [connectors]")
            )
    issues += _section_issues(config)
    if issues:
        raise ConfigError(issues)
    if "scoring" in config.raw:
        try:
            from syncer.scoring.model import ScoringConfig

            ScoringConfig.model_validate(config.raw["scoring"])
        except ImportError:
            pass  # reported when the job runs
        except ValidationError as exc:
            raise ConfigError([ConfigIssue(file, "scoring", str(exc).splitlines()[0])]) from None
    return settings


def _section_issues(config: Config) -> list[ConfigIssue]:
    """[alerts]/[routing]/[digest] and [report] are validated at start-up, not at their first run."""
    issues: list[ConfigIssue] = []
    file = str(config.path)
    if "alerts" in config.raw:
        from syncer.alerts.model import check_connectors, load_alert_settings

        try:
            alert_settings = load_alert_settings(config.raw, file)
            check_connectors(alert_settings, {n: e.type for n, e in config.connectors.items()}, file)
        except ConfigError as exc:
            issues += exc.issues
    if "report" in config.raw or "outcomes" in config.raw:
        from syncer.outcomes.model import load_outcome_settings

        try:
            load_outcome_settings(config.raw, file)
        except ConfigError as exc:
            issues += exc.issues
    return issues


def build_connector(config: Config, name: str, runtime: Runtime, destination: Destination) -> Connector:
    """A connector from [connectors.<name>] outside a sync (the ops-alert Slack bot)."""
    entry = config.connectors[name]
    kind = registry.load(entry.type)
    limiter = RateLimiter(kind.rate_limit, clock=runtime.clock, sleep=runtime.sleep)
    return kind(entry.settings, destination, retry=runtime.retry, limiter=limiter)


class StoppableJob(SyncJob):
    """A SyncJob that stops feeding batches when `stop()` turns true, and keeps its connector.

    The change stream is cut between records; the runner then sends the partial batch it holds,
    collects every batch in flight, records them and returns: "finish the current batch". Removed
    records are only produced after the whole model was read, so a cut run never deletes anything.
    """

    def __init__(self, config: Config, name: str, state: StateStore, runtime: Runtime, stop: Callable[[], bool]):
        super().__init__(config, name, state, runtime)
        self.stop = stop
        self.stopped = False
        self.last_connector: Connector | None = None

    def connector(self) -> Connector:
        self.last_connector = super().connector()
        return self.last_connector

    def differ(self, full: bool, allow_deletes: bool = False) -> tuple[Differ, Iterator[Change]]:
        differ, changes = super().differ(full, allow_deletes)
        return differ, self._until_stopped(changes)

    def _until_stopped(self, changes: Iterator[Change]) -> Iterator[Change]:
        for change in changes:
            if self.stop():
                self.stopped = True
                return
            yield change


@dataclass(frozen=True)
class Outcome:
    """What one attempt at a slot did: ran (with the job status), skipped, or found the job busy."""

    kind: str  # ran | done | busy | local_busy | stopping
    status: str | None = None
    busy_until: dt.datetime | None = None
    takeover: bool = False


class Daemon:
    def __init__(
        self,
        config: Config,
        settings: DaemonSettings,
        state: StateStore,
        clock: Callable[[], dt.datetime] = utcnow,
        notifiers: Sequence[Notifier] | None = None,
        runtime: Callable[[], Runtime] = Runtime,
    ) -> None:
        self.config, self.settings, self.state, self.clock, self.runtime = config, settings, state, clock, runtime
        self.specs: dict[str, JobSpec] = job_specs(config, settings.score, settings.schedules())
        self.owner = settings.replica_id or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.leases = LeaseStore(state.engine, clock)
        self.metrics = Metrics()
        install_metrics(self.metrics)  # what /metrics serves is what metrics.current() returns
        self._own_notifiers = notifiers is None
        if notifiers is None:
            notifiers = self._notifiers(config, settings)
        self.alerts = OpsAlerts(state.engine, notifiers, settings.ops_alerts, self.metrics)
        self.warehouse = sa.create_engine(
            config.warehouse.url, connect_args=config.warehouse.connect_args, pool_pre_ping=True
        )
        self.synclog = SyncLog(self.warehouse, settings.synclog) if settings.synclog else None
        self.stopping = threading.Event()
        self.scheduler: BackgroundScheduler | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._active = 0
        self._idle = threading.Condition()
        self._latest_slot: dict[str, dt.datetime] = {}
        self._pruned_at: dt.datetime | None = None

    def _notifiers(self, config: Config, settings: DaemonSettings) -> list[Notifier]:
        """Webhook and/or Slack channel from [daemon]; neither: a warning log line per alert."""
        notifiers: list[Notifier] = []
        if settings.ops_alert_webhook:
            notifiers.append(WebhookNotifier(settings.ops_alert_webhook))
        if settings.ops_alert_channel:
            slack = build_connector(config, settings.ops_alert_slack, self.runtime(), Destination("message", "key"))
            notifiers.append(SlackNotifier(slack, settings.ops_alert_channel))
        return notifiers or [LogNotifier()]

    # -- one firing ---------------------------------------------------------------------------

    def fire(self, name: str) -> None:
        """APScheduler's entry point for job `name`: work out the slot and run it."""
        spec = self.specs.get(name)
        if spec is None:
            return
        now = self.clock()
        slot = slot_for(spec.trigger, now, self.settings.misfire_grace_seconds + 60)
        self._latest_slot[name] = slot
        self._attempt(name, slot)
        if self._pruned_at is None or now - self._pruned_at > dt.timedelta(hours=1):
            self._pruned_at = now
            try:
                prune_slots(self.state.engine, now - SLOT_RETENTION)
            except Exception as exc:  # housekeeping: never fails a job
                log.warning("job_slots not pruned: %s", mask(str(exc)))

    def retry(self, name: str, slot: dt.datetime) -> None:
        """A slot whose lease was busy: run it now unless it is done or a newer slot has fired."""
        if self._latest_slot.get(name, slot) > slot:
            return
        self._attempt(name, slot)

    def _attempt(self, name: str, slot: dt.datetime) -> None:
        outcome = self.run_slot(name, slot)
        if outcome.kind == "busy" and self.scheduler is not None and not self.stopping.is_set():
            at = (outcome.busy_until or self.clock()) + dt.timedelta(seconds=0.5)
            try:
                schedule_retry(self.scheduler, name, slot, at, self.retry)
            except Exception as exc:  # the scheduler is shutting down: the next slot covers it
                log.info("job %s: no retry for slot %s: %s", name, slot_key(slot), exc)

    def run_slot(self, name: str, slot: dt.datetime, after: str | None = None) -> Outcome:
        """Run job `name` for `slot` if nobody has, holding its lease; then its dependants."""
        if self.stopping.is_set():
            return Outcome("stopping")
        with self._locks_guard:
            local = self._locks.setdefault(name, threading.Lock())
        if not local.acquire(blocking=False):
            return Outcome("local_busy")
        try:
            outcome = self._run_locked(name, slot_key(slot, after))
        finally:
            local.release()
        if outcome.kind == "ran" and outcome.status in OK_STATUSES:
            for dep in dependants(self.specs, name):
                if not self.stopping.is_set():
                    self.run_slot(dep, slot, after=name)
        return outcome

    def _run_locked(self, name: str, key: str) -> Outcome:
        ttl = self.settings.lease_ttl_seconds
        if not self.leases.acquire(name, self.owner, ttl):
            holder = self.leases.holder(name)
            return Outcome("busy", busy_until=holder[1] if holder else None)
        lease = Lease(self.leases, name, self.owner, ttl)
        lease.start_heartbeat()
        with self._idle:
            self._active += 1
        try:
            claim = self._claim(name, key)
            if claim is None:
                return Outcome("done")
            if claim == "takeover":
                log.warning("job %s: taking over slot %s from a replica that stopped", name, key)
                self.metrics.takeovers.labels(name).inc()
            status, run_id = self._execute(name, lease)
            self._finish_claim(name, key, status, run_id)
            return Outcome("ran", status, takeover=claim == "takeover")
        finally:
            lease.release()
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _claim(self, name: str, key: str) -> str | None:
        """Claim (job, slot) under the lease: 'new', 'takeover' (a dead holder's), or None if done."""
        now = utcnow()
        with self.state.engine.begin() as conn:
            where = (job_slots.c.job == name, job_slots.c.slot == key)
            row = conn.execute(sa.select(job_slots.c.status).where(*where)).first()
            if row is None:
                conn.execute(
                    job_slots.insert().values(job=name, slot=key, owner=self.owner, status="running", started_at=now)
                )
                return "new"
            if row[0] in ("done", "failed"):
                return None
            conn.execute(job_slots.update().where(*where).values(owner=self.owner, status="running", started_at=now))
            return "takeover"

    def _finish_claim(self, name: str, key: str, status: str, run_id: int | None) -> None:
        final = "stopped" if status == "stopped" else "failed" if status in ("failed", "error") else "done"
        with self.state.engine.begin() as conn:
            conn.execute(
                job_slots.update()
                .where(job_slots.c.job == name, job_slots.c.slot == key)
                .values(status=final, run_id=run_id, finished_at=utcnow())
            )

    # -- the work -----------------------------------------------------------------------------

    def _execute(self, name: str, lease: Lease) -> tuple[str, int | None]:
        spec = self.specs.get(name)
        if spec is not None and spec.builtin:
            return self._builtin(name), None
        stop = lambda: self.stopping.is_set() or lease.lost.is_set()  # noqa: E731
        previous = self._previous_rows(name)
        job: StoppableJob | None = None
        try:
            job = StoppableJob(self.config, name, self.state, self.runtime(), stop)
            summary = job.run()
        except Exception as exc:
            error = mask(f"{type(exc).__name__}: {exc}")
            log.error("sync %s crashed: %s", name, error)
            run_id = self._close_running(name, error)
            self.metrics.runs.labels(name, "error").inc()
            connector = self.config.syncs[name].connector if name in self.config.syncs else "?"
            obs = Observation(name, "error", error, 0, 0, 0, None, None, connector, None)
            self.alerts.observe_run(obs)
            return "error", run_id
        finally:
            if job is not None:
                job.close()
        if job.stopped:
            summary.status = "stopped"
            self._mark_stopped(summary)
        self._after_run(name, job, summary, previous)
        return summary.status, summary.run_id

    def _after_run(self, name: str, job: StoppableJob, summary: Summary, previous: int | None) -> None:
        sync = self.config.syncs[name]
        connector = job.last_connector
        usage = getattr(connector, "api_usage", None) if connector is not None else None
        usage = usage if isinstance(usage, tuple) else None
        self.metrics.record_run(summary, sync.connector, connector.stats if connector else None, usage)
        log.info(
            "sync %s: %s (%d ok, %d failed, %d rejected, %.1fs)",
            name, summary.status, summary.succeeded, summary.failed, summary.rejected + summary.bad_rejected,
            summary.duration_s,
        )  # fmt: skip
        if summary.status != "stopped":
            obs = Observation(
                name, summary.status, summary.error, summary.succeeded, summary.failed,
                summary.rejected + summary.bad_rejected, summary.tally.source_rows, previous, sync.connector, usage,
            )  # fmt: skip
            self.alerts.observe_run(obs)
        if self.synclog is not None and summary.run_id is not None:
            try:
                self.synclog.write_run(self.state, summary.run_id)
            except Exception as exc:
                log.error("sync log for run %s not written: %s", summary.run_id, mask(str(exc)))

    def _previous_rows(self, name: str) -> int | None:
        for row in self.state.recent_runs(name, 10):
            if row["status"] in ("ok", "partial"):
                return int(row["source_rows"] or 0)
        return None

    def _mark_stopped(self, s: Summary) -> None:
        counts = {**s.tally.as_dict(), "succeeded": s.succeeded, "failed": s.failed}
        counts.update(rejected=s.rejected + s.bad_rejected, api_calls=s.api_calls)
        if s.run_id is not None:
            self.state.finish_run(s.run_id, "stopped", counts, "stopped between batches (shutdown or lost lease)")

    def _close_running(self, name: str, error: str) -> int | None:
        """A run that raised leaves its row `running`; we hold the lease, so that row is ours."""
        rows = self.state.recent_runs(name, 1)
        if rows and rows[0]["status"] == "running":
            self.state.finish_run(int(rows[0]["id"]), "failed", {}, error)
            return int(rows[0]["id"])
        return None

    def _builtin(self, name: str) -> str:
        """A built-in job; its outcome feeds the runs metrics and the `failed` ops alert like a sync's."""
        started = time.perf_counter()
        if name == SCORE_JOB:
            status = self._score()
        else:
            jobs = {ALERTS_JOB: self._alerts, DIGEST_JOB: self._digest, ESCALATE_JOB: self._escalate}
            try:
                status, (sent, failed, rejected) = jobs[name]() if name in jobs else self._report()
            except Exception as exc:  # Slack/CRM fatal errors, an unreachable warehouse, a bug
                error = mask(f"{type(exc).__name__}: {exc}")
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
        return AlertEngine.from_config(self.config, self.state, self.runtime(), self.clock)

    def _alerts(self) -> tuple[str, Counts]:
        now = self.clock()
        engine = self._alert_engine()
        source = Source(self.config.warehouse, self.config.base_dir, self.config.path.name)
        rows = cast(Generator[dict[str, Any]], source.stream(engine.settings.alerts.model, self.config.base_dir))
        try:
            report = engine.evaluate_and_deliver(now, rows=rows)
            self._count_fired(engine, report.evaluation.opened_keys)
        finally:
            rows.close()
            source.close()
            engine.close()
        self.metrics.alerts_pinged.labels("slack").inc(report.pings.sent.get("ping", 0))
        self.metrics.alerts_pinged.labels("email").inc(report.emails.sent.get("email", 0))
        log.info("alerts job: %s", report.as_dict())
        return _delivery_status(report.pings, report.tasks, report.emails, report.webhooks)

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
            error = mask(f"{type(exc).__name__}: {exc}")
            log.error("score refresh failed: %s", error)
            self.alerts.observe_run(Observation(SCORE_JOB, "error", error, 0, 0, 0, None, None, "warehouse", None))
            return "error"
        self.metrics.guard_ok.set(1 if result.guard.state == "ok" else 0)
        self.alerts.observe_run(Observation(SCORE_JOB, "ok", None, 0, 0, 0, None, None, "warehouse", None))
        self.alerts.observe_guard(result.guard.state, result.guard.reasons)
        log.info("score refresh as of %s: %s, %d accounts", as_of, result.guard.state, result.accounts_scored)
        return "ok" if result.published else "guarded"

    # -- health, reload, lifecycle ------------------------------------------------------------

    def readiness(self) -> dict[str, str]:
        checks = {}
        for name, engine in (("state_db", self.state.engine), ("warehouse", self.warehouse)):
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = mask(f"unreachable: {type(exc).__name__}")
        running = self.scheduler is not None and self.scheduler.running and not self.stopping.is_set()
        checks["scheduler"] = "ok" if running else "not running"
        return checks

    def start_scheduler(self) -> list[str]:
        self.scheduler = new_scheduler(self.settings.max_parallel)
        ids = apply_jobs(self.scheduler, self.specs, self.fire, self.settings.misfire_grace_seconds)
        self.scheduler.start()
        self.metrics.up.set(1)
        return ids

    def reload(self) -> bool:
        """SIGHUP: re-read and re-validate config; keep the old schedule if anything is wrong."""
        try:
            config = load_config(self.config.path)
            settings = load_settings(config)
            specs = job_specs(config, settings.score, settings.schedules())
        except ConfigError as exc:
            log.error("reload failed, keeping the current schedule:\n%s", mask(str(exc)))
            return False
        for key in ("host", "port", "max_parallel"):
            if getattr(settings, key) != getattr(self.settings, key):
                log.warning("daemon.%s changed; it takes effect at the next restart", key)
        notifiers_changed = any(
            getattr(settings, k) != getattr(self.settings, k)
            for k in ("ops_alert_webhook", "ops_alert_channel", "ops_alert_slack")
        ) or config.connectors.get(settings.ops_alert_slack) != self.config.connectors.get(settings.ops_alert_slack)
        self.config, self.settings, self.specs = config, settings, specs
        self.alerts.settings = settings.ops_alerts
        if self._own_notifiers and notifiers_changed:
            old, self.alerts.notifiers = self.alerts.notifiers, self._notifiers(config, settings)
            _close_notifiers(old)
        ids = apply_jobs(self.scheduler, specs, self.fire, settings.misfire_grace_seconds) if self.scheduler else []
        log.info("config reloaded: %d scheduled job(s): %s", len(ids), ", ".join(ids) or "none")
        return True

    def stop(self, grace: float | None = None) -> bool:
        """Stop taking work, wait up to `grace` for running jobs; True when they all finished."""
        self.stopping.set()
        self.metrics.up.set(0)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        grace = self.settings.grace_seconds if grace is None else grace
        with self._idle:
            finished = self._idle.wait_for(lambda: self._active == 0, timeout=grace)
        if finished:
            self.leases.release_all(self.owner)
        return finished

    def close(self) -> None:
        _close_notifiers(self.alerts.notifiers)
        self.warehouse.dispose()
        self.state.close()


def _close_notifiers(notifiers: Sequence[Notifier]) -> None:
    for notifier in notifiers:
        close = getattr(notifier, "close", None)
        if close is not None:
            close()


def _delivery_status(*parts: Delivered) -> tuple[str, Counts]:
    """ok, or partial when a message/task failed (the outbox retries it next run) or was rejected."""
    sent = sum(sum(p.sent.values()) for p in parts)
    failed, rejected = sum(p.failed for p in parts), sum(p.rejected for p in parts)
    return ("partial" if failed or rejected else "ok"), (sent, failed, rejected)


def run_daemon(config_path: str | os.PathLike[str] | None) -> int:
    """The `syncer daemon` command: serve until SIGTERM/SIGINT; exit 0 within the grace period."""
    from syncer.server import DaemonHTTPServer

    config = load_config(config_path)
    settings = load_settings(config)
    setup_logging(config.app.log_format, config.app.log_level)
    daemon = Daemon(config, settings, StateStore(config.state_url()))
    wake = threading.Event()
    flags = {"term": False, "hup": False}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        flags["hup" if signum == signal.SIGHUP else "term"] = True
        wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    server = DaemonHTTPServer(
        settings.host, settings.port, daemon.readiness, daemon.metrics.exposition, daemon.report_file
    ).start()
    ids = daemon.start_scheduler()
    log.info(
        "daemon %s up: http on %s:%d, %d scheduled job(s): %s",
        daemon.owner, settings.host, server.port, len(ids), ", ".join(ids) or "none",
    )  # fmt: skip
    _write_port_file(server.port)
    while True:
        wake.wait()
        wake.clear()
        if flags["term"]:
            break
        if flags["hup"]:
            flags["hup"] = False
            daemon.reload()
    log.info("stopping: no new runs; running syncs finish their current batch (grace %ss)", settings.grace_seconds)
    finished = daemon.stop()
    server.stop()
    if not finished:
        log.error("runs still busy after the grace period; exiting anyway (their leases expire within the TTL)")
        logging.shutdown()
        os._exit(0)  # worker threads are not daemonic; state only ever holds acknowledged batches
    daemon.close()
    log.info("stopped")
    return 0


def _write_port_file(port: int) -> None:
    """Tests and scripts that start the daemon on port 0 read the real port from here."""
    path = os.environ.get("SYNCER_PORT_FILE")
    if path:
        Path(path).write_text(str(port))


__all__ = ["RETRY_PREFIX", "Daemon", "DaemonSettings", "Outcome", "StoppableJob", "load_settings", "run_daemon"]
