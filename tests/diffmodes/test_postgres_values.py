"""PostgreSQL values the default (columnar) mode read differently from the rows mode: each plans and
sends exactly what the rows mode does (third adversarial session).

- a database that stores LATIN1: ADBC decodes text bytes as UTF-8 whatever the server's encoding
  ('Ã©tÃ©' arrived as 'été'; 'héllo' failed to decode), so such a database reads through psycopg;
- numeric values wider than 38 digits: Arrow types them decimal256, which polars cannot hash (a Rust
  panic, exit 1 with a traceback): they are fingerprinted as their text.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.diffmodes.harness import hook_mapping, open_job, plan, run, write_project

os.environ.setdefault("HOOK_SECRET", "whsec-test-postgres-values")

MAPPING = hook_mapping(
    """\
v = "v"
""",
    primary_key="id",
    match_column="id",
)

CASES = {
    "LATIN1 text that is valid UTF-8 bytes": ("LATIN1", "TEXT", ["Ã©tÃ©", "plain"]),
    "LATIN1 text that is not": ("LATIN1", "TEXT", ["héllo", "plain"]),
    "numeric of 40 significant digits": ("UTF8", "NUMERIC", ["12345678901234567890.12345678901234567890", "1.5"]),
    "numeric from 1e20 to 1e-21": ("UTF8", "NUMERIC", ["1e20", "0.000000000000000000001"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_columnar_plans_what_rows_plans(name: str, pg_server: str, tmp_path: Path) -> None:
    encoding, column_type, values = CASES[name]
    database = f"v_{abs(hash(name)) % 10**8}_{os.getpid()}"
    admin = sa.create_engine(f"{pg_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}"'))
        conn.execute(
            sa.text(
                f"CREATE DATABASE \"{database}\" ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
            )
        )
    url = f"{pg_server}/{database}"
    try:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE model (id BIGINT PRIMARY KEY, v {column_type})"))
            for i, value in enumerate(values, start=1):
                conn.execute(sa.text(f"INSERT INTO model VALUES ({i}, CAST(:v AS {column_type}))"), {"v": value})
        engine.dispose()
        plans: dict[str, Any] = {}
        for mode in ("rows", "columnar"):
            job = open_job(write_project(tmp_path / mode, url, MAPPING, mode))
            try:
                plans[mode] = {c[1]: c[4] for c in plan(job)[1].changes}  # key -> fields sent
            finally:
                job.close()
                job.state.close()
        assert plans["columnar"] == plans["rows"] and len(plans["rows"]) == len(values)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("mode", ["rows", "columnar", "warehouse"])
def test_a_character_n_width_change_is_a_change(pg_url: str, tmp_path: Path, mode: str) -> None:
    """char(3) -> char(6) sends 'x  ' -> 'x     ': warehouse mode's fingerprint cast the value to text,
    which drops the padding, and called it unchanged (even with --full-diff)."""
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE model (id BIGINT PRIMARY KEY, v CHAR(3))"))
        conn.execute(sa.text("INSERT INTO model VALUES (1, 'x'), (2, 'y')"))
    job = open_job(write_project(tmp_path / mode, pg_url, MAPPING, mode))
    try:
        run(job, set())
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE model ALTER COLUMN v TYPE CHAR(6)"))
        changes = plan(job)[1].changes
        assert {(c[0], c[1]) for c in changes} == {("changed", "1"), ("changed", "2")}, mode
        assert {c[4]["v"] for c in changes} == {"x     ", "y     "}
    finally:
        job.close()
        job.state.close()
        engine.dispose()


@pytest.mark.parametrize("mode", ["rows", "columnar", "warehouse"])
def test_numbers_inside_json_keep_every_digit(pg_url: str, tmp_path: Path, mode: str) -> None:
    """psycopg parsed json numbers as floats (17 digits): the value sent was rounded and an edit in
    the last digits went unseen, in every mode."""
    engine = sa.create_engine(pg_url)
    first = '{"amt": 12345678901234567890.123456789, "p": 0.30000000000000000001, "n": 7}'
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE model (id BIGINT PRIMARY KEY, v JSONB)"))
        conn.execute(sa.text("INSERT INTO model VALUES (1, CAST(:v AS JSONB))"), {"v": first})
    job = open_job(write_project(tmp_path / mode, pg_url, MAPPING, mode))
    try:
        sent = plan(job)[1].changes[0][4]["v"]  # the webhook's JSON fields carry numbers as text: exact
        assert {k: Decimal(str(v)) for k, v in sent.items()} == json.loads(first, parse_float=Decimal)
        run(job, set())
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE model SET v = CAST(:v AS JSONB)"), {"v": first.replace(".123456789", ".123456788")}
            )
        assert [(c[0], c[1]) for c in plan(job)[1].changes] == [("changed", "1")], mode
    finally:
        job.close()
        job.state.close()
        engine.dispose()


UNREPRESENTABLE = {
    "timestamptz 'infinity'": ("TIMESTAMPTZ", "infinity"),
    "timestamp '-infinity'": ("TIMESTAMP", "-infinity"),
    "date 'infinity'": ("DATE", "infinity"),
    "a BC date": ("DATE", "0001-01-01 BC"),
    "a date past 9999": ("DATE", "10000-01-01"),
    "timetz 24:00": ("TIMETZ", "24:00:00-1559"),
}


@pytest.mark.parametrize("mode", ["rows", "columnar", "warehouse"])
@pytest.mark.parametrize("name", sorted(UNREPRESENTABLE))
def test_a_value_python_cannot_hold_rejects_its_row_only(pg_url: str, tmp_path: Path, mode: str, name: str) -> None:
    """PostgreSQL keeps values Python has no form for; the driver refused them for the whole fetch
    (exit 70, nothing synced until the row was fixed). Now that row is rejected with the reason and
    the others go (README: values that do not map are rejected with the reason)."""
    column_type, value = UNREPRESENTABLE[name]
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE model (id BIGINT PRIMARY KEY, v {column_type})"))
        conn.execute(sa.text(f"INSERT INTO model VALUES (1, CAST(:v AS {column_type})), (2, NULL)"), {"v": value})
    engine.dispose()
    job = open_job(write_project(tmp_path / mode, pg_url, MAPPING, mode))
    try:
        _, planned = plan(job)
        assert [c[1] for c in planned.changes] == ["2"], (mode, planned.changes)
        assert [key for key, _, _ in planned.bad] == ["1"] and "cannot be read exactly" in planned.bad[0][2]
        assert run(job, set()).tally == planned.tally
    finally:
        job.close()
        job.state.close()
