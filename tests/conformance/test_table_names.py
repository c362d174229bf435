"""Configured table names, table-driven: mixed-case, reserved-word and spaced table names, with
and without a schema, on every warehouse, through `check`, `plan` and `run` (issue 12 item 4).

Before the fix `table = "Accts"` read `SELECT * FROM Accts`, which PostgreSQL folds to `accts`
(`relation "accts" does not exist`); now each dotted part is quoted by the warehouse's preparer
(syncer.table_name).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.secrets import mask
from syncer.table_name import quoted_table, table_parts
from tests.conformance.test_identities import _execute, any_warehouse, receiver
from tests.engine.conftest import Project

__all__ = ["any_warehouse", "receiver"]  # fixtures shared with the column-identity tests

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")  # fakesnow

MAPPING = """
connector = "hook"
object = "accounts"

[model]
table = '{table}'
primary_key = "AcctNo"

[match]
field = "ext"
column = "order"

[fields]
label = "name"
"""

TABLES = ["Accts", "order", "My Table"]
SCHEMA = "Sales"  # mixed case, so an unquoted schema would fold too


def _schema_for(url: str) -> str:
    """SQLite has no CREATE SCHEMA: its schema is the database name `main`."""
    return "main" if url.startswith("sqlite") else SCHEMA


@pytest.mark.parametrize("with_schema", [False, True], ids=["bare", "schema"])
@pytest.mark.parametrize("table", TABLES)
def test_mixed_case_and_reserved_word_tables(
    any_warehouse: str, table: str, with_schema: bool, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    url = any_warehouse
    schema = _schema_for(url) if with_schema else None
    full = f'"{schema}"."{table}"' if schema else f'"{table}"'
    setup = [] if schema in (None, "main") else [f'CREATE SCHEMA IF NOT EXISTS "{schema}"']
    _execute(
        url,
        *setup,
        f"DROP TABLE IF EXISTS {full}",
        f'CREATE TABLE {full} ("AcctNo" INTEGER, "order" VARCHAR(40), name VARCHAR(40))',
        f"INSERT INTO {full} VALUES (1, 'e1', 'one'), (2, 'e2', 'two'), (3, 'e3', 'three')",
    )
    configured = f"{schema}.{table}" if schema else table
    project = Project(tmp_path, url, hook_url=f"{receiver.base_url}/hooks")
    project.write(mapping=MAPPING.format(table=configured))
    mask.clear()

    code, out, err = project.cli("check")
    assert code == 0, (out, err)
    code, plan, err = project.cli("plan", "accounts", "--json")
    assert code == 0, (plan, err)
    assert (plan["added"], plan["bad_rows"]) == (3, 0), plan
    code, summary, err = project.cli("run", "accounts", "--json")
    assert code == 0 and summary["succeeded"] == 3, (summary, err)
    assert {k: v["label"] for k, v in receiver.records.items()} == {"1": "one", "2": "two", "3": "three"}


# name as configured -> parts
PARTS = [
    ("accounts", ["accounts"]),
    ("public.accounts", ["public", "accounts"]),
    ("Sales.My Table", ["Sales", "My Table"]),
    ("db.Sales.Accts", ["db", "Sales", "Accts"]),
    ('Sales."My.Table"', ["Sales", "My.Table"]),
    ('"say ""hi"""', ['say "hi"']),
]


@pytest.mark.parametrize(("name", "parts"), PARTS)
def test_table_name_parts(name: str, parts: list[str]) -> None:
    assert table_parts(name) == parts


@pytest.mark.parametrize("name", ["", "a..b", ".t", "t.", '"open', '"a"b'])
def test_malformed_table_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"table|part|quote"):
        table_parts(name)


# (dialect, configured name, SQL): lower-case plain parts stay bare, everything else is quoted
QUOTED = [
    ("postgresql", "accounts", "accounts"),
    ("postgresql", "public.accounts", "public.accounts"),
    ("postgresql", "Sales.Accts", '"Sales"."Accts"'),
    ("postgresql", "order", '"order"'),
    ("postgresql", "My Table", '"My Table"'),
    ("sqlite", "main.Accts", 'main."Accts"'),
    ("duckdb", 'Sales."My.Table"', '"Sales"."My.Table"'),
    ("snowflake", "public.accounts", "public.accounts"),  # Snowflake folds it to PUBLIC.ACCOUNTS, as before
    ("snowflake", "analytics.Sales.Accts", 'analytics."Sales"."Accts"'),
]
URLS = {"postgresql": "postgresql+psycopg://", "sqlite": "sqlite://", "duckdb": "duckdb:///:memory:"}


@pytest.mark.parametrize(("dialect", "name", "sql"), QUOTED)
def test_quoted_table(dialect: str, name: str, sql: str) -> None:
    engine = sa.create_engine(URLS.get(dialect, "snowflake://u:p@account/db/schema"))
    try:
        assert quoted_table(engine.dialect, name) == sql
    finally:
        engine.dispose()


def test_a_malformed_table_is_a_config_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    project = Project(tmp_path, url)
    project.write(mapping=MAPPING.format(table="a..b"))
    code, out, err = project.cli("check")
    assert code == 2, (out, err)
    assert "accounts.toml" in out + err and "table" in out + err and "Traceback" not in out + err
