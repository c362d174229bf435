"""Two replicas on one PostgreSQL state DB: no overlap, every slot once, take-over after SIGKILL."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import time
from pathlib import Path

import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.config import load_config
from syncer.scheduler import fire_times, job_slots, slot_key, trigger_for
from syncer.state import StateStore, runs
from tests.daemon.conftest import configure, release, replica_env, start_replica, wait_for
from tests.engine.conftest import Project, create_accounts

HOURS = float(os.environ.get("SYNCER_TEST_SIM_HOURS", "24"))
SLOTS = int(HOURS * 12)
TICK = 0.05  # wall seconds per 5-minute slot: the day is compressed 6,000 times
DAY = "2026-03-10T00:00:00-04:00"  # a whole local day in New York (no DST change that day)


def _migrate(proj: Project) -> str:
    """Create the state schema once, as a deploy step would, before replicas start together."""
    url = load_config(proj.config).state_url()
    StateStore(url).close()
    return url


def test_two_replicas_for_a_day_of_five_minute_slots(
    pg_url: str, project: Project, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    configure(project, 'every_minutes = 5\ntimezone = "America/New_York"', state_url=pg_url)
    create_accounts(project.warehouse_url, 40)
    _migrate(project)
    go = tmp_path / "go"
    procs = [
        start_replica(project, tmp_path / f"r{i}.json", f"replica-{i}", DAY, HOURS, go=go, tick=TICK) for i in (1, 2)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().split() == ["READY", str(int(HOURS * 12))]
    release(go, time.time() + 0.2)  # both replicas fire slot i at this + i * TICK
    for i, p in enumerate(procs, 1):
        p.communicate(timeout=80)
        assert p.returncode == 0, (tmp_path / f"r{i}.log").read_text()[-3000:]
    results = [json.loads((tmp_path / f"r{i}.json").read_text()) for i in (1, 2)]

    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(runs).where(runs.c.sync == "accounts").order_by(runs.c.started_at)).all()
        slots = conn.execute(sa.select(job_slots).where(job_slots.c.job == "accounts")).all()
    engine.dispose()

    # Every scheduled slot of the day ran exactly once, and only those slots.
    trigger = trigger_for(load_config(project.config).syncs["accounts"].schedule)  # type: ignore[arg-type]
    start = dt.datetime.fromisoformat(DAY)
    expected = {slot_key(t) for t in fire_times(trigger, start, start + dt.timedelta(hours=HOURS))}
    assert len(expected) == SLOTS
    assert {s.slot for s in slots} == expected
    assert {s.status for s in slots} == {"done"}
    assert len(rows) == SLOTS and {r.status for r in rows} == {"ok"}
    # No two runs of the sync overlapped, across both processes.
    overlaps = [(a.id, b.id) for a, b in itertools.pairwise(rows) if b.started_at < a.finished_at]
    assert overlaps == []
    # Both replicas really competed: each ran some slots and found others done by the other one.
    ran = [r["counts"].get("ran", 0) for r in results]
    assert sum(ran) == SLOTS and min(ran) > 0, results
    assert all(r["counts"].get("done", 0) == SLOTS - n for r, n in zip(results, ran, strict=True))
    busy = [r["counts"].get("busy_polls", 0) for r in results]
    assert sum(busy) > 0  # they fired together: the loser of a slot found the lease held, then the slot done
    print(f"\nslots run per replica: {ran}; lease-busy polls: {busy}")
    assert len(receiver.records) == 40


def test_sigkill_mid_run_other_replica_takes_over_within_the_lease(
    pg_url: str, project: Project, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    ttl = 2.0
    configure(project, "every_minutes = 5", daemon=f"lease_ttl_seconds = {ttl}\n", state_url=pg_url, batch_size=10)
    create_accounts(project.warehouse_url, 300)
    url = _migrate(project)
    one_slot = "2026-03-10T09:00:00+00:00"
    go_a, go_b = tmp_path / "go-a", tmp_path / "go-b"
    # Replica A dies by SIGKILL right after its 15th batch was committed to state, holding the lease.
    a = start_replica(
        project,
        tmp_path / "a.json",
        "replica-a",
        one_slot,
        0.01,
        go=go_a,
        env=replica_env(project, SYNCER_FAILPOINT="after_state:15"),
    )
    b = start_replica(project, tmp_path / "b.json", "replica-b", one_slot, 0.01, go=go_b)
    for p in (a, b):  # both imported and waiting: B's start-up time is not part of the measurement
        assert p.stdout is not None and p.stdout.readline().startswith("READY")
    engine = sa.create_engine(url)

    def lease_owner() -> str | None:
        with engine.connect() as conn:
            return conn.scalar(sa.text("SELECT owner FROM leases WHERE name = 'accounts'"))

    release(go_a, time.time())
    wait_for(lambda: lease_owner() == "replica-a", every=0.005)
    release(go_b, time.time())  # B fires the same slot, finds the lease busy and keeps checking
    wait_for(lambda: a.poll() is not None, timeout=30, every=0.005)
    killed_at = time.time()
    assert a.returncode == -signal.SIGKILL
    b.communicate(timeout=30)
    assert b.returncode == 0, (tmp_path / "b.log").read_text()[-3000:]
    result = json.loads((tmp_path / "b.json").read_text())
    assert result["counts"]["ran"] == 1 and result["counts"]["busy_polls"] > 0  # B waited for A's lease
    [takeover] = result["takeovers"]
    delay = takeover["began"] - killed_at
    print(f"\nlease take-over after SIGKILL: {delay:.2f}s (TTL {ttl}s, heartbeat every {ttl / 3:.2f}s)")
    # The lease expires at most one TTL after A's last renewal (which was before it died).
    assert 0 < delay <= ttl + 0.5

    with engine.connect() as conn:
        statuses = [r[0] for r in conn.execute(sa.text("SELECT status FROM runs ORDER BY id"))]
        slot = conn.execute(sa.select(job_slots.c.status, job_slots.c.owner)).one()
    engine.dispose()
    assert statuses == ["interrupted", "ok"]  # A's run was cut; B's run marked it and completed the slot
    assert tuple(slot) == ("done", "replica-b")
    assert len(receiver.records) == 300  # the take-over run converged: every record arrived
