"""One simulated world per session (about 16 s): 600 accounts, 13 weekly evaluations, 90-day outcomes."""

from __future__ import annotations

import pytest

from syncer.outcomes.report import Report, build_report
from tests.outcomes.support import World, run_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return run_world(tmp_path_factory.mktemp("outcomes-world"))


@pytest.fixture(scope="session")
def report(world: World) -> Report:
    return build_report(world.config, world.state, world.sim.report_at)
