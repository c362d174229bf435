"""A columnar plan's key checks run in the stream (syncer.columnar.key_repeats) and reject exactly
what the aggregates of syncer.keycheck reject.

Table-driven: each case is a model on a real DuckDB or SQLite warehouse, planned row by row (the
aggregates before the stream) and columnar (hashes in the stream; the aggregates only after a
repeat, then the plan again with their report). Both plans must be equal -- counts, changes,
rejected rows and reasons -- and the aggregates must run exactly when the case says: never for a
model without repeats, once when a key or a match value repeats (really, or by a forced 64-bit
hash collision) or a key cannot identify a record.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from syncer.columnar import kernels
from syncer.columnar.key_repeats import python_lower
from syncer.keycheck import MatchRule
from syncer.runner import SyncJob
from syncer.source import Source
from tests.diffmodes.harness import open_job, plan, run, write_project

os.environ.setdefault("HOOK_SECRET", "whsec-test-key-repeats")

BASE = [(1, "m1", 10), (2, "m2", 20), (3, "m3", 30)]  # synced by a first run: state and a sidecar


@dataclass
class Case:
    rows: list[tuple[Any, Any, Any]]  # (k, m, v)
    exact_checks: int  # times the aggregates run in the columnar plan
    warehouse: str = "duckdb"
    key_type: str = "BIGINT"
    casefold: bool = False
    collide: str | None = None  # "key" / "match": every hash of that kind forced to one value
    rejected: set[str] = field(default_factory=set)  # keys the plan must reject by key checks


CASES = {
    "unique keys and match values": Case([*BASE, (4, "m4", 40)], 0),
    "duplicate key": Case([*BASE, (2, "m9", 21)], 1, rejected={"2"}),
    "keys that canonicalise equal (SQLite 1 and '1')": Case([*BASE, ("1", "m9", 11)], 1, "sqlite", "", rejected={"1"}),
    "colliding match values": Case([*BASE, (4, "m2", 40)], 1, rejected={"2", "4"}),
    "match values equal up to case, exact destination": Case([*BASE, (4, "M2", 40)], 0),
    "match values equal up to case, case-insensitive destination": Case(
        [*BASE, (4, "M2", 40)], 1, casefold=True, rejected={"2", "4"}
    ),
    "non-ASCII match values equal up to case, case-insensitive": Case(
        [*BASE, (4, "É", 40), (5, "é", 50)], 1, casefold=True, rejected={"4", "5"}
    ),
    "forced key-hash collision, no real repeat": Case([*BASE, (4, "m4", 40)], 1, collide="key"),
    "forced match-hash collision, no real repeat": Case([*BASE, (4, "m4", 40)], 1, collide="match"),
    "forced collision and a real duplicate": Case([*BASE, (3, "m9", 31)], 1, collide="match", rejected={"3"}),
    "a key that cannot identify a record (NaN)": Case(
        [(1.0, "m1", 10), (2.0, "m2", 20), (math.nan, "m3", 30)], 1, key_type="DOUBLE"
    ),
}

MAPPING = """connector = "hook"
object = "things"

[model]
table = "model"
primary_key = "k"

[match]
field = "ext"
column = "m"

[fields]
v = "v"
"""


def load(url: str, rows: list[tuple[Any, Any, Any]], key_type: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS model"))
        conn.execute(sa.text(f"CREATE TABLE model (k {key_type}, m VARCHAR, v BIGINT)"))
        conn.execute(sa.text("INSERT INTO model VALUES (:k, :m, :v)"), [{"k": k, "m": m, "v": v} for k, m, v in rows])
    engine.dispose()


@pytest.mark.parametrize("name", sorted(CASES))
def test_stream_key_checks_reject_what_the_aggregates_reject(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    suffix = "duckdb" if case.warehouse == "duckdb" else "sqlite"
    url = f"{case.warehouse}:///{tmp_path / f'w.{suffix}'}"
    load(url, BASE if case.key_type != "DOUBLE" else case.rows[:2], case.key_type)
    jobs = {mode: open_job(write_project(tmp_path / mode, url, MAPPING, mode)) for mode in ("rows", "columnar")}
    rule = MatchRule("m", "ext", case.casefold)

    def learn(self: SyncJob, connector: Any = None) -> MatchRule:
        self.match_rule = rule  # the destination's comparison, as a connector would report it
        return rule

    monkeypatch.setattr(SyncJob, "learn_match_rule", learn)
    try:
        for job in jobs.values():
            run(job, set())  # state and, for columnar, a current sidecar: rows are unchanged or changed
        load(url, case.rows, case.key_type)
        if case.collide:
            forced = kernels.key_hashes if case.collide == "key" else kernels.match_hashes
            same = lambda values: pl.Series(values.name, [7] * len(values), dtype=pl.UInt64)  # noqa: E731
            monkeypatch.setattr(kernels, forced.__name__, same)
        calls: list[int] = []
        exact = Source.check_keys

        def counted(self: Source, *args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return exact(self, *args, **kwargs)

        monkeypatch.setattr(Source, "check_keys", counted)
        _, rows = plan(jobs["rows"])
        assert len(calls) == 1  # the row path checks before its stream
        differ, columnar = plan(jobs["columnar"])
        assert len(calls) - 1 == case.exact_checks
        assert columnar == rows
        by_keys = {b.key for b in differ.bad if "duplicate" in b.reason}  # key checks, not NULL or NaN keys
        assert by_keys == case.rejected
    finally:
        for job in jobs.values():
            job.close()
            job.state.close()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text()), max_size=40))
@example(["ACCT.EXAMPLE.COM", "\ua7cb", "\u1c89x", None, "İ"])  # polars' Unicode tables lower these two; 3.11's do not
def test_lowering_in_bulk_is_pythons_str_lower(values: list[str | None]) -> None:
    """`python_lower` (polars for ASCII, Python for the rest) gives exactly `str.lower` per value:
    the form the exact collision check compares, so the stream's match hashes agree with it."""
    lowered = python_lower(pl.Series("m", values, dtype=pl.String)).to_list()
    assert lowered == [None if v is None else v.lower() for v in values]
