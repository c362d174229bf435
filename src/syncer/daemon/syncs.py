"""One sync run inside the daemon: StoppableJob (stops between batches on SIGTERM or a lost lease), then
metrics, ops alerts and the sync log. SyncRunner is mixed into Daemon, which sets the attributes declared below.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from syncer.config import Config
from syncer.connector import Connector
from syncer.diff import Change, Differ
from syncer.errors import described
from syncer.lease import Lease
from syncer.metrics import Metrics
from syncer.ops_alerts import Observation, OpsAlerts
from syncer.runner import Runtime, Summary, SyncJob
from syncer.scheduler import JobSpec
from syncer.secrets import mask
from syncer.state import StateStore
from syncer.synclog import SyncLog

log = logging.getLogger("syncer.daemon")


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

    def connector(self, recipients: tuple[tuple[str, str], ...] = ()) -> Connector:
        self.last_connector = super().connector(recipients)
        return self.last_connector

    def differ(self, full: bool, allow_deletes: bool = False, for_run: bool = False) -> tuple[Differ, Iterator[Change]]:
        differ, changes = super().differ(full, allow_deletes, for_run)
        return differ, self._until_stopped(changes)

    def _until_stopped(self, changes: Iterator[Change]) -> Iterator[Change]:
        for change in changes:
            if self.stop():
                self.stopped = True
                return
            yield change


class SyncRunner:
    """What one firing of Daemon (daemon.py) runs: a sync, or a built-in job (daemon/jobs.py)."""

    config: Config
    state: StateStore
    runtime: Callable[[], Runtime]
    specs: dict[str, JobSpec]
    metrics: Metrics
    alerts: OpsAlerts
    synclog: SyncLog | None
    stopping: threading.Event
    _builtin: Callable[[str], str]  # daemon.jobs.BuiltinJobs

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
            error = mask(described(exc))
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
        if summary.error:
            log.error("sync %s: %s", name, summary.error)
        log.info(
            "sync %s: %s (%d ok, %d failed, %d rejected, %.1fs)",
            name, summary.status, summary.succeeded, summary.failed, summary.rejected + summary.bad_rejected,
            summary.duration_s,
        )  # fmt: skip
        if summary.status != "stopped":
            obs = Observation(
                name, summary.status, summary.error, summary.succeeded, summary.failed,
                summary.rejected + summary.bad_rejected, summary.tally.source_rows, previous, sync.connector, usage,
                summary.tally.held_deletes,
            )  # fmt: skip
            self.alerts.observe_run(obs)
        if self.synclog is not None and summary.run_id is not None:
            try:
                self.synclog.write_run(self.state, summary.run_id)
            except Exception as exc:
                log.error("sync log for run %s not written: %s", summary.run_id, mask(str(exc)))

    def _previous_rows(self, name: str) -> int | None:
        for row in self.state.recent_runs(name, 10):
            if row["status"] in ("ok", "partial", "out_of_sync"):
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
