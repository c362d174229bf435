"""Leases on SQLite and on the real PostgreSQL: atomic take, expiry on an injected clock, heartbeat."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncer.lease import Lease, LeaseStore
from syncer.state import StateStore


class WallClock:
    """A settable UTC clock: lease expiry is decided without waiting."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    url = f"sqlite:///{tmp_path / 's.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    state = StateStore(url)
    yield state
    state.close()


def test_take_compete_expire_renew_release(store: StateStore) -> None:
    clock = WallClock()
    leases = LeaseStore(store.engine, clock)
    assert leases.acquire("accounts", "a", ttl=30)
    assert not leases.acquire("accounts", "b", ttl=30)
    assert leases.acquire("accounts", "a", ttl=30)  # re-entrant for its owner (callers add a local lock)
    assert leases.holder("accounts") == ("a", clock.now + dt.timedelta(seconds=30))
    clock.advance(20)
    assert leases.renew("accounts", "a", ttl=30)
    clock.advance(29)
    assert not leases.acquire("accounts", "b", ttl=30)  # renewed: still a's
    clock.advance(2)
    assert leases.holder("accounts") is None
    assert not leases.renew("accounts", "a", ttl=30)  # expired: a has lost it
    assert leases.acquire("accounts", "b", ttl=30)  # a died: b takes over
    leases.release("accounts", "a")  # a stale release does not free b's lease
    assert leases.holder("accounts") is not None and leases.holder("accounts")[0] == "b"  # type: ignore[index]
    leases.release("accounts", "b")
    assert leases.acquire("accounts", "c", ttl=30)
    assert leases.acquire("other", "c", ttl=30) and leases.release_all("c") == 2


def test_many_threads_racing_for_one_lease_one_wins(store: StateStore) -> None:
    leases = LeaseStore(store.engine)
    for round_ in range(10):
        barrier = threading.Barrier(8)
        winners: list[str] = []

        def race(me: str, name: str, barrier: threading.Barrier, winners: list[str]) -> None:
            barrier.wait()
            if leases.acquire(name, me, ttl=30):
                winners.append(me)

        threads = [threading.Thread(target=race, args=(f"r{i}", f"job{round_}", barrier, winners)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1, winners


def test_heartbeat_renews_and_reports_a_lost_lease(tmp_path: Path) -> None:
    state = StateStore(f"sqlite:///{tmp_path / 's.sqlite'}")
    leases = LeaseStore(state.engine)
    assert leases.acquire("accounts", "a", ttl=1.5)
    lease = Lease(leases, "accounts", "a", ttl=1.5)
    lease.start_heartbeat()
    first = leases.holder("accounts")
    assert first is not None
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    while leases.holder("accounts") == first and dt.datetime.now(dt.UTC) < deadline:
        threading.Event().wait(0.05)
    renewed = leases.holder("accounts")
    assert renewed is not None and renewed[1] > first[1]  # the heartbeat extended it
    # Someone steals it (as if our clock stalled past the TTL): the next beat notices.
    leases.release("accounts", "a")
    assert leases.acquire("accounts", "b", ttl=30)
    assert lease.lost.wait(timeout=3)
    lease.release()
    assert leases.holder("accounts")[0] == "b"  # type: ignore[index]
    state.close()
