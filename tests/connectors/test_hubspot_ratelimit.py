"""HubSpot rate limiting on a FakeClock shared by the connector's limiter and the emulator's window."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator

from syncer.emulator import Fault
from syncer.errors import FatalError
from syncer.ratelimit import RateLimit

from .test_hubspot_support import company, make_connector, make_emulator

UPSERT = r"/batch/upsert"


@pytest.fixture
def emu(clock: Any) -> Iterator[HubSpotEmulator]:
    emulator = make_emulator(clock)
    emulator.limits.max_calls = 10  # a small plan: 10 requests per rolling 10 s
    yield emulator
    emulator.stop()


def run_batches(connector: Any, batches: int, size: int = 5) -> list[Any]:
    results: list[Any] = []
    for b in range(batches):
        results += connector.send([company(b * size + i) for i in range(size)])
    return results


def test_limiter_keeps_30_batches_under_10_per_10s_with_no_429(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock, limit=RateLimit(10, 10.0))
    start = clock.now
    results = run_batches(connector, 30)
    assert [r.status for r in results] == ["ok"] * 150
    assert emu.limits.rejected == 0 and connector.stats.throttled == 0
    assert connector.stats.calls == 30
    assert clock.now - start >= 20.0  # 30 calls at 10 per 10 s need three windows
    assert len(emu.stored("companies", "syncer_account_id")) == 150


def test_without_a_limiter_the_emulator_does_throttle(emu: HubSpotEmulator, clock: Any) -> None:
    """The control for the test above: the same run with no client-side limit hits 429s."""
    connector = make_connector(emu, clock, limit=RateLimit(1000, 10.0))
    emu.limits.max_calls = 10
    connector.api.observe = lambda headers: None  # type: ignore[method-assign]  # ignore header feedback
    results = run_batches(connector, 12)
    assert emu.limits.rejected >= 1 and connector.stats.throttled >= 1
    assert [r.status for r in results] == ["ok"] * 60  # ...and backs off on the interval until all land


def test_headers_correct_a_wrong_plan_tier_before_any_429(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock, plan_tier="pro")  # configured 190, HubSpot applies 10
    assert connector.limiter.limit == RateLimit(190, 10.0)
    results = run_batches(connector, 30)
    assert connector.limiter.limit == RateLimit(10, 10.0)
    assert [r.status for r in results] == ["ok"] * 150
    assert emu.limits.rejected == 0 and connector.stats.throttled == 0


def test_headers_raise_the_limit_too(clock: Any) -> None:
    emulator = make_emulator(clock, plan="increase")
    try:
        connector = make_connector(emulator, clock, plan_tier="starter", rate_limit_margin=0.5)
        connector.send([company(1)])
        assert connector.limiter.limit == RateLimit(250, 10.5)
    finally:
        emulator.stop()


def test_429_burst_backs_off_on_the_interval_and_delivers_everything(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock)
    emu.faults.add(Fault("status", path=UPSERT, method="POST", status=429, times=3))  # no Retry-After
    results = run_batches(connector, 4)
    assert [r.status for r in results] == ["ok"] * 20
    assert connector.stats.throttled == 3
    assert clock.slept.count(10.0) >= 3  # waited the advertised interval each time
    assert len(emu.stored("companies", "syncer_account_id")) == 20


def test_429_retry_after_wins_over_the_interval(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock)
    emu.faults.add(Fault("status", path=UPSERT, method="POST", status=429, retry_after=3, times=1))
    assert [r.status for r in connector.send([company(1)])] == ["ok"]
    assert 3.0 in clock.slept and 10.0 not in clock.slept


def test_daily_limit_stops_the_sync(emu: HubSpotEmulator, clock: Any) -> None:
    emu.limits.daily = 1
    connector = make_connector(emu, clock)
    connector.send([company(1)])
    with pytest.raises(FatalError, match="daily"):
        connector.send([company(2)])


def test_emulator_rate_limit_headers_and_429_body(emu: HubSpotEmulator, clock: Any) -> None:
    import httpx

    url = f"{emu.base_url}/crm/v3/properties/companies"
    headers = {"Authorization": "Bearer hubspot-test-token"}
    responses = [httpx.get(url, headers=headers) for _ in range(11)]
    assert responses[0].headers["X-HubSpot-RateLimit-Max"] == "10"
    assert responses[0].headers["X-HubSpot-RateLimit-Remaining"] == "9"
    assert responses[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert responses[9].headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert responses[10].status_code == 429
    body = responses[10].json()
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    clock.sleep(10.0)
    assert httpx.get(url, headers=headers).status_code == 200


def test_a_new_process_starts_with_the_budget_hubspot_says_is_left(emu: HubSpotEmulator, clock: Any) -> None:
    """Issue 13, repro 10: two runs back to back; the second one's limiter starts empty, but HubSpot's
    window still holds the first run's calls. The check every run starts with reads the remaining
    budget from HubSpot's headers, so the second run's batches wait instead of drawing 429s."""
    first = make_connector(emu, clock, limit=RateLimit(10, 10.0))
    run_batches(first, 9)  # 9 of HubSpot's 10 per 10 s are used
    assert emu.limits.rejected == 0
    second = make_connector(emu, clock, limit=RateLimit(10, 10.0))  # a new process: an empty limiter
    assert second.check() == []  # what `plan` and `run` do first (GET properties: budget headers)
    results = run_batches(second, 5)
    assert [r.status for r in results] == ["ok"] * 25
    assert emu.limits.rejected == 0 and second.stats.throttled == 0  # no 429: it waited for the window
