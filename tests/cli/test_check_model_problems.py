"""A model the warehouse cannot read as the mapping says is one problem line naming the mapping file and key, in
`check` and in every diff mode's run (seventh adversarial session, #6 and #7).

`check` exited 70 (a Binder Error on `SELECT MAX(m.updatedat)`) for a `model.updated_at` naming a missing column,
and blamed the connector for a model query the warehouse refused. A query model with two columns of one name
(`SELECT a.id, a.v, c.v ...`) was refused without file or key in columnar mode, and warehouse mode on DuckDB (which
renames a subquery's repeated column `v_1`) sent one of the two silently. Each cell is one such model, checked on
DuckDB and PostgreSQL, with a sync per diff mode: `check` prints exactly one problem per mapping file, with its key
and words, none about the connector; every run exits 2 with that same line and sends nothing.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.engine.conftest import Project

MODES = ("rows", "columnar", "warehouse")

# case -> (mapping: [model] lines, the match column, [fields] lines), (the key blamed, words of its problem)
CASES = {
    "updated_at names a missing column": (
        ('table = "t"\nprimary_key = "id"\nupdated_at = "updatedat"', "id", 'v = "v"'),
        ("model.updated_at", "unknown column 'updatedat' (did you mean 'updated_at'?)"),
    ),
    "match column missing": (
        ('table = "t"\nprimary_key = "id"', "idd", 'v = "v"'),
        ("match.column", "unknown column 'idd' (did you mean 'id'?)"),
    ),
    "key column missing": (
        ('table = "t"\nprimary_key = "idx"', "id", 'v = "v"'),
        ("model.primary_key", "unknown column 'idx' (did you mean 'id'?)"),
    ),
    "field column missing": (
        ('table = "t"\nprimary_key = "id"', "id", 'v = "vv"'),
        ("fields.v", "unknown column 'vv'"),
    ),
    "query the warehouse refuses": (
        ('query = "SELECT id, v FROM nosuch"\nprimary_key = "id"', "id", 'v = "v"'),
        ("model.query", "warehouse query failed: "),
    ),
    "query with two columns of one name": (
        ('query = "SELECT t.id, t.v, c.v FROM t JOIN t AS c ON c.id = t.id"\nprimary_key = "id"', "id", 'v = "v"'),
        ("model.query", "the model has two columns named 'v'"),
    ),
}


def _project(root: Path, url: str, hook_url: str, model: str, match: str, fields: str) -> Project:
    project = Project(root, url, hook_url=hook_url)
    project.write()
    (root / "mappings" / "accounts.toml").unlink()
    for mode in MODES:
        (root / "mappings" / f"{mode}.toml").write_text(
            textwrap.dedent(f"""\
            connector = "hook"
            object = "things_{mode}"
            diff = "{mode}"

            [model]
            {{model}}

            [match]
            field = "ext"
            column = "{match}"

            [fields]
            {{fields}}
            """).format(model=model, fields=fields)
        )
    return project


# PostgreSQL for the cells whose warehouse error differs from DuckDB's (the others are syncer's own checks)
WAREHOUSE_CASES = (
    [(case, "duckdb") for case in sorted(CASES)]
    + [(case, "postgresql") for case in ("updated_at names a missing column", "query the warehouse refuses")]
    + [("query with two columns of one name", "postgresql")]
)


@pytest.mark.parametrize(("case", "warehouse"), WAREHOUSE_CASES)
def test_a_model_problem_is_one_line_naming_file_and_key(
    case: str, warehouse: str, tmp_path: Path, receiver: object, request: pytest.FixtureRequest
) -> None:
    (model, match, fields), (key, words) = CASES[case]
    url = request.getfixturevalue("pg_url") if warehouse == "postgresql" else f"duckdb:///{tmp_path / 'wh.duckdb'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER, v INTEGER, updated_at TIMESTAMP)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1, 2, '2026-11-30 10:00:00')"))
    engine.dispose()
    project = _project(tmp_path, url, f"{receiver.base_url}/hooks", model, match, fields)  # type: ignore[attr-defined]

    code, _, stderr = project.cli("check")
    problems = [line for line in stderr.splitlines() if line.startswith("problem")]
    assert code == 2, stderr
    assert len(problems) == len(MODES), stderr  # one per mapping file, none for the connector
    for mode in MODES:
        [line] = [p for p in problems if f"mappings/{mode}.toml: {key}: " in p]
        assert words in line, line
    for mode in MODES:
        code, _, stderr = project.cli("run", mode)
        assert code == 2, (mode, stderr)
        assert f"mappings/{mode}.toml: {key}: " in stderr and words in stderr, (mode, stderr)
    assert receiver.write_calls == 0  # type: ignore[attr-defined]
