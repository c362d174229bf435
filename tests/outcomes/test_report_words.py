"""`syncer report` (a process, as a user runs it) names each trigger in the words every other table and page
uses (`wording.readable`: "API limit approaching"), not its snake_case key. Repro: the trigger column read
`api_limit_approaching` while `syncer alerts`, the lift table and the dashboard said "api limit approaching".
`--json` keeps the key (machines filter on it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from syncer.outcomes.report import build_report
from tests.outcomes.support import World

# trigger key -> the words in the report's trigger column
WORDS = {
    "seat_limit_approaching": "seat limit approaching",
    "api_limit_approaching": "API limit approaching",
    "storage_limit_approaching": "storage limit approaching",
    "high_engagement_growth": "high engagement growth",
    "usage_spike": "usage spike",
    "advanced_features_power_users": "advanced features power users",
}


def _report(world: World, root: Path, *args: str) -> str:
    (root / "mappings").mkdir(exist_ok=True)
    config = root / "config.toml"
    config.write_text(
        f'[syncer]\ndata_dir = "{root}"\nstate_url = "{world.state.engine.url}"\n\n'
        f'[warehouse]\nurl = "{world.warehouse.url}"\n'
    )
    world.warehouse.dispose()  # DuckDB lets one process at a time open its file
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCER_")} | {"SYNCER_CONFIG": str(config)}
    done = subprocess.run(
        [sys.executable, "-m", "syncer", "report", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def printed(world: World, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, object]]:
    root = tmp_path_factory.mktemp("report-words")
    table = _report(world, root).splitlines()
    return table, json.loads(_report(world, root, "--json"))


@pytest.mark.parametrize("key", list(WORDS))
def test_the_trigger_column_says_what_other_tables_say(key: str, printed: tuple[list[str], dict[str, object]]) -> None:
    table, data = printed
    header = next(i for i, line in enumerate(table) if line.startswith("trigger "))
    rows = [line for line in table[header + 1 :] if line.startswith(WORDS[key] + " ")]
    assert len(rows) == 1, "\n".join(table)
    assert not any(line.startswith(key) for line in table), "\n".join(table)
    assert key in {t["trigger"] for t in data["triggers"]}  # type: ignore[attr-defined,index]


def test_a_report_built_without_a_source_closes_the_warehouse(world: World) -> None:
    """`build_report` opened the warehouse itself and never closed it: this process kept the DuckDB file's lock,
    and a `syncer report` process run after it (the test above, in whatever order tests ran) exited 2."""
    build_report(world.config, world.state, world.sim.report_at)
    world.warehouse.dispose()
    path = world.warehouse.url.database
    probe = f"import duckdb; duckdb.connect({path!r}).close()"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
