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
import errno
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler

from syncer.config import Config, load_config
from syncer.connector import Destination
from syncer.daemon.jobs import BuiltinJobs, Counts
from syncer.daemon.settings import DaemonSettings, load_settings
from syncer.daemon.slots import OK_STATUSES, SLOT_RETENTION, Outcome, SlotRunner
from syncer.daemon.syncs import StoppableJob, SyncRunner
from syncer.errors import ConfigError, ConfigIssue
from syncer.lease import LeaseStore
from syncer.logs import setup_logging
from syncer.metrics import Metrics
from syncer.metrics import install as install_metrics
from syncer.ops_alerts import LogNotifier, Notifier, OpsAlerts, SlackNotifier, WebhookNotifier
from syncer.registry import build_connector
from syncer.runner import Runtime
from syncer.scheduler import RETRY_PREFIX, JobSpec, apply_jobs, job_specs, new_scheduler
from syncer.secrets import mask
from syncer.source import warehouse_engine
from syncer.state import StateStore, utcnow
from syncer.synclog import SyncLog

log = logging.getLogger("syncer.daemon")


class Daemon(SlotRunner, SyncRunner, BuiltinJobs):
    """The scheduled jobs of one replica: one firing (daemon/slots.py) runs a sync (daemon/syncs.py) or a
    built-in job (daemon/jobs.py); here: wiring, health, reload and shutdown."""

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
        # DuckDB locks its file per process: hold no idle connection, or every CLI command is locked out
        pool = {"poolclass": sa.pool.NullPool} if config.warehouse.url.startswith("duckdb") else {}
        self.warehouse = warehouse_engine(config.warehouse, str(config.path), pool_pre_ping=True, **pool)
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


def run_daemon(config_path: str | os.PathLike[str] | None) -> int:
    """The `syncer daemon` command: serve until SIGTERM/SIGINT; exit 0 within the grace period."""
    from syncer.server import DaemonHTTPServer

    config = load_config(config_path)
    settings = load_settings(config)
    setup_logging(config.app.log_format, config.app.log_level)
    daemon = Daemon(config, settings, config.open_state())
    wake = threading.Event()
    flags = {"term": False, "hup": False}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        flags["hup" if signum == signal.SIGHUP else "term"] = True
        wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        server = DaemonHTTPServer(
            settings.host,
            settings.port,
            daemon.readiness,
            daemon.metrics.exposition,
            daemon.report_file,
            viewer_token=settings.viewer_token,
        )
    except OSError as exc:
        daemon.close()
        raise ConfigError([listen_issue(str(config.path), settings.host, settings.port, exc)]) from None
    try:
        _write_port_file(server.port)
    except OSError as exc:
        server.server_close()
        daemon.close()
        raise ConfigError([ConfigIssue("environment", "SYNCER_PORT_FILE", f"cannot write it ({exc})")]) from None
    server.start()
    ids = daemon.start_scheduler()
    if not ids:  # a schedule that schedules nothing is refused (scheduler.job_specs); none given is said here
        log.warning("nothing is scheduled: no mapping has a [schedule] and no built-in job runs; serving /healthz only")
    log.info(
        "daemon %s up: http on %s:%d, %d scheduled job(s): %s",
        daemon.owner, settings.host, server.port, len(ids), ", ".join(ids) or "none",
    )  # fmt: skip
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


def listen_issue(file: str, host: str, port: int, exc: OSError) -> ConfigIssue:
    """Why the daemon cannot serve /healthz on `host:port`, naming the key to change (exit 2: the environment)."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EADDRINUSE, errno.EACCES):
        if exc.errno == errno.EADDRINUSE:
            fix = "another process listens there: stop it, or set [daemon] port to a free one"
        else:
            fix = "ports below 1024 need privileges: set [daemon] port to 1024 or above"
        return ConfigIssue(file, "daemon.port", f"cannot listen on {host}:{port} ({reason}): {fix}")
    return ConfigIssue(
        file,
        "daemon.host",
        f"cannot listen on {host!r} ({reason}): set [daemon] host to an address of this machine"
        " (0.0.0.0: every interface, 127.0.0.1: this host only)",
    )


def _write_port_file(port: int) -> None:
    """Tests and scripts that start the daemon on port 0 read the real port from here."""
    path = os.environ.get("SYNCER_PORT_FILE")
    if path:
        Path(path).write_text(str(port))


__all__ = [
    "OK_STATUSES",
    "RETRY_PREFIX",
    "SLOT_RETENTION",
    "Counts",
    "Daemon",
    "DaemonSettings",
    "Outcome",
    "StoppableJob",
    "build_connector",
    "load_settings",
    "run_daemon",
]
