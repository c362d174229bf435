"""The columnar diff makes Python values of only the columns a changed row's key and mapping read
(`Differ.reads`, `RowBatch.rows_for`): the same values for those, the whole row for a rejected
row's fingerprint, and every column wherever narrowing could change an answer (a template field,
a wrapped batch, a missing or repeated column name) or where it would drop none."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from syncer.columnar.batches import RowBatch, _from_arrow, _from_rows
from syncer.diff import PartialRow, _raw_fingerprint
from syncer.mapping import FieldSpec, Mapper
from tests.diffmodes.harness import open_job, plan, write_project

os.environ.setdefault("HOOK_SECRET", "whsec-test-partial-rows")

NAMES = ["id", "email", "score", "note", "seen", "amount"]
ROWS = [
    (1, "a@x.io", 1.5, "wide text", dt.date(2026, 1, 1), Decimal("1.10")),
    (2, "b@x.io", None, None, dt.date(2026, 1, 2), Decimal("-3.00")),
    (3, None, 7.0, "x" * 50, None, None),
]


def batches() -> list[RowBatch]:
    arrow = pa.RecordBatch.from_pylist([dict(zip(NAMES, r, strict=True)) for r in ROWS])
    return [_from_arrow(arrow, NAMES), _from_rows(ROWS, NAMES)]


@pytest.mark.parametrize("batch", batches(), ids=["arrow", "rows"])
def test_narrowed_rows_hold_the_same_values_and_the_whole_row(batch: RowBatch) -> None:
    whole = batch.rows([2, 0])
    narrowed = batch.rows_for([2, 0], ["id", "score"])
    assert all(isinstance(row, PartialRow) for row in narrowed)
    assert narrowed == [{"id": w["id"], "score": w["score"]} for w in whole]
    assert [row.whole() for row in narrowed] == whole  # type: ignore[attr-defined]
    assert [_raw_fingerprint(row) for row in narrowed] == [_raw_fingerprint(row) for row in whole]


@pytest.mark.parametrize("batch", batches(), ids=["arrow", "rows"])
def test_every_column_where_narrowing_cannot_stand_for_the_row(batch: RowBatch) -> None:
    whole = batch.rows([1])
    for columns in (None, ["id", "missing"], NAMES):  # a template mapping; a column the model lacks; all read
        rows = batch.rows_for([1], columns)
        assert rows == whole and not isinstance(rows[0], PartialRow)
    wrapped = RowBatch(batch.data, batch.rows, batch.values, batch.native, batch.tagged)  # as columnar.window wraps
    assert wrapped.rows_for([1], ["id"]) == whole
    repeated = _from_rows([(1, 2)], ["a", "a"])
    assert not isinstance(repeated.rows_for([0], ["a"])[0], PartialRow)


def test_a_template_reads_every_column() -> None:
    """A template makes every value of the row plain (or escaped) before it picks its own, so a
    mapping with one gets whole rows; without, only the key's, match's and fields' columns."""
    plain = Mapper({"score": FieldSpec(column="score"), "kind": FieldSpec(const="x")}, "email")
    assert plain.reads(["id"]) == ["email", "id", "score"]
    templated = Mapper({"label": FieldSpec(template="{email}!")}, "email")
    assert templated.reads(["id"]) is None


MAPPING = """
connector = "hook"
object = "things"

[model]
table = "things"
primary_key = "id"

[match]
field = "email"
column = "email"

[fields]
score = { column = "score", cast = "int" }
"""


def test_a_rejected_row_is_fingerprinted_whole_in_every_mode(tmp_path: Path) -> None:
    """A row the mapping rejects carries the fingerprint of all its columns (so a fix anywhere in it
    sends it again): the columnar plan, which read only three columns of it, gives the row path's."""
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE things (id BIGINT, email VARCHAR, score VARCHAR, note VARCHAR, seen DATE)")
        conn.execute(
            "INSERT INTO things VALUES (1, 'a@x.io', '12', 'n1', DATE '2026-01-01'), "
            "(2, 'b@x.io', 'not a number', 'n2', DATE '2026-01-02')"
        )
    bad = {}
    for mode in ("rows", "columnar"):
        job = open_job(write_project(tmp_path / mode, f"duckdb:///{path}", MAPPING, mode))
        try:
            differ, planned = plan(job)
            assert mode == "rows" or differ.reads == ["email", "id", "score"]
        finally:
            job.close()
            job.state.close()
        bad[mode] = planned.bad
    assert bad["columnar"] == bad["rows"] and len(bad["rows"]) == 1
    whole = {"id": 2, "email": "b@x.io", "score": "not a number", "note": "n2", "seen": dt.date(2026, 1, 2)}
    assert bad["rows"][0][1] == _raw_fingerprint(whole)
