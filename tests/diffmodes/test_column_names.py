"""A mapping's column is the model column of that name, in every mode, or the sync stops.

Every reader used to lower-case a column name written all in upper case (Snowflake folds unquoted
names to upper case), so on PostgreSQL a table with `id` and `"ID"` read `"ID"` for `id`: the
destination was told to match records on another column's values. Folding is now Snowflake's
alone, and two model columns with one name (after folding, or a query selecting a name twice)
stop the sync with the one-line reason, exit 2, before anything is read or sent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncer.errors import WarehouseError
from syncer.source import column_names
from tests.diffmodes.harness import open_job, plan, run, write_project

os.environ.setdefault("HOOK_SECRET", "whsec-test-column-names")


@pytest.mark.parametrize(
    ("names", "dialect", "spelled"),
    [
        (["ID", "NAME"], "snowflake", ["id", "name"]),
        (["ID", "Name", "id2"], "snowflake", ["id", "Name", "id2"]),
        (["ID", "id"], "postgresql", ["ID", "id"]),
        (["ID", "NAME"], "duckdb", ["ID", "NAME"]),
        (["ID", "id"], "snowflake", None),
        (["id", "id"], "sqlite", None),
    ],
)
def test_column_names_fold_for_snowflake_only_and_never_collide(
    names: list[str], dialect: str, spelled: list[str] | None
) -> None:
    if spelled is None:
        with pytest.raises(WarehouseError, match="two columns named"):
            column_names(names, dialect)
    else:
        assert column_names(names, dialect) == spelled


MAPPING = """connector = "hook"
object = "things"

[model]
{model}
primary_key = "id"

[match]
field = "ext"
column = "id"

[fields]
v = "v"
"""


@pytest.mark.parametrize("mode", ["rows", "columnar", "warehouse"])
def test_postgresql_id_and_quoted_upper_id_are_two_columns(pg_url: str, tmp_path: Path, mode: str) -> None:
    with sa.create_engine(pg_url).begin() as conn:
        conn.execute(sa.text('CREATE TABLE model (id BIGINT PRIMARY KEY, "ID" TEXT, v TEXT)'))
        conn.execute(sa.text("INSERT INTO model VALUES (1, 'legacy-A', 'x'), (2, 'legacy-B', 'y')"))
    job = open_job(write_project(tmp_path, pg_url, MAPPING.format(model='table = "model"'), mode))
    try:
        _, planned = plan(job)
        assert {(c[1], c[3]) for c in planned.changes} == {("1", "1"), ("2", "2")}  # key, match value
        assert run(job, set()).tally["added"] == 2
    finally:
        job.close()
        job.state.close()


@pytest.mark.parametrize("mode", ["rows", "columnar"])
def test_a_query_selecting_one_name_twice_stops_the_sync(tmp_path: Path, mode: str) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER, legacy TEXT, v TEXT)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1, 'legacy-A', 'x')"))
    model = 'query = "SELECT id, legacy AS id, v FROM t"'
    job = open_job(write_project(tmp_path, url, MAPPING.format(model=model), mode))
    try:
        with pytest.raises(WarehouseError, match="two columns named 'id'"):
            plan(job)
    finally:
        job.close()
        job.state.close()
