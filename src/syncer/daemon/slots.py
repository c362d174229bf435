"""One firing of a scheduled job in the daemon (the steps are drawn in daemon.py's docstring): the slot,
the in-process lock, the lease, the claim in job_slots, then the job's dependants for the same slot.
SlotRunner is mixed into Daemon, which sets the attributes declared below.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler

from syncer.lease import Lease, LeaseStore
from syncer.metrics import Metrics
from syncer.scheduler import JobSpec, dependants, job_slots, prune_slots, schedule_retry, slot_for, slot_key
from syncer.secrets import mask
from syncer.state import StateStore, utcnow

if TYPE_CHECKING:
    from syncer.daemon.settings import DaemonSettings

log = logging.getLogger("syncer.daemon")
OK_STATUSES = ("ok", "partial", "out_of_sync", "skipped", "guarded")  # dependants run after these
SLOT_RETENTION = dt.timedelta(days=7)  # finished job_slots rows older than this are pruned (hourly)


@dataclass(frozen=True)
class Outcome:
    """What one attempt at a slot did: ran (with the job status), skipped, or found the job busy."""

    kind: str  # ran | done | busy | local_busy | stopping
    status: str | None = None
    busy_until: dt.datetime | None = None
    takeover: bool = False


class SlotRunner:
    """Daemon's (daemon.py) path from a scheduler firing to a run, once per slot across replicas."""

    settings: DaemonSettings
    state: StateStore
    clock: Callable[[], dt.datetime]
    specs: dict[str, JobSpec]
    owner: str
    leases: LeaseStore
    metrics: Metrics
    stopping: threading.Event
    scheduler: BackgroundScheduler | None
    _locks: dict[str, threading.Lock]
    _locks_guard: threading.Lock
    _active: int
    _idle: threading.Condition
    _latest_slot: dict[str, dt.datetime]
    _pruned_at: dt.datetime | None
    _execute: Callable[[str, Lease], tuple[str, int | None]]  # daemon.syncs.SyncRunner

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
