"""Faults at the destination: 5xx, 429 bursts with Retry-After, timeouts and resets.

The run must complete and deliver everything, honouring Retry-After, without sleeping for real:
the retry policy and the rate limiter run on a fake clock.
"""

from __future__ import annotations

import json
import random

from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.config import load_config
from syncer.emulator import Fault
from syncer.retry import RetryPolicy
from syncer.runner import Runtime, SyncJob
from syncer.state import StateStore
from tests.conftest import FakeClock
from tests.engine.conftest import SECRET, Project, create_accounts


def job(project: Project, clock: FakeClock, monkeypatch: object) -> SyncJob:
    project.env["HOOK_SECRET"] = SECRET
    config = load_config(project.config)
    state = StateStore(config.state_url())
    # more attempts than the test injects faults (12): however the faults fall on the batches in flight (a
    # loaded machine once put 8 of them on one batch of 50, which then failed), every batch gets through
    retry = RetryPolicy(max_attempts=16, initial_wait=1.0, max_wait=30.0, sleep=clock.sleep)
    return SyncJob(config, "accounts", state, Runtime(retry=retry, clock=clock, sleep=clock.sleep))


def test_run_survives_5xx_429_timeouts_and_resets(project: Project, receiver: WebhookReceiver, monkeypatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    create_accounts(project.warehouse_url, 2000)
    # A request slower than the timeout only because the machine is busy is retried like a stall, and
    # enough of them use up the attempts: the stall (6 s) is far past the timeout (3 s), and the
    # timeout far past an ordinary request on a loaded 2-core machine.
    project.write(batch_size=50, extra_connector="timeout = 3.0")
    clock = FakeClock()
    rng = random.Random(7)
    # 40 write calls in all; make ~10% of them 5xx, plus a 429 burst, two timeouts and two resets.
    for _ in range(4):
        receiver.faults.add(Fault("status", path="/hooks", method="POST", status=rng.choice([500, 502, 503]), times=1))
    receiver.faults.add(Fault("status", path="/hooks", method="POST", status=429, retry_after=7, times=3))
    receiver.faults.add(Fault("delay", path="/hooks", method="POST", delay=6.0, times=2))
    receiver.faults.add(Fault("reset_after_apply", path="/hooks", method="POST", times=2))
    receiver.faults.add(Fault("reset_before_apply", path="/hooks", method="POST", times=1))

    summary = job(project, clock, monkeypatch).run()

    assert summary.status == "ok", json.dumps(summary.as_dict(), default=str)  # in full: why it was partial
    assert (summary.succeeded, summary.failed, summary.rejected) == (2000, 0, 0)
    assert len(receiver.records) == 2000
    assert receiver.faults.fired >= 12
    assert clock.slept.count(7) >= 3  # the server's Retry-After was honoured for each 429
    assert max(clock.slept) <= 30  # backoff stays capped


def test_persistent_5xx_leaves_records_for_next_run(project: Project, receiver: WebhookReceiver, monkeypatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    clock = FakeClock()
    receiver.faults.add(Fault("status", path="/hooks", method="POST", status=503, times=10_000))
    first = job(project, clock, monkeypatch).run()
    assert first.failed == 300 and first.succeeded == 0 and first.exit_code == 1
    assert receiver.records == {}

    receiver.faults.clear()
    second = job(project, clock, monkeypatch).run()
    assert second.tally.added == 300  # nothing was recorded as synced by the failed run
    assert second.succeeded == 300 and len(receiver.records) == 300
