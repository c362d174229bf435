"""Fixtures: a Slack emulator per module (reset per test), a fake clock, a HubSpot emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from tests.alerts.support import Clock, hubspot, workspace
from tests.tiers.support import SDR_QUEUE


@pytest.fixture
def fake() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
def slack(slack_server: SlackEmulator, fake: Clock) -> SlackEmulator:
    return workspace(slack_server, fake)


@pytest.fixture
def crm(fake: Clock) -> Iterator[HubSpotEmulator]:
    emu = hubspot(fake, 40)
    emu.add_owner(SDR_QUEUE, "Sdr", "Queue")
    yield emu
    emu.stop()
