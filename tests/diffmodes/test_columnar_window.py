"""Columnar mode with `model.updated_at`: one scan reads every key, the rest of a row only inside the window.

The change kinds of `test_incremental` (warehouse mode's window), made for real on DuckDB and
PostgreSQL after a first run that recorded the watermark, then a columnar plan and a columnar run
compared with the rows mode's: counts, changes, rejected rows. Each case says which path answered:
the window, the window plus a second read of the rows outside it (a key state lacks there: a
backfill), or the full columnar diff (no window). Batches of 3 rows, so a window spans batches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncer.columnar import modes
from syncer.columnar.batches import record_batches
from syncer.columnar.differ import ColumnarDiffer
from syncer.columnar.modes import after_run
from syncer.columnar.window import IN_WINDOW, WindowDiffer, split, window_batches, window_scan
from syncer.diff import Differ
from tests.diffmodes.harness import Plan, acknowledge, diff, open_job, plan, plan_of, write_project
from tests.diffmodes.test_incremental import (
    BUMPED,
    CASES,
    FIRST,
    MAPPING,
    Clock,
    _close,
    _execute,
    _load,
    clock,
    full_diff_finds_the_miss,
    synced_jobs,
    warehouse_url,
)
from tests.diffmodes.test_incremental import (
    _jobs as jobs_of,
)

__all__ = ["clock", "warehouse_url"]  # the fixtures: watermark's clock patched; DuckDB and PostgreSQL

# the warehouse window's cases; where the columnar window answers otherwise: it sees every key, so a
# removed or re-keyed row does not give the window up, a backfill is read again, and a key problem
# (found by the key checks before the stream) diffs in full
ANSWERS = {
    "delete": "window",
    "key change": "window",
    "duplicate key inserted": "full",
    "duplicate plus delete (must not cancel)": "full",
    "insert with an old updated_at plus a delete (must not cancel)": "read again",
    "duplicate with an old updated_at plus a delete (must not cancel)": "full",
    "key change without bumping updated_at": "read again",
    "a new key inserted twice, both in the window": "full",
    "a key updated and duplicated, both in the window": "full",
}


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 3 rows (the config's least is 100): a window and its keys span batches."""

    def batches(source: Any, model: Any, mapping_dir: Any, warehouse: Any, sql: str | None = None) -> Any:
        return record_batches(source, model, mapping_dir, warehouse.model_copy(update={"stream_batch": 3}), sql)

    monkeypatch.setattr(modes, "record_batches", batches)


def _jobs(tmp_path: Path, url: str, mapping: str = MAPPING) -> dict[str, Any]:
    return jobs_of(tmp_path, url, mapping, windowed="columnar")


def _answered(differ: Differ) -> str:
    assert isinstance(differ, ColumnarDiffer) and differ.window is not None
    if isinstance(differ, WindowDiffer):
        return "read again" if differ.read_again else "window"
    return "full"


def _run(job: Any, reject: frozenset[str] = frozenset()) -> tuple[Plan, Differ]:
    run_id = job.state.start_run(job.sync.name, False)
    differ, changes = diff(job, for_run=True)
    acknowledge(job, differ, changes, set(reject), run_id)
    rejected = sum(1 for c in changes if c.key in reject and c.kind != "removed") + len(differ.bad)
    after_run(differ, run_id, failed=0, unsent=rejected)
    job.state.finish_run(run_id, "ok", {})
    return plan_of(differ, changes), differ


def answered_run(job: Any) -> tuple[Plan, str]:
    """One run: (its plan, the path that answered: window / read again / full)."""
    plan, differ = _run(job)
    return plan, _answered(differ)


@pytest.mark.parametrize("case", list(CASES))
def test_the_columnar_window_plans_and_runs_what_the_rows_mode_does(
    warehouse_url: str, tmp_path: Path, clock: Clock, case: str
) -> None:
    statements, answered, equal = CASES[case]
    answered = ANSWERS.get(case, answered)
    _load(warehouse_url, FIRST)
    jobs = _jobs(tmp_path, warehouse_url)
    try:
        _run(jobs["rows"])
        _, first = _run(jobs["columnar"])
        assert _answered(first) == "full"  # no watermark yet: the full diff records it
        assert jobs["columnar"].state.diff_watermark("m")[0] == "datetime:2026-03-01T08:00:00"

        _execute(warehouse_url, *statements)
        clock.now += dt.timedelta(minutes=30)
        stored = jobs["columnar"].state.diff_watermark("m")
        planned_by, planned = plan(jobs["columnar"])  # the stream's own key checks (may replan)
        assert jobs["columnar"].state.diff_watermark("m") == stored  # a plan writes nothing
        rows, _ = _run(jobs["rows"])
        ran, differ = _run(jobs["columnar"])
        assert _answered(differ) == answered
        assert _answered(planned_by) == answered
        assert (ran == rows) is equal, (ran, rows)
        assert (planned == rows) is equal, (planned, rows)
        if not equal:
            full_diff_finds_the_miss(rows, ran, clock, lambda: answered_run(jobs["columnar"]))

        again, differ = _run(jobs["columnar"])  # nothing left to do, and the window says so
        rows_again, _ = _run(jobs["rows"])
        assert again == rows_again and again.tally["added"] + again.tally["changed"] + again.tally["removed"] == 0
        if rows.tally["bad_rows"] == 0:  # (a rejected row drops the watermark: the next diff is full)
            assert _answered(differ) == "window"
    finally:
        _close(jobs)


@pytest.fixture
def synced(tmp_path: Path, clock: Clock) -> Iterator[tuple[str, dict[str, Any]]]:
    """(DuckDB URL, jobs by mode) after a first run of each: the columnar watermark is 08:00."""
    yield from synced_jobs(tmp_path, "columnar")


def test_a_key_row_key_refuses_outside_the_window_is_rejected_as_the_rows_mode_does(
    tmp_path: Path, clock: Clock
) -> None:
    """A DOUBLE key turned NaN without bumping `updated_at`: outside the window, its key refused (so no
    hash says whether state holds it); the rows outside the window are read again and the row path's
    `_key` rejects it with the whole row, as in rows mode, and the old key is removed."""
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    _load(url, FIRST)
    _execute(url, "ALTER TABLE model ALTER COLUMN id TYPE DOUBLE")
    jobs = _jobs(tmp_path, url)
    try:
        for job in jobs.values():
            _run(job)
        _execute(url, "UPDATE model SET id = 'NaN'::DOUBLE WHERE id = 3")
        clock.now += dt.timedelta(minutes=30)
        planned_by, planned = plan(jobs["columnar"])
        rows, _ = _run(jobs["rows"])
        ran, differ = _run(jobs["columnar"])
        assert _answered(planned_by) == _answered(differ) == "read again"
        assert planned == rows and ran == rows and rows.tally["bad_rows"] == 1 and rows.tally["removed"] == 1
    finally:
        _close(jobs)


def test_full_diff_compares_the_whole_model_once(synced: tuple[str, dict[str, Any]], clock: Clock) -> None:
    """`run --full-diff` (`SyncJob.full_diff`): no window this once, the watermark recorded as a full diff's."""
    url, jobs = synced
    job = jobs["columnar"]
    _execute(url, "UPDATE model SET score = 80 WHERE id = 8")  # not bumped: the window misses it
    clock.now += dt.timedelta(hours=1)
    job.full_diff = True
    ran, differ = _run(job)
    assert _answered(differ) == "full" and [c[1] for c in ran.changes] == ["8"]
    assert job.state.diff_watermark("m")[2] == clock.now
    job.full_diff = False
    _, differ = _run(job)
    assert _answered(differ) == "window"


def test_a_failed_write_keeps_the_watermark_and_is_read_again(synced: tuple[str, dict[str, Any]]) -> None:
    url, jobs = synced
    job = jobs["columnar"]
    stored = job.state.diff_watermark("m")
    _execute(url, f"UPDATE model SET score = 20, updated_at = TIMESTAMP '{BUMPED}' WHERE id = 2")
    run_id = job.state.start_run("m", False)
    differ, changes = diff(job, for_run=True)
    assert [c.key for c in changes] == ["2"]  # the write fails: nothing acknowledged
    after_run(differ, run_id, failed=1, unsent=0)
    job.state.finish_run(run_id, "partial", {})
    assert job.state.diff_watermark("m") == stored
    ran, differ = _run(job)
    assert _answered(differ) == "window" and [c[1] for c in ran.changes] == ["2"]
    assert job.state.diff_watermark("m")[0] == "datetime:2026-03-01T09:00:00"


def test_the_window_scan_keeps_every_column_type(warehouse_url: str, tmp_path: Path) -> None:
    """The window's CASE columns arrive with the full scan's Arrow types, so the sidecar's fingerprints
    (seeded with those types) vouch for unchanged window rows instead of sending them to be mapped."""
    _execute(
        warehouse_url,
        "DROP TABLE IF EXISTS typed",
        "CREATE TABLE typed (id BIGINT, email VARCHAR(100), amount DECIMAL(12, 2), ratio DOUBLE PRECISION, "
        "flag BOOLEAN, day DATE, n INTEGER, updated_at TIMESTAMP)",
        "INSERT INTO typed VALUES "
        "(1, 'a@x.io', 12.50, 0.5, TRUE, DATE '2026-01-02', 7, TIMESTAMP '2026-03-01 09:00:00'),"
        " (2, 'b@x.io', 1.25, -0.0, FALSE, NULL, NULL, TIMESTAMP '2020-01-01 00:00:00')",
    )
    mapping = MAPPING.replace('table = "model"', 'table = "typed"')
    job = open_job(write_project(tmp_path / "typed", warehouse_url, mapping, "columnar"))
    try:
        model, source = job.sync.model, job.source
        names = source._column_names(model, job.mapping_dir)
        quote = source.engine.dialect.identifier_preparer.quote
        scan = window_scan(
            source.sql(model, job.mapping_dir),
            list(names.values()),
            ["id"],
            "email",
            quote,
            "updated_at",
            "'2026-03-01 00:00:00'",
        )
        whole = next(record_batches(source, model, job.mapping_dir, job.config.warehouse)).data
        windowed = next(record_batches(source, model, job.mapping_dir, job.config.warehouse, scan.rows)).data
        assert windowed.schema.remove(windowed.schema.get_field_index(IN_WINDOW)) == whole.schema
        rows = dict(zip(windowed.column("id").to_pylist(), windowed.to_pylist(), strict=True))
        assert rows[1][IN_WINDOW] is True and rows[1]["amount"] is not None
        assert rows[2][IN_WINDOW] is False and rows[2]["amount"] is None and rows[2]["email"] == "b@x.io"
    finally:
        job.close()
        job.state.close()


def test_without_updated_at_no_watermark_is_kept(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    _load(url, FIRST)
    job = open_job(write_project(tmp_path / "c", url, MAPPING.replace('updated_at = "updated_at"\n', ""), "columnar"))
    try:
        _, differ = _run(job)
        assert isinstance(differ, ColumnarDiffer) and differ.window is None
        assert job.state.diff_watermark("m") is None
    finally:
        job.close()
        job.state.close()


def test_a_future_dated_row_is_warned_of_and_does_not_park_the_watermark(
    synced: tuple[str, dict[str, Any]], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """`future_dated`, as in warehouse mode: the warning names the sync and the column, and the watermark
    stored is the run's start, not 2030 (later changes would fall outside the window until then)."""
    url, jobs = synced
    _execute(url, "UPDATE model SET score = 30, updated_at = TIMESTAMP '2030-01-01 00:00:00' WHERE id = 2")
    with caplog.at_level("WARNING"):
        ran, differ = _run(jobs["columnar"])
    assert _answered(differ) == "window" and [c[1] for c in ran.changes] == ["2"]
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "2030" in r.getMessage()]
    assert len(warned) == 1 and "updated_at" in warned[0], caplog.records
    stored = jobs["columnar"].state.diff_watermark("m")[0]
    assert stored.startswith("datetime:2026-03-01T09:"), stored


def test_postgresql_reads_the_keys_and_the_window_rows_as_two_statements(pg_url: str, tmp_path: Path) -> None:
    """PostgreSQL (ADBC): the window's rows whole, then the keys of the rows outside it (the window's rows
    are mapped while the keys arrive; no flag column), in one REPEATABLE READ transaction; a column type
    ADBC does not convert exactly (numeric) keeps the one scan."""
    _load(pg_url, FIRST)
    job = open_job(write_project(tmp_path / "pg", pg_url, MAPPING, "columnar"))
    try:
        model, source = job.sync.model, job.source
        names = list(source._column_names(model, job.mapping_dir).values())
        quote = source.engine.dialect.identifier_preparer.quote
        bound = "'2026-03-01 07:00:00'"
        scan = window_scan(source.sql(model, job.mapping_dir), names, ["id"], "email", quote, "updated_at", bound)

        def one_scan(sql: str) -> Iterator[Any]:
            raise AssertionError("the one scan ran")

        read = list(window_batches(source.engine, {}, scan, 3, one_scan))
        outside = [b for b in read if IN_WINDOW not in b.data.schema.names]  # (no flag column: outside)
        window = [b for b in read if IN_WINDOW in b.data.schema.names and all(b.data.column(IN_WINDOW).to_pylist())]
        assert len(outside) + len(window) == len(read) and read.index(outside[0]) == len(window)  # window first
        assert {tuple(b.data.schema.names) for b in outside} == {("id", "email")}
        assert all(not split(b)[1].any() for b in outside) and all(split(b)[1].all() for b in window)
        inside = [row for b in window for row in b.rows(range(b.data.num_rows))]
        assert [r["id"] for r in inside] == [4] and set(inside[0]) == {*names, IN_WINDOW}
        assert sum(b.data.num_rows for b in read) == len(FIRST)

        _execute(pg_url, "ALTER TABLE model ALTER COLUMN score TYPE NUMERIC(12, 2)")
        assert next(iter(window_batches(source.engine, {}, scan, 3, lambda sql: iter(["one scan"])))) == "one scan"
    finally:
        job.close()
        job.state.close()
