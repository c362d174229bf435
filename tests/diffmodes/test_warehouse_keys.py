"""Primary keys warehouse mode used to stop on (seventh adversarial session, #4 and #5): each sync plans and
sends run after run exactly what the rows mode does.

- Key values the warehouse writes unlike syncer (a DuckDB DOUBLE's 1e20 as '1e+20', a PostgreSQL char(3)'s 'a'
  without its padding, a timestamp with a space for the 'T') stopped every run with exit 2: such a row never
  joins its snapshot row, so it is diffed by syncer's key and its snapshot row is not taken for a removed one.
- A PostgreSQL key longer than about 2.7 KB stopped every run with exit 70 on the snapshot's primary key (a
  B-tree entry's limit): the snapshot is unique on (sync, md5(key)) instead, and an older release's table with
  the primary key is converted in place.
"""

from __future__ import annotations

import os
import random
import string
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from syncer.warehouse_diff.modes import key_warnings, snapshot_for
from tests.diffmodes.harness import open_job, run, write_project

os.environ.setdefault("HOOK_SECRET", "whsec-test-warehouse-keys")

MAPPING = """connector = "hook"
object = "things"
mode = "mirror"

[model]
table = "model"
primary_key = "id"

[match]
field = "ext"
column = "id"

[fields]
v = "v"
"""

LONG = "".join(random.Random(4).choices(string.ascii_letters, k=6000))  # incompressible: no B-tree entry holds it

# case -> (warehouse, key column type, the keys of run 1, SQL between run 1 and run 2)
CASES: dict[str, tuple[str, str, list[str], str]] = {
    "duckdb double": ("duckdb", "DOUBLE", ["1.5", "1e20", "1e-07", "2"], "DELETE FROM model WHERE id = 1e-07"),
    "duckdb double repeated": ("duckdb", "DOUBLE", ["1e20", "3"], "INSERT INTO model VALUES (1e20, 9)"),
    "duckdb timestamp": ("duckdb", "TIMESTAMP", ["2026-03-08 23:30:00", "2026-03-09 00:00:00"], ""),
    "postgresql char(3)": ("postgresql", "CHAR(3)", ["a", "b", "abc"], "DELETE FROM model WHERE id = 'b'"),
    "postgresql timestamptz": ("postgresql", "TIMESTAMPTZ", ["2026-03-08 23:30:00+00", "2026-03-09 01:00:00+02"], ""),
    "postgresql key of 6000 characters": (
        "postgresql",
        "TEXT",
        [LONG, "short"],
        f"DELETE FROM model WHERE id = '{LONG}'",
    ),
}


def _plan(job: Any) -> tuple[list[tuple[Any, ...]], list[tuple[str, str]]]:
    """What a run sent (kind, key, fields) and rejected (key, reason)."""
    done = run(job, set())
    return [c[:2] + c[4:5] for c in done.changes], [(b[0], b[2]) for b in done.bad]


@pytest.mark.parametrize("name", sorted(CASES))
def test_warehouse_mode_runs_each_key_as_the_rows_mode_does(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    warehouse, key_type, keys, between = CASES[name]
    url = request.getfixturevalue("pg_url") if warehouse == "postgresql" else f"duckdb:///{tmp_path / 'wh.duckdb'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE model (id {key_type}, v INTEGER)"))
        for i, key in enumerate(keys):
            conn.execute(sa.text(f"INSERT INTO model VALUES (CAST(:k AS {key_type}), :v)"), {"k": key, "v": i})
    jobs = {mode: open_job(write_project(tmp_path / mode, url, MAPPING, mode)) for mode in ("rows", "warehouse")}
    try:
        for step in range(3):
            if step == 1 and between:
                with engine.begin() as conn:
                    conn.execute(sa.text(between))
            plans = {mode: _plan(job) for mode, job in jobs.items()}
            assert plans["warehouse"] == plans["rows"], (name, step)
            if step == 0:
                assert len(plans["rows"][0]) == len(keys)
        # `syncer check` names the key column whose type the warehouse may write unlike syncer, with the fix
        warned = key_warnings(jobs["warehouse"])
        assert len(warned) == (key_type != "TEXT") and all("model.primary_key: column 'id'" in w for w in warned)
        assert all('diff = "columnar"' in w for w in warned) and key_warnings(jobs["rows"]) == []
    finally:
        for job in jobs.values():
            job.close()
            job.state.close()
        engine.dispose()


def test_an_older_postgresql_snapshot_keyed_on_the_key_takes_a_long_key(pg_url: str, tmp_path: Path) -> None:
    """A snapshot an older release made (PRIMARY KEY (sync, key)) is converted in place by the next run, whose
    rows stay; a key too long for the old index then syncs."""
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE model (id TEXT, v INTEGER)"))
        conn.execute(sa.text("INSERT INTO model VALUES ('a', 1), ('b', 2)"))
    job = open_job(write_project(tmp_path, pg_url, MAPPING, "warehouse"))
    try:
        snapshot = snapshot_for(job)
        with engine.begin() as conn:  # the older release's table
            conn.execute(sa.text("CREATE SCHEMA syncer"))
            conn.execute(
                sa.text(
                    "CREATE TABLE syncer.snapshot (sync TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT, "
                    "PRIMARY KEY (sync, key))"
                )
            )
        assert [c[1] for c in run(job, set()).changes] == ["a", "b"]
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO model VALUES (:k, 3)"), {"k": LONG})
        assert [c[1] for c in run(job, set()).changes] == [LONG]
        assert run(job, set()).changes == []
        with engine.connect() as conn:
            indexes = set(
                conn.execute(sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = 'syncer'")).scalars()
            )
            rows = conn.execute(sa.text(f"SELECT count(*) FROM {snapshot.table}")).scalar()
        assert "snapshot_pkey" not in indexes and "snapshot_key_digest" in indexes and rows == 3
    finally:
        job.close()
        job.state.close()
        engine.dispose()
