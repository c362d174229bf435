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
import threading
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from syncer.state import leases, utcnow

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
