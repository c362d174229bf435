"""Warehouse mode with `model.updated_at`: a diff reads only the rows updated since the last run.

Every kind of change is made for real (DuckDB and PostgreSQL warehouse, SQLite state, a first run
that built the snapshot and recorded the watermark), and the next run is compared with the rows
mode's plan on the same data: counts, changes, rejected rows. Each case also says which statement
answered: the window, the window giving way to the full statement (a key left the model or
repeats), or the full statement from the start. The one change a window may miss (a row updated
without bumping `updated_at`, or committed later than the lookback) is missed, then found by the
full diff once `full_diff_every` has passed. Then: a failed write, a rejected row, and a SIGKILL
between the acknowledgements and the watermark write. (A mapping edit and a new `updated_at` type:
test_window_whole_model, one table for this window and the columnar one.)
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.columnar.modes import after_run
from syncer.state import StateStore
from syncer.warehouse_diff import watermark
from syncer.warehouse_diff.differ import WarehouseDiffer
from syncer.warehouse_diff.watermark import Window, decode, encode
from tests.diffmodes.harness import Plan, acknowledge, diff, open_job, plan_of, write_project
from tests.diffmodes.test_modes_cli import duckdb_project, sql
from tests.diffmodes.test_snapshot_heal import MAPPING as HEAL_MAPPING

os.environ.setdefault("HOOK_SECRET", "whsec-test-incremental")

MAPPING = HEAL_MAPPING.replace('object = "things"\n', 'object = "things"\nmode = "mirror"\n').replace(
    'primary_key = "id"\n', 'primary_key = "id"\nupdated_at = "updated_at"\n'
)
DAY = dt.datetime(2026, 3, 1)
OLD, NEWEST = "2026-03-01 00:00:00", "2026-03-01 08:00:00"  # the first run's watermark: 08:00, lookback 1h
BUMPED = "2026-03-01 09:00:00"
FIRST = [(i, f"u{i}@x.io", i, NEWEST if i == 4 else OLD) for i in range(1, 9)]


class Clock:
    def __init__(self) -> None:
        self.now = (DAY + dt.timedelta(hours=9, minutes=5)).replace(tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(watermark, "utcnow", clock)
    return clock


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'w.duckdb'}"
    else:
        yield request.getfixturevalue("pg_url")


def _execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def _load(url: str, rows: list[tuple[Any, ...]]) -> None:
    values = ", ".join(f"({i}, '{e}', {s}, TIMESTAMP '{u}')" for i, e, s, u in rows)
    _execute(
        url,
        "DROP TABLE IF EXISTS model",
        "CREATE TABLE model (id BIGINT, email VARCHAR(100), score BIGINT, updated_at TIMESTAMP)",
        f"INSERT INTO model VALUES {values}",
    )


def _jobs(tmp_path: Path, url: str, mapping: str = MAPPING, windowed: str = "warehouse") -> dict[str, Any]:
    """Jobs by mode: rows, and `windowed` (the mode whose window is tested; test_columnar_window: columnar)."""
    return {mode: open_job(write_project(tmp_path / mode, url, mapping, mode)) for mode in ("rows", windowed)}


def _close(jobs: dict[str, Any]) -> None:
    for job in jobs.values():
        job.close()
        job.state.close()


def _run(job: Any, reject: set[str] = frozenset()) -> tuple[Plan, Window | None]:  # type: ignore[assignment]
    """`harness.run`, also returning the warehouse differ's window."""
    run_id = job.state.start_run(job.sync.name, False)
    differ, changes = diff(job, for_run=True)
    acknowledge(job, differ, changes, set(reject), run_id)
    rejected = sum(1 for c in changes if c.key in reject and c.kind != "removed") + len(differ.bad)
    after_run(differ, run_id, failed=0, unsent=rejected)
    job.state.finish_run(run_id, "ok", {})
    return plan_of(differ, changes), differ.window if isinstance(differ, WarehouseDiffer) else None


def answered_run(job: Any) -> tuple[Plan, str]:
    """One run: (its plan, the path that answered: window / fell back / full)."""
    plan, window = _run(job)
    return plan, _answered(window)


def full_diff_finds_the_miss(rows: Plan, ran: Plan, clock: Clock, rerun: Callable[[], tuple[Plan, str]]) -> None:
    """A change the window missed (`ran`, where the rows mode's plan has it): the full diff, once
    `full_diff_every` has passed, finds it. `rerun`: one more run, (its plan, the path that answered)."""
    assert rows.tally["changed"] == 1 and ran.tally["changed"] == 0
    clock.now += dt.timedelta(hours=24)
    again, answered = rerun()
    assert answered == "full" and again.tally["changed"] == 1
    assert again.changes == rows.changes


def _answered(window: Window | None) -> str:
    assert window is not None
    return "fell back" if window.fell_back else "window" if window.since is not None else "full"


CASES = {  # name: (statements on the model after the first run, which statement answers, == rows plan)
    "nothing changed": ([], "window", True),
    "update, bumped": (
        [f"UPDATE model SET score = 20, updated_at = TIMESTAMP '{BUMPED}' WHERE id = 2"],
        "window",
        True,
    ),
    "insert": ([f"INSERT INTO model VALUES (9, 'u9@x.io', 9, TIMESTAMP '{BUMPED}')"], "window", True),
    "delete": (["DELETE FROM model WHERE id = 3"], "fell back", True),
    "key change": ([f"UPDATE model SET id = 50, updated_at = TIMESTAMP '{BUMPED}' WHERE id = 1"], "fell back", True),
    "duplicate key inserted": (
        [f"INSERT INTO model VALUES (2, 'dup@x.io', 7, TIMESTAMP '{BUMPED}')"],
        "fell back",
        True,
    ),
    "a new key inserted twice, both in the window": (
        [
            f"INSERT INTO model VALUES (9, 'u9@x.io', 9, TIMESTAMP '{BUMPED}')",
            f"INSERT INTO model VALUES (9, 'v9@x.io', 9, TIMESTAMP '{BUMPED}')",
        ],
        "fell back",
        True,
    ),
    "a key updated and duplicated, both in the window": (
        [
            f"UPDATE model SET score = 21, updated_at = TIMESTAMP '{BUMPED}' WHERE id = 2",
            f"INSERT INTO model VALUES (2, 'dup@x.io', 7, TIMESTAMP '{BUMPED}')",
        ],
        "fell back",
        True,
    ),
    "duplicate plus delete (must not cancel)": (
        [f"INSERT INTO model VALUES (2, 'dup@x.io', 7, TIMESTAMP '{BUMPED}')", "DELETE FROM model WHERE id = 3"],
        "fell back",
        True,
    ),
    "insert with an old updated_at plus a delete (must not cancel)": (
        [f"INSERT INTO model VALUES (9, 'u9@x.io', 9, TIMESTAMP '{OLD}')", "DELETE FROM model WHERE id = 3"],
        "fell back",
        True,
    ),
    "duplicate with an old updated_at plus a delete (must not cancel)": (
        [f"INSERT INTO model VALUES (2, 'dup@x.io', 7, TIMESTAMP '{OLD}')", "DELETE FROM model WHERE id = 3"],
        "fell back",
        True,
    ),
    "key change without bumping updated_at": (["UPDATE model SET id = 50 WHERE id = 1"], "fell back", True),
    "colliding match value inserted": (  # both rows rejected, the old one outside the window too
        [f"INSERT INTO model VALUES (9, 'u1@x.io', 9, TIMESTAMP '{BUMPED}')"],
        "full",
        True,
    ),
    "match value updated into a collision": (
        [f"UPDATE model SET email = 'u1@x.io', updated_at = TIMESTAMP '{BUMPED}' WHERE id = 5"],
        "full",
        True,
    ),
    "NULL updated_at": (
        [
            "INSERT INTO model VALUES (10, 'u10@x.io', 10, NULL)",
            "UPDATE model SET score = 60, updated_at = NULL WHERE id = 6",
        ],
        "window",
        True,
    ),
    "NULL key inserted": ([f"INSERT INTO model VALUES (NULL, 'n@x.io', 0, TIMESTAMP '{BUMPED}')"], "window", True),
    "late commit inside the lookback": (
        ["UPDATE model SET score = 70, updated_at = TIMESTAMP '2026-03-01 07:30:00' WHERE id = 7"],
        "window",
        True,
    ),
    "updated without bumping updated_at": (["UPDATE model SET score = 80 WHERE id = 8"], "window", False),
    "late commit beyond the lookback": (
        ["UPDATE model SET score = 81, updated_at = TIMESTAMP '2026-03-01 06:00:00' WHERE id = 8"],
        "window",
        False,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_window_plans_what_the_rows_mode_plans(warehouse_url: str, tmp_path: Path, clock: Clock, case: str) -> None:
    statements, answered, equal = CASES[case]
    _load(warehouse_url, FIRST)
    jobs = _jobs(tmp_path, warehouse_url)
    try:
        _run(jobs["rows"])
        _, first = _run(jobs["warehouse"])
        assert _answered(first) == "full"  # no watermark yet
        assert jobs["warehouse"].state.diff_watermark("m")[0] == "datetime:2026-03-01T08:00:00"

        _execute(warehouse_url, *statements)
        clock.now += dt.timedelta(minutes=30)
        rows, _ = _run(jobs["rows"])
        plan, window = _run(jobs["warehouse"])
        assert _answered(window) == answered
        assert (plan == rows) is equal, (plan, rows)
        if not equal:
            full_diff_finds_the_miss(rows, plan, clock, lambda: answered_run(jobs["warehouse"]))

        again, window = _run(jobs["warehouse"])  # on the merged snapshot: nothing left to do
        rows_again, _ = _run(jobs["rows"])
        assert again == rows_again and again.tally["added"] + again.tally["changed"] + again.tally["removed"] == 0
    finally:
        _close(jobs)


def synced_jobs(tmp_path: Path, windowed: str = "warehouse") -> Iterator[tuple[str, dict[str, Any]]]:
    """(DuckDB URL, jobs by mode) after a first run of each: the watermark is 08:00."""
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    _load(url, FIRST)
    jobs = _jobs(tmp_path, url, windowed=windowed)
    try:
        for job in jobs.values():
            _run(job)
        yield url, jobs
    finally:
        _close(jobs)


@pytest.fixture
def synced(tmp_path: Path, clock: Clock) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from synced_jobs(tmp_path)


def test_a_plan_writes_no_watermark(synced: tuple[str, dict[str, Any]]) -> None:
    url, jobs = synced
    job = jobs["warehouse"]
    stored = job.state.diff_watermark("m")
    _execute(url, f"UPDATE model SET score = 20, updated_at = TIMESTAMP '{BUMPED}' WHERE id = 2")
    differ, changes = diff(job)
    assert isinstance(differ, WarehouseDiffer) and _answered(differ.window) == "window"
    assert [c.key for c in changes] == ["2"]
    assert job.state.diff_watermark("m") == stored


@pytest.mark.parametrize(
    ("failed", "unsent", "since", "stored"),
    [
        (0, 0, None, "datetime:2026-03-01T09:00:00"),  # a full diff, all acknowledged: read max
        (0, 0, DAY, "datetime:2026-03-01T09:00:00"),  # a window, all acknowledged
        (0, 0, DAY + dt.timedelta(hours=10), "datetime:2026-03-01T10:00:00"),  # the newest rows left: keep it
        (2, 0, DAY, "datetime:2026-03-01T00:00:00"),  # a window, writes failed: kept, read again
        (2, 0, None, None),  # a full diff with failed writes: dropped (the next diff is full again)
        (0, 1, DAY, None),  # a row rejected or held: dropped, only the full statement counts held rows
        (0, 1, None, None),
    ],
)
def test_after_a_run_the_watermark(
    tmp_path: Path, clock: Clock, failed: int, unsent: int, since: dt.datetime | None, stored: str | None
) -> None:
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    try:
        state.set_diff_watermark("m", encode(DAY), "spec", DAY.replace(tzinfo=dt.UTC))
        window = Window("m", "spec", since, DAY.replace(tzinfo=dt.UTC) if since else None)
        window.start(DAY + dt.timedelta(hours=9))
        window.record(state, failed, unsent)
        found = state.diff_watermark("m")
        assert (found[0] if found else None) == stored
        if found and since is None:
            assert found[2] == clock.now  # a full diff ran: its time is recorded
    finally:
        state.close()


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 3, 1, 8, 0, 0, 123456),
        dt.datetime(2026, 3, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        dt.date(2026, 3, 1),
    ],
)
def test_a_watermark_is_stored_losslessly(value: dt.datetime | dt.date) -> None:
    assert decode(encode(value)) == value and type(decode(encode(value))) is type(value)


def test_an_updated_at_that_is_not_a_timestamp_stops_the_diff(tmp_path: Path, clock: Clock) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    _execute(
        url,
        "CREATE TABLE model AS SELECT i AS id, 'u' || i || '@x.io' AS email, i AS score, i AS updated_at "
        "FROM range(3) t(i)",
    )
    job = open_job(write_project(tmp_path / "w", url, MAPPING, "warehouse"))
    try:
        with pytest.raises(Exception, match="updated_at must be a TIMESTAMP or DATE column"):
            diff(job, for_run=True)
    finally:
        job.close()
        job.state.close()


def test_a_failed_write_keeps_the_watermark_and_is_read_again(synced: tuple[str, dict[str, Any]]) -> None:
    url, jobs = synced
    job = jobs["warehouse"]
    stored = job.state.diff_watermark("m")
    _execute(url, f"UPDATE model SET score = 20, updated_at = TIMESTAMP '{BUMPED}' WHERE id = 2")
    run_id = job.state.start_run("m", False)
    differ, changes = diff(job, for_run=True)
    assert [c.key for c in changes] == ["2"]  # the write fails: nothing acknowledged, nothing recorded
    after_run(differ, run_id, failed=1, unsent=0)
    job.state.finish_run(run_id, "partial", {})
    assert job.state.diff_watermark("m") == stored
    plan, window = _run(job)  # the window reads it again
    assert _answered(window) == "window" and [c[1] for c in plan.changes] == ["2"]
    assert job.state.diff_watermark("m")[0] == "datetime:2026-03-01T09:00:00"


def test_a_rejected_row_makes_the_next_diff_full(synced: tuple[str, dict[str, Any]], clock: Clock) -> None:
    url, jobs = synced
    _execute(url, f"UPDATE model SET score = 20, updated_at = TIMESTAMP '{BUMPED}' WHERE id = 2")
    for job in jobs.values():
        _run(job, reject={"2"})
    clock.now += dt.timedelta(hours=1)
    rows, _ = _run(jobs["rows"])
    plan, window = _run(jobs["warehouse"])
    assert _answered(window) == "full" and plan == rows and rows.tally["held_rejected"] == 1


def _state_sql(project: Any, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(project.root / "data" / "state.sqlite") as conn:
        return conn.execute(query).fetchall()


@pytest.mark.parametrize("mode", ["warehouse", "columnar"])  # columnar: `columnar.window`
def test_a_crash_before_the_watermark_write_sends_nothing_twice(
    tmp_path: Path, receiver: WebhookReceiver, mode: str
) -> None:
    project = duckdb_project(tmp_path, receiver, mode)
    sql(project, "ALTER TABLE accounts ADD COLUMN updated_at TIMESTAMP")
    sql(project, "UPDATE accounts SET updated_at = TIMESTAMP '2026-03-01 00:00:00'")
    mapping = project.root / "mappings" / "accounts.toml"
    mapping.write_text(mapping.read_text().replace("[model]\n", '[model]\nupdated_at = "updated_at"\n'))
    assert project.cli("run", "accounts", "--json")[0] == 0
    watermarks = "SELECT watermark, full_diff_at FROM diff_watermarks"
    first = _state_sql(project, watermarks)
    assert first[0][0] == "datetime:2026-03-01T00:00:00"

    sql(project, "UPDATE accounts SET pql_score = pql_score + 1, updated_at = now() WHERE account_id <= 7")
    proc = project.subprocess("run", "accounts", "--json", env={"SYNCER_FAILPOINT": "before_watermark_write"})
    proc.communicate(timeout=120)
    assert proc.returncode == -9  # killed after the 7 changes were acknowledged and merged
    sent = receiver.write_calls
    assert _state_sql(project, watermarks) == first  # the watermark did not move

    code, run, err = project.cli("run", "accounts", "--json")  # the window reads the 7 rows again
    assert code == 0 and run["changed"] == 0 and run["unchanged"] == 300, err
    assert receiver.write_calls == sent  # nothing sent twice
    moved = _state_sql(project, watermarks)
    assert moved[0][0] > first[0][0] and moved[0][1] == first[0][1]  # moved by a window, not a full diff

    sql(project, "UPDATE accounts SET tier = 'x', updated_at = now() WHERE account_id = 3")
    code, run, _ = project.cli("run", "accounts", "--json")
    assert run["changed"] == 1 and run["succeeded"] == 1  # nothing missed


@pytest.mark.parametrize("mode", ["warehouse", "columnar"])
@pytest.mark.parametrize(("column", "problem"), [("updated_at", None), ("email", "VARCHAR"), ("score", "BIGINT")])
def test_check_names_an_updated_at_that_is_not_a_timestamp(
    warehouse_url: str, tmp_path: Path, column: str, problem: str | None, mode: str
) -> None:
    """`syncer check` (`modes.check_problems`) refuses an `updated_at` column a window cannot be bounded
    on, before any run reads it (a run stopped at its first row, naming no file, and printed a value)."""
    from syncer.warehouse_diff.modes import check_problems

    _load(warehouse_url, FIRST)
    mapping = MAPPING.replace('updated_at = "updated_at"', f'updated_at = "{column}"')
    job = open_job(write_project(tmp_path / "check", warehouse_url, mapping, mode))
    try:
        found = [p for p in check_problems(job) if p.startswith("model.updated_at")]
    finally:
        job.close()
        job.state.close()
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and f"column {column!r} is {problem.lower()};" in found[0].lower(), found


def test_the_log_names_where_the_window_starts(
    synced: tuple[str, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    """The rows read start at the watermark minus the lookback (08:00 - 1h), and the log says so: it
    named the watermark, so a row found at 07:30 looked like a row before the window."""
    _, jobs = synced
    with caplog.at_level("INFO", logger="syncer.warehouse_diff"):
        _, window = _run(jobs["warehouse"])
    assert _answered(window) == "window"
    said = [r.getMessage() for r in caplog.records if "diffing the rows updated since" in r.getMessage()]
    assert len(said) == 1 and "since 2026-03-01T07:00:00 " in said[0] and "read up to 2026-03-01T08:00:00" in said[0]
