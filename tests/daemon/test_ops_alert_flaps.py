"""Ops alerts damp a flapping condition (F7): bounded messages, one of each for a single failure.

Repro: a destination answering 401, 200, 401, 200... to a sync every 3 s posted 16 ops-alert messages in 45 s
(8 "failed", 8 "recovered"); at the default cadence that is two messages per two runs all day, while the
module promised "one failed message and one recovered message". The clock is patched (`utcnow`): no sleeping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import syncer.ops_alerts
from syncer.ops_alerts import Observation, OpsAlerts, OpsAlertSettings
from syncer.state import StateStore
from tests.daemon.test_ops_alerts import Capture

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
FAILED = dict(status="failed", error="401 Unauthorized")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Clock, Capture, OpsAlerts]]:
    clock, capture = Clock(), Capture()
    monkeypatch.setattr(syncer.ops_alerts, "utcnow", clock)
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield clock, capture, OpsAlerts(state.engine, [capture], OpsAlertSettings())
    state.close()


def _obs(**kw: Any) -> Observation:
    base: dict[str, Any] = dict(
        sync="m", status="ok", error=None, succeeded=5, failed=0, rejected=0, source_rows=5,
        previous_source_rows=5, connector="hook", api_usage=None,
    )  # fmt: skip
    return Observation(**{**base, **kw})


def _runs(clock: Clock, alerts: OpsAlerts, pattern: list[bool], every: dt.timedelta) -> None:
    """One run per entry (True: failed), `every` apart."""
    for failed in pattern:
        clock.now += every
        alerts.observe_run(_obs(**FAILED) if failed else _obs())


def _said(capture: Capture) -> list[str]:
    """Each message as its state and its first words: `firing sync m failed`, `ok sync m recovered`."""
    return [f"{a.state} {' '.join(a.text.split()[:3])}" for a in capture.sent]


# sequence -> the messages it gives (the old code: one per flip)
CASES = {
    # the repro: a failure every other run, every 3 s, for 45 s; then steady
    "flapping for 45 s": (
        [[True, False] * 8, [False] * 1300],
        dt.timedelta(seconds=3),
        ["firing sync m failed:", "ok sync m recovered", "firing sync m failed:", "ok sync m recovered"],
    ),
    # flapping all day at 5-minute runs: a reminder every 6h with a count, then one recovered after 1h ok
    "flapping for a day": (
        [[True, False] * 144, [False] * 12],
        dt.timedelta(minutes=5),
        ["firing sync m failed:", "ok sync m recovered", "firing sync m failed:"]
        + ["firing still flapping: 36"] * 3
        + ["ok sync m recovered"],
    ),
    # one failure, one recovery: exactly one of each, the recovery at the first ok run
    "single failure": (
        [[True], [False] * 3],
        dt.timedelta(minutes=5),
        ["firing sync m failed:", "ok sync m recovered"],
    ),
    # a second failure long after the recovery is a new failure, not a flap
    "two failures a day apart": (
        [[True, False], [False] * 287, [True, False]],
        dt.timedelta(minutes=5),
        ["firing sync m failed:", "ok sync m recovered"] * 2,
    ),
    # a day-long outage: failed, one reminder per 6h with the failed runs since the last message, recovered
    "day-long outage": (
        [[True] * 288, [False]],
        dt.timedelta(minutes=5),
        ["firing sync m failed:"] + ["firing still failing: 72"] * 3 + ["ok sync m recovered"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_messages_per_sequence(world: tuple[Clock, Capture, OpsAlerts], case: str) -> None:
    clock, capture, alerts = world
    parts, every, expected = CASES[case]
    for part in parts:
        _runs(clock, alerts, part, every)
    assert _said(capture) == expected


def test_the_flapping_message_says_what_happens_next(world: tuple[Clock, Capture, OpsAlerts]) -> None:
    clock, capture, alerts = world
    _runs(clock, alerts, [True, False, True], dt.timedelta(seconds=3))
    assert "flapping" in capture.sent[2].text and "6h" in capture.sent[2].text and "1h ok" in capture.sent[2].text
    assert len({a.key for a in capture.sent}) == 3  # each message its own key (Slack finds a retried post)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"flap_window": "0s"}, 16),  # damping off: every change is a message
        ({"remind_every": "0s"}, 4),  # no reminders
        ({"remind_every": "1h"}, 4 + 23),  # one per hour, over the day
    ],
)
def test_the_damping_is_configurable(
    world: tuple[Clock, Capture, OpsAlerts], settings: dict[str, str], expected: int
) -> None:
    clock, capture, alerts = world
    alerts.settings = OpsAlertSettings(**settings)
    pattern = [True, False] * 8 if settings.get("flap_window") else [True, False] * 144 + [False] * 12
    _runs(clock, alerts, pattern, dt.timedelta(seconds=3) if settings.get("flap_window") else dt.timedelta(minutes=5))
    assert len(capture.sent) == expected
