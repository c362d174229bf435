"""`syncer check` says what `plan` finds, by the same code: the rows it says will be rejected are the plan's bad rows
(newcomer trial: check said 2 while plan showed 3, its key pre-flight knew nothing of NULL or blank match values
and values the mapping refuses), and a `model.updated_at` check warns of: ignored on SQLite (only a log line said
so), a value in the future on every warehouse whose window reads it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.engine.conftest import MAPPING, SECRET, Project, create_accounts


def cli(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(project.config)}
    return subprocess.run([sys.executable, "-m", "syncer", *args], env=env, text=True, capture_output=True)


# (case, rows added to ten good ones: account_id, name, domain, pql_score, tier)
BAD_ROWS = [
    ("none", ""),
    ("NULL key", "(NULL, 'n', 'n.example.com', 1, 'x')"),
    ("duplicated key", "(3, 'dup', 'd.example.com', 1, 'x')"),
    ("NULL match value", "(11, 'm', NULL, 1, 'x')"),
    ("blank match value", "(12, 'b', '  ', 1, 'x')"),
    ("value the mapping refuses", "(13, 'c', 'c13.example.com', 'abc', 'x')"),
    (
        "all of them",
        "(NULL, 'n', 'n.example.com', 1, 'x'), (3, 'dup', 'd.example.com', 1, 'x'), (11, 'm', NULL, 1, 'x'), "
        "(12, 'b', '  ', 1, 'x'), (13, 'c', 'c13.example.com', 'abc', 'x')",
    ),
]


@pytest.mark.parametrize(("case", "rows"), BAD_ROWS, ids=[c for c, _ in BAD_ROWS])
def test_check_counts_the_rows_plan_rejects(project: Project, case: str, rows: str) -> None:
    create_accounts(project.warehouse_url, 10, extra_rows=rows)
    checked = cli(project, "check")
    planned = cli(project, "plan", "accounts", "--json")
    assert checked.returncode == 0 and planned.returncode == 0, (checked.stderr, planned.stderr)
    bad = json.loads(planned.stdout)["bad_rows"]
    said = re.search(r"(\d+) row\(s\) will be rejected", checked.stdout)
    assert (int(said.group(1)) if said else 0) == bad, (checked.stdout, bad)
    assert bad > 0 or case == "none"


# (warehouse, newest updated_at, the warnings check must give)
UPDATED_AT = [
    ("sqlite", "2020-01-01 00:00:00", ["ignored on sqlite"]),
    ("sqlite", "2099-01-01 00:00:00", ["ignored on sqlite", "in the future"]),
    ("duckdb", "2020-01-01 00:00:00", []),
    ("duckdb", "2099-01-01 00:00:00", ["in the future"]),
]


@pytest.mark.parametrize(("warehouse", "newest", "warned"), UPDATED_AT)
def test_check_warns_of_updated_at(project: Project, warehouse: str, newest: str, warned: list[str]) -> None:
    url = project.warehouse_url if warehouse == "sqlite" else f"duckdb:///{project.root / 'w.duckdb'}"
    project.warehouse_url = url
    create_accounts(url, 5)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE accounts ADD COLUMN updated_at TIMESTAMP"))
        conn.execute(sa.text("UPDATE accounts SET updated_at = '2019-06-01 00:00:00'"))
        conn.execute(sa.text("UPDATE accounts SET updated_at = :t WHERE account_id = 2"), {"t": newest})
    engine.dispose()
    mapping = MAPPING.format(mode="upsert").replace(
        'primary_key = "account_id"', 'primary_key = "account_id"\nupdated_at = "updated_at"'
    )
    project.write(mapping=mapping)
    checked = cli(project, "check")
    assert checked.returncode == 0, checked.stderr
    warnings = [line for line in checked.stderr.splitlines() if line.startswith("warning")]
    where = str(project.root / "mappings" / "accounts.toml")
    assert all(where in w and "model.updated_at" in w for w in warnings), warnings
    assert [w for w in warned if not any(w in line for line in warnings)] == [], warnings
    assert len(warnings) == len(warned), warnings
