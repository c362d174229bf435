"""Leases: at most one replica runs a given job at a time, across processes and hosts.

A lease is one row in the state DB's `leases` table (name, owner, expires_at). Taking it is one
atomic statement on SQLite and PostgreSQL alike:

    UPDATE leases SET owner=me, expires_at=now+ttl WHERE name=n AND (expires_at < now OR owner=me)
    -- no row changed? the lease may not exist yet:
    INSERT INTO leases ... ON CONFLICT (name) DO NOTHING

Whoever changed a row holds the lease. PostgreSQL re-checks the UPDATE's WHERE after a concurrent
writer commits, and SQLite serialises writers, so two replicas can never both win. The holder
renews the lease from a heartbeat thread while its run lasts and deletes it at the end; a replica
that dies stops renewing, and its lease expires after at most `ttl` seconds.

Expiry compares the replica's own clock (injectable for tests) with the stored time, so replica
clocks must agree to well within the TTL (NTP). `owner=me` makes taking re-entrant for the same
owner, so callers also hold an in-process lock per name (see `Lease`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from syncer.errors import LeaseHeld
from syncer.state import leases, runs, utcnow

log = logging.getLogger("syncer.lease")
Clock = Callable[[], dt.datetime]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)  # SQLite hands back naive UTC


class LeaseStore:
    """Atomic take / renew / release of named leases in the state DB."""

    def __init__(self, engine: sa.Engine, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock

    def _utc(self) -> dt.datetime:
        return self.clock().astimezone(dt.UTC)

    def acquire(self, name: str, owner: str, ttl: float) -> bool:
        now = self._utc()
        expires = now + dt.timedelta(seconds=ttl)
        with self.engine.begin() as conn:
            updated = conn.execute(
                leases.update()
                .where(leases.c.name == name, sa.or_(leases.c.expires_at < now, leases.c.owner == owner))
                .values(owner=owner, expires_at=expires)
            )
            if updated.rowcount == 1:
                return True
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            inserted = conn.execute(
                dialect.insert(leases)
                .values(name=name, owner=owner, expires_at=expires)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(leases.c.name)
            )
            return inserted.first() is not None  # RETURNING, because rowcount is unreliable here

    def renew(self, name: str, owner: str, ttl: float) -> bool:
        """Extend a lease we still hold; False means it expired and someone else may have it."""
        now = self._utc()
        with self.engine.begin() as conn:
            updated = conn.execute(
                leases.update()
                .where(leases.c.name == name, leases.c.owner == owner, leases.c.expires_at >= now)
                .values(expires_at=now + dt.timedelta(seconds=ttl))
            )
            return bool(updated.rowcount == 1)

    def release(self, name: str, owner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(leases.delete().where(leases.c.name == name, leases.c.owner == owner))

    def holder(self, name: str) -> tuple[str, dt.datetime] | None:
        """(owner, expires_at) of a live lease, or None when it is free."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(leases.c.owner, leases.c.expires_at).where(leases.c.name == name)).first()
        if row is None or _aware(row[1]) < self._utc():
            return None
        return str(row[0]), _aware(row[1])

    def take_over(self, name: str, previous: str, owner: str, ttl: float) -> bool:
        """Take lease `name` from `previous` whatever its expiry (its holder is known to be dead)."""
        now = self._utc()
        with self.engine.begin() as conn:
            taken = conn.execute(
                leases.update()
                .where(leases.c.name == name, leases.c.owner == previous)
                .values(owner=owner, expires_at=now + dt.timedelta(seconds=ttl))
            )
            return bool(taken.rowcount == 1)

    def release_all(self, owner: str) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(leases.delete().where(leases.c.owner == owner)).rowcount or 0)


class Lease:
    """A held lease plus its heartbeat. `lost` is set if a renewal fails: the run must stop."""

    def __init__(self, store: LeaseStore, name: str, owner: str, ttl: float) -> None:
        self.store, self.name, self.owner, self.ttl = store, name, owner, ttl
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.name}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                ok = self.store.renew(self.name, self.owner, self.ttl)
            except Exception as exc:  # the DB may blip; the next beat retries before the TTL runs out
                log.warning("lease %s: renewal failed: %s", self.name, exc)
                continue
            if not ok:
                log.error("lease %s: lost (expired before renewal); stopping the run", self.name)
                self.lost.set()
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if not self.lost.is_set():
            self.store.release(self.name, self.owner)


def _take_from_dead(store: LeaseStore, name: str, owner: str, ttl: float) -> bool:
    """Take the lease at once from a holder on this host whose process is gone (killed, crashed):
    waiting out its TTL would only delay the rerun. Holders elsewhere are taken over on expiry."""
    holder = store.holder(name)
    if holder is None:
        return False
    host, _, rest = holder[0].partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or _alive(int(pid)):
        return False
    if store.take_over(name, holder[0], owner, ttl):
        log.warning("lease %s: taken over from pid %s on this host, which is no longer running", name, pid)
        return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def process_owner() -> str:
    """This process as a lease owner: `host:pid:nonce` (the daemon uses the same form)."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def describe_holder(store: LeaseStore, name: str) -> str:
    """Who holds lease `name`, for a person: host, pid, since when (its running run), until when."""
    holder = store.holder(name)
    if holder is None:
        return "nobody (it was just released)"
    owner, expires = holder
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    who = f"host {host}, pid {pid}" if pid.isdigit() else f"owner {owner}"
    with store.engine.connect() as conn:
        started = conn.scalar(
            sa.select(runs.c.started_at)
            .where(runs.c.sync == name, runs.c.status == "running")
            .order_by(runs.c.id.desc())
        )
    since = f", running since {_aware(started).isoformat(timespec='seconds')}" if started else ""
    return f"{who}{since} (lease renewed until {expires.isoformat(timespec='seconds')})"


def hold(
    store: LeaseStore,
    name: str,
    ttl: float,
    wait: float | None = None,
    owner: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 1.0,
) -> Lease:
    """Take lease `name` and start its heartbeat, or raise LeaseHeld naming the holder.

    `wait` None: fail at once; a number of seconds (inf: forever): poll until free or the time is up.
    A holder that died stops renewing; its lease is taken once it expires (after at most `ttl`).
    """
    owner = owner or process_owner()
    waited = 0.0
    while not (store.acquire(name, owner, ttl) or _take_from_dead(store, name, owner, ttl)):
        if wait is None or waited >= wait:
            after = f" after waiting {waited:.0f} s" if wait else ""
            raise LeaseHeld(
                f"sync {name!r} is being run by another process{after}: {describe_holder(store, name)}. "
                f"Wait for it, or run with --wait [SECONDS]; a holder that died is taken over at once on this "
                f"host, or after its lease expires elsewhere (at most {ttl:.0f} s)."
            )
        if waited == 0:
            log.warning("sync %s: waiting for the lease held by %s", name, describe_holder(store, name))
        step = min(poll, wait - waited)
        sleep(step)
        waited += step
    lease = Lease(store, name, owner, ttl)
    lease.start_heartbeat()
    return lease
