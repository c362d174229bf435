"""A 32-bit float reaches the destination as the warehouse prints it (syncer.float32).

DuckDB REAL values came out widened to the nearest 64-bit float (82.3 -> 82.30000305175781): HubSpot
stored the noise and Salesforce double(18,2) refused the row. Table-driven over values, on a real
DuckDB file, in every diff mode (columnar's native Arrow path, rows' and warehouse mode's SQLAlchemy
rows): the payload holds the shortest decimal, the three modes plan the same payloads, and a second
plan after the run finds nothing to do.
"""

from __future__ import annotations

import os
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from syncer.float32 import narrowing, shortest
from tests.diffmodes.harness import hook_mapping, open_job, plan, run, write_project

os.environ.setdefault("HOOK_SECRET", "whsec-test-float32")

# (REAL literal, its value as sent, the FLOAT[] literal's list as sent)
CASES = {
    "one decimal": ("82.3", 82.3),
    "a tenth": ("0.1", 0.1),
    "small": ("1e-7", 1e-07),
    "near the largest": ("3.4e38", 3.4e38),
    "past 2**24: the float32 holds 16777216": ("16777217", 16777216.0),
    "negative": ("-2.5", -2.5),
    "a third": ("1/3", 0.33333334),
    "zero": ("0", 0.0),
    "the largest float32 (rounding up would overflow)": ("3.4028235e38", 3.4028235e38),
}


MAPPING = hook_mapping(
    """\
v = "v"
l = "l"
f = "f"
"""
)


def _numbers(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload's numbers (exact Decimals on the JSON wire) as floats, to compare with the table."""
    return {k: [float(x) for x in v] if isinstance(v, list) else float(v) for k, v in payload.items()}


def _f32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


@pytest.mark.parametrize(
    ("value", "expected"),
    [(82.3, 82.3), (0.1, 0.1), (1 / 3, 0.33333334), (16777217.0, 16777216.0), (1e-45, 1e-45), (3.4e38, 3.4e38)],
)
def test_shortest_reads_back_as_the_same_float32(value: float, expected: float) -> None:
    widened = _f32(value)
    assert shortest(widened) == expected and _f32(shortest(widened)) == widened


def test_every_mode_sends_the_warehouse_s_float32(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE model (a INTEGER, m VARCHAR, v REAL, l REAL[], f REAL[2])")
    for i, (literal, _) in enumerate(CASES.values()):
        pair = f"[({literal})::REAL, 0.1::REAL]"
        con.execute(f"INSERT INTO model VALUES ({i}, 'x{i}', ({literal})::REAL, {pair}, {pair})")
    con.close()
    sent = {}
    for mode in ("columnar", "rows", "warehouse"):
        job = open_job(write_project(tmp_path / mode, f"duckdb:///{db}", MAPPING, mode))
        job.learn_types()  # the webhook's fields are JSON (a run learns it so): numbers stay numbers
        try:
            planned = run(job, set())
            sent[mode] = {c[1]: _numbers(c[4]) for c in planned.changes}
            _, again = plan(job)
            assert again.changes == [], (mode, again.changes)
        finally:
            job.close()
            job.state.close()
    expected = {
        str(i): {"v": value, "l": [value, 0.1], "f": [value, 0.1]} for i, (_, value) in enumerate(CASES.values())
    }
    assert sent["columnar"] == expected
    assert sent["rows"] == sent["warehouse"] == sent["columnar"]


# (DuckDB type, literal of a value, the value as sent): float32 at every nesting, next to other types
NESTED = {
    "mixed struct": (
        "STRUCT(x REAL, y DOUBLE, z VARCHAR)",
        "{'x': 82.3, 'y': 0.1, 'z': 'a'}",
        {"x": 82.3, "y": 0.1, "z": "a"},
    ),
    "struct of list": ("STRUCT(l REAL[])", "{'l': [0.1, 1/3]}", {"l": [0.1, 0.33333334]}),
    "list of struct": ("STRUCT(x REAL)[]", "[{'x': 0.1}, NULL, {'x': -2.5}]", [{"x": 0.1}, None, {"x": -2.5}]),
    "struct of struct": ("STRUCT(s STRUCT(x REAL[2]))", "{'s': {'x': [0.1, 1e-7]}}", {"s": {"x": [0.1, 1e-07]}}),
    "map of real": ("MAP(VARCHAR, REAL)", "MAP {'k': 0.1}", {"k": 0.1}),
    "union, real member": ("UNION(f REAL, t VARCHAR)", "union_value(f := 0.1::REAL)", 0.1),
    "union, struct member": ("UNION(s STRUCT(x REAL), d DOUBLE)", "union_value(s := {'x': 82.3::REAL})", {"x": 82.3}),
    "union, double member": ("UNION(s STRUCT(x REAL), d DOUBLE)", "union_value(d := 0.1::DOUBLE)", 0.1),
    "union of real and double, real member": ("UNION(f REAL, d DOUBLE)", "union_value(f := 82.3::REAL)", 82.3),
    "struct of union": ("STRUCT(u UNION(f REAL, t VARCHAR))", "{'u': union_value(f := 0.7::REAL)}", {"u": 0.7}),
    "null struct": ("STRUCT(x REAL)", "NULL", None),
}


def _plain(value: Any) -> Any:
    """A payload value as JSON numbers (exact Decimals on the wire) read back as floats."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return float(value) if isinstance(value, Decimal | int) and not isinstance(value, bool) else value


@pytest.mark.parametrize("case", list(NESTED))
def test_every_mode_sends_a_nested_float32_as_the_warehouse_holds_it(tmp_path: Path, case: str) -> None:
    kind, literal, expected = NESTED[case]
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"CREATE TABLE model (a INTEGER, m VARCHAR, v {kind})")
    con.execute(f"INSERT INTO model VALUES (1, 'x1', ({literal})::{kind})")
    con.close()
    mapping = hook_mapping('v = "v"\n')
    sent = {}
    for mode in ("columnar", "rows", "warehouse"):
        job = open_job(write_project(tmp_path / mode, f"duckdb:///{db}", mapping, mode))
        job.learn_types()
        try:
            planned = run(job, set())
            sent[mode] = [_plain(c[4].get("v")) for c in planned.changes]
            _, again = plan(job)
            assert again.changes == [], (mode, again.changes)
        finally:
            job.close()
            job.state.close()
    print(f"\n{case}: {sent}")
    assert sent == {mode: [expected] for mode in sent}


def test_only_duckdb_types_are_read_as_float32() -> None:
    """BigQuery's driver describes a FLOAT64 column as "FLOAT" (text): never narrowed (it was, by name)."""
    con = duckdb.connect()
    description = con.execute("SELECT 0.1::REAL AS r, 0.1::DOUBLE AS d").description
    con.close()
    assert narrowing(description) is not None and set(narrowing(description) or {}) == {0}
    assert narrowing([("amount", "FLOAT", None, None, None, None, True)]) is None
