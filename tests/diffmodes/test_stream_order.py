"""The last run's checks in stream order (syncer.columnar.stream_order) vouch only for what state holds.

- the list is read near a cursor whatever the model's order now: a row is vouched for only when its
  exact check is listed; in the orders a warehouse keeps (unchanged, rows inserted, a few deleted, a
  changed row) every listed row is found there, so the sorted search sees only the rest;
- a run lists only the rows state holds after it (rejected, bad-key, duplicated and unacknowledged rows
  are left out), and plans after it, in any order, plan exactly what the row path plans;
- a list that is not current (missing, another token, sync or polars, truncated, corrupt) is not read.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from syncer.columnar import sidecar as sidecar_module
from syncer.columnar import stream_order
from syncer.columnar.modes import after_run
from syncer.columnar.stream_order import HEADER, Recorder, open_order
from syncer.state import Outcome
from tests.diffmodes.harness import diff, hook_mapping, open_job, plan, write_project

N = 60
NEW = 1000  # ids of rows the list never saw

# name -> (the model's rows now, as ids of the listed stream 0..N-1 (NEW+: new rows), whether every
# listed row must be found by the list itself: the orders a warehouse keeps)
ORDERS: dict[str, tuple[Callable[[list[int]], list[int]], bool]] = {
    "unchanged": (lambda ids: ids, True),
    "rows inserted at the front": (lambda ids: [NEW + i for i in range(3)] + ids, True),
    "rows inserted in the middle": (lambda ids: ids[:30] + [NEW + i for i in range(12)] + ids[30:], True),
    "a few rows deleted": (lambda ids: ids[:20] + ids[23:], True),
    "many rows deleted": (lambda ids: ids[:10] + ids[40:], False),
    "reversed": (lambda ids: ids[::-1], False),
    "shuffled": (lambda ids: random.Random(7).sample(ids, len(ids)), False),
    "rows moved to the end": (lambda ids: ids[15:] + ids[:15], False),
}


def _checks(ids: list[int], changed: set[int] = frozenset()) -> tuple[np.ndarray, np.ndarray]:
    """Made-up (check1, check2) per row id; a changed row keeps check1's key part but not check2."""
    c1 = np.array([(i * 0x9E3779B97F4A7C15 + 12345) % 2**64 for i in ids], dtype=np.uint64)
    c2 = np.array([(i * 0xC2B2AE3D27D4EB4F + (99 if i in changed else 0)) % 2**64 for i in ids], dtype=np.uint64)
    return c1, c2


def _write_list(path: Path, ids: list[int], held: set[int], token: int = 5) -> int:
    recorder = Recorder()
    try:
        for start in range(0, len(ids), 9):
            recorder.append(*_checks(ids[start : start + 9]))
        held1 = _checks(sorted(held))[0]
        return recorder.finish(path, "m", token, lambda c1, c2: np.isin(c1, held1))
    finally:
        recorder.close()


@pytest.mark.parametrize("changed", [False, True], ids=["", "and a changed row"])
@pytest.mark.parametrize("name", list(ORDERS))
def test_the_list_vouches_for_listed_rows_only_whatever_the_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, changed: bool
) -> None:
    monkeypatch.setattr(stream_order, "CHUNK", 16)
    monkeypatch.setattr(stream_order, "SLACK", 4)
    ids = list(range(N))
    unheld = {5, 6, 44}  # rejected or unacknowledged in the last run: state does not hold them
    path = tmp_path / "m.order"
    assert _write_list(path, ids, set(ids) - unheld) == N - len(unheld)
    reorder, local = ORDERS[name]
    now = reorder(ids)
    edited = {now[len(now) // 2]} if changed else set()
    listed = [i not in unheld and i < NEW and i not in edited for i in now]
    order = open_order(path, "m", 5)
    assert order is not None
    found: list[bool] = []
    for start in range(0, len(now), 7):  # batches of 7 rows
        found += order.found(*_checks(now[start : start + 7], edited)).tolist()
    assert not any(f and not ok for f, ok in zip(found, listed, strict=True))  # never an unlisted row
    if local:
        assert found == listed  # and here the sorted search is left the unlisted rows only
    assert order.vouched == sum(found)


LISTS: dict[str, Callable[[Path], Any]] = {
    "missing": lambda path: path.unlink(),
    "truncated": lambda path: path.write_bytes(path.read_bytes()[:-8]),
    "header only": lambda path: path.write_bytes(path.read_bytes()[:HEADER]),
    "corrupt": lambda path: path.write_bytes(b"\xff" * 64 + path.read_bytes()[64:]),
    "empty": lambda path: path.write_bytes(b""),
}


@pytest.mark.parametrize("damage", list(LISTS))
def test_a_list_that_is_not_whole_is_not_read(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "m.order"
    _write_list(path, list(range(N)), set(range(N)))
    assert open_order(path, "m", 5) is not None
    assert open_order(path, "m", 6) is None  # another token: state changed since
    assert open_order(path, "other", 5) is None
    assert open_order(path, "m", None) is None  # state keeps no token
    LISTS[damage](path)
    assert open_order(path, "m", 5) is None


def test_a_list_of_another_polars_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.order"
    _write_list(path, list(range(N)), set(range(N)))
    monkeypatch.setattr(stream_order.pl, "__version__", "0.0.1")
    assert open_order(path, "m", 5) is None


# -- through the engine: a DuckDB model, a columnar and a row-path sync with their own state ----------

ROWS = 450  # stream_batch 100: 5 batches
KEYS = list(range(1, ROWS + 1))
FIELDS = 'v = "v"'


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "whsec-test-stream-order")


def _load(url: str, keys: list[int | None], changed: set[int] = frozenset()) -> None:
    """The model `model` (a key, m match value, v value; rows in this order: DuckDB keeps it)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE OR REPLACE TABLE model (a BIGINT, m VARCHAR, v BIGINT)"))
        rows = [{"a": k, "m": f"m{k}", "v": (k or 0) * 10 + (1 if k in changed else 0)} for k in keys]
        conn.execute(sa.text("INSERT INTO model VALUES (:a, :m, :v)"), rows)
    engine.dispose()


def _run(job: Any, reject: set[str], fail: set[str]) -> None:
    """A run whose destination rejects `reject` and never answers for `fail` (nothing recorded)."""
    run_id = job.state.start_run("m", False)
    differ, changes = diff(job, for_run=True)
    outcomes = [
        Outcome(
            c.key,
            "upsert",
            "rejected" if c.key in reject else "ok",
            c.fingerprint,
            c.match_value,
            c.key,
            "no" if c.key in reject else None,
            c.fields,
            c.source_fp,
        )
        for c in changes
        if c.kind != "removed" and c.key not in fail
    ]
    outcomes += [Outcome(b.key, "upsert", "rejected", b.fingerprint, None, None, b.reason, None) for b in differ.bad]
    job.state.record("m", run_id, outcomes)
    job.state.refresh_source_fps("m", differ.refreshed)
    after_run(differ, run_id, failed=len(fail), unsent=len(reject) + len(differ.bad))
    job.state.finish_run(run_id, "ok", {})


def _listed(job: Any) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(the stream-order list's checks, the current sidecar's)."""
    path = sidecar_module.path_for(job.config.data_dir(), "m")
    token = job.state.generation("m")
    pairs = np.fromfile(stream_order.path_for(path), dtype=np.uint64, offset=HEADER).reshape(-1, 2)
    found = sidecar_module.load(path, "m", token)
    assert found is not None and open_order(stream_order.path_for(path), "m", token) is not None
    return {(int(a), int(b)) for a, b in pairs}, set(zip(found.check1.tolist(), found.check2.tolist(), strict=True))


@pytest.mark.parametrize("name", list(ORDERS))
@pytest.mark.usefixtures("secret")
def test_plans_after_a_run_with_rejections_and_failures_plan_what_rows_plans(tmp_path: Path, name: str) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    first = [*KEYS, None, 77]  # a NULL key and a duplicated key: rejected by key, never listed
    _load(url, first)
    jobs = {
        mode: open_job(write_project(tmp_path / mode, url, hook_mapping(FIELDS), mode, "stream_batch = 100"))
        for mode in ("rows", "columnar")
    }
    try:
        for job in jobs.values():
            _run(job, reject={"3", "4"}, fail=set())
        _load(url, first, changed={10, 11, 12, 13})
        for job in jobs.values():  # the writes of 10 and 11 fail: state keeps their old values
            _run(job, reject={"12"}, fail={"10", "11"})
        listed, held = _listed(jobs["columnar"])
        assert listed <= held  # only what state holds
        assert len(listed) == ROWS - 2 - 1 - 3  # all but 3, 4 (rejected), 77 (duplicated), 10-12 (failed, rejected)
        reorder, local = ORDERS[name]
        now = [k + NEW if k >= NEW else k for k in reorder(KEYS)]  # new rows get keys the list never saw
        _load(url, now, changed={10, 11, 12, 13, 20})  # 20: changed since the run
        plans = {mode: plan(job) for mode, job in jobs.items()}
        assert plans["columnar"][1] == plans["rows"][1], name
        differ = plans["columnar"][0]
        assert differ.order is not None  # the list was current, and read
        tally = plans["columnar"][1].tally
        assert 0 < differ.order.vouched <= tally["unchanged"]
        if local:  # every unchanged row found by the list: the sorted search saw only the rest
            assert differ.order.vouched == tally["unchanged"]
    finally:
        for job in jobs.values():
            job.close()
            job.state.close()


@pytest.mark.usefixtures("secret")
def test_a_plan_writes_no_list_and_a_full_run_writes_one(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    _load(url, KEYS)
    job = open_job(write_project(tmp_path / "c", url, hook_mapping(FIELDS), "columnar", "stream_batch = 100"))
    try:
        path = stream_order.path_for(sidecar_module.path_for(job.config.data_dir(), "m"))
        _run(job, set(), set())
        _load(url, KEYS[::-1])
        before = path.read_bytes()
        differ, planned = plan(job)
        assert path.read_bytes() == before and planned.tally["unchanged"] == ROWS
        run_id = job.state.start_run("m", True)
        differ, _ = diff(job, for_run=True, full=True)  # (a full run reads no sidecar and no list)
        after_run(differ, run_id, 0, 0)
        assert path.read_bytes() != before  # the list follows the model's new order
        differ, planned = plan(job)
        assert differ.order is not None and differ.order.vouched == ROWS == planned.tally["unchanged"]
    finally:
        job.close()
        job.state.close()
