"""`syncer state rebuild` between two alert runs sends no ping and creates no task twice.

The rebuild copies every readable row into the fresh state, so alerts, their pairs and the outbox
come back and the second evaluation sees the triggers as still firing, not as new.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.state_repair import rebuild_state
from tests.alerts.support import T0, Clock, all_keys, engine, hubspot, row, sqlite_url, workspace


@pytest.fixture
def live_slack() -> Iterator[SlackEmulator]:
    with SlackEmulator(channel_rate=1000.0, channel_burst=1000) as emu:
        yield workspace(emu, None)  # type: ignore[arg-type]


@pytest.fixture
def live_crm() -> Iterator[HubSpotEmulator]:
    emu = hubspot(Clock(), 10)
    yield emu
    emu.stop()


def _evaluate(tmp: Path, slack: SlackEmulator, crm: HubSpotEmulator, now: dt.datetime) -> None:
    eng = engine(sqlite_url(tmp), slack.api_url, slack.token, Clock(), crm.base_url, fast=True)
    try:
        eng.evaluate_and_deliver(now, rows=[row(i) for i in range(6)])
    finally:
        eng.close()


def test_rebuild_between_two_alert_runs_duplicates_nothing(
    tmp_path: Path, live_slack: SlackEmulator, live_crm: HubSpotEmulator
) -> None:
    _evaluate(tmp_path, live_slack, live_crm, T0)
    pings, tasks = sorted(all_keys(live_slack)), len(live_crm.store.live("tasks"))
    assert len(pings) == 6 and tasks == 6, (pings, tasks)
    report = rebuild_state(sqlite_url(tmp_path), now=T0)
    assert report.lost == {} and report.copied["alerts"] == 6 and report.copied["alert_outbox"] == 12, report
    _evaluate(tmp_path, live_slack, live_crm, T0 + dt.timedelta(hours=1))
    assert sorted(all_keys(live_slack)) == pings  # no second ping
    assert len(live_crm.store.live("tasks")) == tasks  # no second task
