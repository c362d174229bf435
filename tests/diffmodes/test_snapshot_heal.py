"""The warehouse snapshot's heal rules: a run leaves the snapshot equal to local state whatever came
before it, replaying only the keys that lag where it can, and nothing is re-sent or missed.

`decide` is walked cell by cell; then each situation is made for real (DuckDB warehouse, SQLite
state, a run whose merge never happened after k acknowledged changes, a dropped schema, a state
older than the snapshot, a forgotten key, a run in another mode) and the next run is checked: its
action, the snapshot row for row against state, and what it sends.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncer.state import SNAPSHOT_REBUILD, synced
from syncer.state_repair import rebuild_state
from syncer.warehouse_diff.modes import run_ids, snapshot_for
from syncer.warehouse_diff.snapshot import Marker, decide
from tests.diffmodes.harness import acknowledge, diff, open_job, run, write_project

os.environ.setdefault("HOOK_SECRET", "whsec-test-heal")

ROWS = 12
MAPPING = """
connector = "hook"
object = "things"

[model]
table = "model"
primary_key = "id"

[match]
field = "ext"
column = "email"

[fields]
score = "score"
"""


@pytest.mark.parametrize(
    ("marker", "previous", "pending", "action"),
    [
        (None, 7, [], "rebuild"),  # snapshot missing or schema dropped
        (Marker(7, None), 7, [], "use"),  # clean at the previous run
        (Marker(7, None), 7, ["a"], "replay"),  # merged, crashed before clearing the pending keys
        (Marker(6, 7), 7, ["a", "b"], "replay"),  # the previous run crashed before its merge
        (Marker(6, 7), 7, [], "replay"),  # ... before acknowledging anything
        (Marker(7, None), 7, ["a", SNAPSHOT_REBUILD], "rebuild"),  # a key was forgotten
        (Marker(6, None), 7, [], "rebuild"),  # run 7 ran in another mode
        (Marker(6, 6), 7, ["a"], "rebuild"),  # run 6 crashed, then run 7 ran in another mode
        (Marker(9, None), 7, [], "rebuild"),  # ahead of local state (state restored from a copy)
        (Marker(None, None), None, [], "use"),  # an empty sync, never run
        (Marker(None, None), 3, [], "rebuild"),
    ],
)
def test_decide(marker: Marker | None, previous: int | None, pending: list[str], action: str) -> None:
    assert decide(marker, previous, pending) == action


def _warehouse(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        result = conn.execute(sa.text(sql))
        rows = [tuple(r) for r in result] if result.returns_rows else []
    engine.dispose()
    return rows


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str]:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    _warehouse(
        url, f"CREATE TABLE model AS SELECT i AS id, 'u' || i || '@x.io' AS email, i AS score FROM range({ROWS}) t(i)"
    )
    config = write_project(tmp_path, url, MAPPING, "warehouse")
    job = open_job(config)
    run(job, set())  # the snapshot is built and equals state
    job.state.close()
    return config, url


def _snapshot_equals_state(config: Path) -> None:
    job = open_job(config)
    with job.state.engine.connect() as conn:
        state = sorted(conn.execute(sa.select(synced.c.key, synced.c.source_fp).where(synced.c.sync == "m")))
    url = job.config.warehouse.url
    job.state.close()
    snapshot = _warehouse(url, "SELECT key, fingerprint FROM syncer.snapshot WHERE sync = 'm'")
    assert [tuple(r) for r in state] == sorted((k, str(fp)) for k, fp in snapshot)  # DuckDB's is an integer
    assert _warehouse(url, "SELECT dirty_run FROM syncer.snapshot_marker WHERE sync = 'm'") == [(None,)]


def _next_run(config: Path) -> tuple[str, dict[str, int]]:
    """Run once more; (what the heal did, the run's tally)."""
    job = open_job(config)
    run_id = job.state.start_run("m", False)
    _, previous = run_ids(job, for_run=True)
    snapshot = snapshot_for(job)
    action = snapshot.heal("m", job.state, previous)
    job.state.finish_run(run_id, "ok", {})  # the heal alone: the diff below starts a run of its own
    plan = run(job, set())
    job.state.close()
    return action, plan.tally


@pytest.mark.parametrize("acknowledged", [0, 1, 3, 5])
def test_a_run_that_died_after_k_acknowledgements_is_replayed_key_by_key(
    project: tuple[Path, str], acknowledged: int
) -> None:
    config, url = project
    _warehouse(url, "UPDATE model SET score = score + 100 WHERE id < 5")
    _warehouse(url, "DELETE FROM model WHERE id = 11")
    job = open_job(config)
    run_id = job.state.start_run("m", False)
    differ, changes = diff(job, for_run=True)
    assert sorted(c.key for c in changes) == ["0", "1", "11", "2", "3", "4"]
    done = changes[:acknowledged]
    acknowledge(job, differ, done, set(), run_id)  # the process dies here: no merge, no finish
    job.state.close()

    job = open_job(config)
    _, previous = run_ids(job, for_run=False)
    assert decide(snapshot_for(job).marker("m"), previous, job.state.snapshot_pending("m")) == "replay"
    assert len(job.state.snapshot_pending("m")) == len(changes)  # every key handed on, none lost
    job.state.close()

    action, tally = _next_run(config)
    assert action == "replay"
    _snapshot_equals_state(config)
    # exactly the changes the dead run did not get acknowledged go out: none twice, none missed
    assert tally["changed"] + tally["removed"] == len(changes) - acknowledged
    assert tally["unchanged"] == ROWS - 1 - (5 - sum(1 for c in done if c.kind == "changed"))


def test_a_dropped_schema_is_rebuilt(project: tuple[Path, str]) -> None:
    config, url = project
    _warehouse(url, "DROP SCHEMA syncer CASCADE")
    action, tally = _next_run(config)
    assert action == "rebuild" and tally["unchanged"] == ROWS
    _snapshot_equals_state(config)


def test_a_snapshot_ahead_of_state_is_rebuilt(project: tuple[Path, str], tmp_path: Path) -> None:
    config, url = project
    state_file = tmp_path / "data-warehouse" / "state.sqlite"
    shutil.copy(state_file, tmp_path / "older.sqlite")  # state as of run 1
    _warehouse(url, "UPDATE model SET score = -1 WHERE id = 2")
    job = open_job(config)
    run(job, set())  # run 2: the snapshot now holds score -1 for key 2
    job.state.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{state_file}{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "older.sqlite", state_file)  # state restored from before run 2
    action, tally = _next_run(config)
    assert action == "rebuild"
    assert tally["changed"] == 1  # state says key 2 was sent with its old score: send it again
    _snapshot_equals_state(config)


def test_a_forgotten_key_rebuilds_and_is_sent_again(project: tuple[Path, str]) -> None:
    config, _ = project
    job = open_job(config)
    job.state.forget("4", "m")
    assert job.state.snapshot_pending("m") == [SNAPSHOT_REBUILD]  # the key itself is not kept
    job.state.close()
    action, tally = _next_run(config)
    assert action == "rebuild" and tally["added"] == 1
    _snapshot_equals_state(config)


def test_a_run_in_another_mode_in_between_rebuilds(project: tuple[Path, str]) -> None:
    config, url = project
    _warehouse(url, "UPDATE model SET score = -5 WHERE id = 7")
    columnar = config.read_text().replace('diff = "warehouse"', 'diff = "columnar"')
    warehouse = config.read_text()
    config.write_text(columnar)
    job = open_job(config)
    run(job, set())  # state has key 7's new score; the snapshot does not
    job.state.close()
    config.write_text(warehouse)
    action, tally = _next_run(config)
    assert action == "rebuild" and tally["changed"] == 0 and tally["unchanged"] == ROWS
    _snapshot_equals_state(config)


def test_a_rebuilt_state_file_rebuilds_the_snapshot(project: tuple[Path, str], tmp_path: Path) -> None:
    config, _ = project
    state_file = tmp_path / "data-warehouse" / "state.sqlite"
    with sqlite3.connect(state_file) as conn:  # as if a page of synced records was lost
        conn.execute("DELETE FROM synced_records WHERE key IN ('3', '8')")
    rebuild_state(f"sqlite:///{state_file}")
    action, tally = _next_run(config)
    assert action == "rebuild" and tally["added"] == 2  # sent again, as `state rebuild` promises
    _snapshot_equals_state(config)
