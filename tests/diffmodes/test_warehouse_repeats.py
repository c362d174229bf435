"""Warehouse mode finds repeated primary keys in its diff statement, not by a GROUP BY over the model.

`repeats` is walked case by case; then each way a key can repeat is made for real (DuckDB warehouse,
SQLite state, a first run that built the snapshot, then the model changed): the warehouse plan must
equal the row path's (counts, changes, rejected rows with their reasons), and the whole key check
(the duplicated-key aggregate) must run exactly when a key repeats.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from syncer.runner import SyncJob
from syncer.warehouse_diff.differ import repeats
from tests.diffmodes.harness import Plan, open_job, run, write_project
from tests.diffmodes.test_snapshot_heal import MAPPING as HEAL_MAPPING

os.environ.setdefault("HOOK_SECRET", "whsec-test-repeats")

MAPPING = HEAL_MAPPING.replace('object = "things"\n', 'object = "things"\nmode = "mirror"\n')  # removals too
FIRST = [(1, "a@x.io", 1), (2, "b@x.io", 2), (3, "c@x.io", 3), (4, "d@x.io", 4)]


@pytest.mark.parametrize(
    ("model_rows", "snapshot_rows", "model_only", "snapshot_only", "most_key_rows", "repeat"),
    [
        (4, 4, 0, 0, 1, False),  # nothing changed (the one row of NULLs carries the counts)
        (5, 4, 1, 0, 1, False),  # one added
        (3, 4, 0, 1, 1, False),  # one removed
        (4, 4, 1, 1, 1, False),  # one added, one removed
        (5, 4, 0, 0, 1, True),  # two rows matched one snapshot key, neither returned (both unchanged)
        (5, 4, 0, 0, 2, True),  # ... both changed
        (6, 4, 2, 0, 2, True),  # a new key on two rows
        (6, 4, 2, 0, 1, False),  # two new keys (or NULL keys: never counted as repeats)
        (5, 4, 1, 1, 1, True),  # a key repeated and another removed: the counts still disagree
        (0, 0, 0, 0, 1, False),  # empty model, empty snapshot
    ],
)
def test_repeats(
    model_rows: int, snapshot_rows: int, model_only: int, snapshot_only: int, most_key_rows: int, repeat: bool
) -> None:
    assert repeats(model_rows, snapshot_rows, model_only, snapshot_only, most_key_rows) is repeat


def _load(url: str, rows: list[tuple[int | None, str, int]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE OR REPLACE TABLE model (id BIGINT, email VARCHAR, score BIGINT)"))
        if rows:
            conn.execute(
                sa.text("INSERT INTO model VALUES (:id, :email, :score)"),
                [{"id": i, "email": e, "score": s} for i, e, s in rows],
            )
    engine.dispose()


def _counting(job: SyncJob) -> list[bool]:
    """Record the `duplicates` argument of every key check the job runs (the real check still runs)."""
    calls: list[bool] = []
    check_keys = job.source.check_keys

    def counted(model: Any, mapping_dir: Any = None, match: Any = None, duplicates: bool = True) -> Any:
        calls.append(duplicates)
        return check_keys(model, mapping_dir, match, duplicates)

    job.source.check_keys = counted  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize(
    ("second", "whole_check"),
    [
        (FIRST, False),  # nothing changed
        ([*FIRST, (5, "e@x.io", 5)], False),  # added
        (FIRST[:3], False),  # removed
        ([(1, "a@x.io", 10), *FIRST[1:]], False),  # changed
        ([*FIRST, (None, "n@x.io", 0), (None, "m@x.io", 0)], False),  # two NULL keys are not a repeat
        ([*FIRST, (5, "b@x.io", 5)], False),  # a colliding match value, no repeated key
        ([*FIRST, FIRST[0]], True),  # a snapshot key on two identical rows: nothing returned for it
        ([*FIRST, (1, "a@x.io", 99)], True),  # ... one of them changed
        ([(1, "a@x.io", 7), *FIRST[1:], (1, "a@x.io", 8)], True),  # ... both changed
        ([*FIRST, (9, "y@x.io", 1), (9, "z@x.io", 2)], True),  # a new key on two rows
        ([*FIRST[1:], (9, "y@x.io", 1), (9, "a@x.io", 2)], True),  # ... one removed as well, a collision
        ([*FIRST, FIRST[0], (5, "b@x.io", 5)], True),  # a repeated key and a colliding match value
    ],
)
def test_a_repeated_key_is_found_and_rejected_as_the_row_path_rejects_it(
    tmp_path: Path, second: list[tuple[int | None, str, int]], whole_check: bool
) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    _load(url, FIRST)
    jobs = {mode: open_job(write_project(tmp_path / mode, url, MAPPING, mode)) for mode in ("rows", "warehouse")}
    try:
        for job in jobs.values():
            run(job, set())  # warehouse: builds the snapshot
        _load(url, second)
        checks = _counting(jobs["warehouse"])
        plans: dict[str, Plan] = {mode: run(job, set()) for mode, job in jobs.items()}
        assert plans["warehouse"] == plans["rows"]
        assert plans["rows"].tally["source_rows"] == len(second)
        assert checks == ([False, True] if whole_check else [False])
        # and once more, on the snapshot the second run merged: the same plan again
        plans = {mode: run(job, set()) for mode, job in jobs.items()}
        assert plans["warehouse"] == plans["rows"]
    finally:
        for job in jobs.values():
            job.close()
            job.state.close()
