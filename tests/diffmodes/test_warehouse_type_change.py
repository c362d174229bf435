"""A model column's type changes while its values print the same (seventh adversarial session, #1).

The warehouse fingerprint hashes most values as their text, and DECIMAL 1.50 and VARCHAR '1.50' print
alike: `diff = "warehouse"` called such rows unchanged (even with `--full-diff`) while the payload
changed (a number became a string, a string became a JSON object). Each cell changes one column's
type under a synced model and checks the warehouse run sends exactly what the rows run sends, on
DuckDB and PostgreSQL, with and without `model.updated_at` (its window must not hide it either).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.diffmodes.harness import open_job, run, write_project

os.environ.setdefault("HOOK_SECRET", "whsec-test-type-change")

MAPPING = """connector = "hook"
object = "things"

[model]
table = "model"
primary_key = "id"
{updated_at}

[match]
field = "ext"
column = "id"

[fields]
v = "v"
"""

# warehouse -> (column type before, value, ALTER ... TYPE clause after)
CASES = {
    "duckdb decimal to varchar": ("duckdb", "DECIMAL(10,2)", "1.50", "VARCHAR"),
    "duckdb varchar to json": ("duckdb", "VARCHAR", '{"a": 1}', "JSON"),
    "postgresql numeric to text": ("postgresql", "NUMERIC(10,2)", "1.50", "TEXT"),
    "postgresql text to json": ("postgresql", "TEXT", '{"a": 1}', "JSON USING v::json"),
    "postgresql timestamptz to text": ("postgresql", "TIMESTAMPTZ", "2026-03-08 23:30:00+00", "TEXT"),
}


def _sent(job: Any) -> dict[str, Any]:
    """key -> fields of every upsert a run acknowledged (the harness plays the destination)."""
    return {c[1]: c[4] for c in run(job, set()).changes if c[0] != "removed"}


@pytest.mark.parametrize("updated_at", [False, True], ids=["whole model", "updated_at window"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_type_change_is_sent_as_the_rows_mode_sends_it(
    name: str, updated_at: bool, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    warehouse, before, value, after = CASES[name]
    url = request.getfixturevalue("pg_url") if warehouse == "postgresql" else f"duckdb:///{tmp_path / 'wh.duckdb'}"
    stamp = "TIMESTAMPTZ" if warehouse == "postgresql" else "TIMESTAMP"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE model (id INTEGER, v {before}, updated_at {stamp})"))
        conn.execute(
            sa.text(f"INSERT INTO model VALUES (1, CAST(:v AS {before}), '2026-11-30 10:00:00')"), {"v": value}
        )
    mapping = MAPPING.format(updated_at='updated_at = "updated_at"' if updated_at else "")
    jobs = {mode: open_job(write_project(tmp_path / mode, url, mapping, mode)) for mode in ("rows", "warehouse")}
    try:
        first = {mode: _sent(job) for mode, job in jobs.items()}
        assert first["warehouse"] == first["rows"] and len(first["rows"]) == 1
        assert {mode: _sent(job) for mode, job in jobs.items()} == {"rows": {}, "warehouse": {}}  # a window opens
        with engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE model ALTER COLUMN v TYPE {after}"))
        second = {mode: _sent(job) for mode, job in jobs.items()}
        assert second["rows"] != {} and second["warehouse"] == second["rows"], name
        assert {mode: _sent(job) for mode, job in jobs.items()} == {"rows": {}, "warehouse": {}}  # once
    finally:
        for job in jobs.values():
            job.close()
            job.state.close()
        engine.dispose()
