"""A task's match value is the account it attaches to, not the task: rows sharing it are separate
records, in every diff mode, in plans and runs, with and without the `updated_at` window.

Table-driven over (connector, object): the task objects (Salesforce `Task`, HubSpot `tasks`)
declare their match value a parent's (`Connector.parent_match_objects`), so no collision check
applies to them; a record object (HubSpot `companies`) still rejects every row of a shared match
value. Before the fix, two alerts on one account were both rejected as `match_collision` and no
task was made. Each diff runs against a real DuckDB warehouse and a real state store; no request
reaches a destination (the task objects need none to learn their rule, HubSpot's is declared).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from tests.diffmodes.harness import open_job, plan, run, write_project

CONNECTORS = """
[connectors.hubspot]
base_url = "http://127.0.0.1:9"
access_token = "${HS_TOKEN}"

[connectors.salesforce]
instance_url = "https://127.0.0.1:9"
login_url = "https://127.0.0.1:9"
auth = "password"
username = "u@x.example"
password = "${SF_PASS}"
security_token = "${SF_TOKEN}"
"""


@dataclass(frozen=True)
class Case:
    connector: str
    object: str
    mode: str
    field: str
    parent: bool  # the match value names the parent: every row is its own record


CASES = {
    "salesforce Task": Case("salesforce", "Task", "insert", "External_Id__c", parent=True),
    "hubspot tasks": Case("hubspot", "tasks", "insert", "product_account_id", parent=True),
    "hubspot companies (a record object: collisions still rejected)": Case(
        "hubspot", "companies", "upsert", "product_account_id", parent=False
    ),
}


def mapping(case: Case) -> str:
    return textwrap.dedent(f"""
        connector = "{case.connector}"
        object = "{case.object}"
        mode = "{case.mode}"
        [model]
        table = "alerts"
        primary_key = "alert_id"
        updated_at = "changed_at"
        [match]
        field = "{case.field}"
        column = "ext"
        [fields]
        subject = "subject"
    """)


@pytest.mark.parametrize("diff", ["rows", "columnar", "warehouse"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_rows_sharing_a_parent_are_separate_records(
    name: str, diff: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    for var in ("HS_TOKEN", "SF_PASS", "SF_TOKEN", "HOOK_SECRET"):
        monkeypatch.setenv(var, "secret-" + var.lower())
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE alerts (alert_id VARCHAR, ext VARCHAR, subject VARCHAR, changed_at TIMESTAMP)")
        con.execute(
            "INSERT INTO alerts VALUES ('al-1', 'ACC-1', 'a', '2026-01-01'), ('al-2', 'ACC-1', 'b', '2026-01-01'),"
            " ('al-3', 'ACC-2', 'c', '2026-01-01')"
        )
    job = open_job(write_project(tmp_path, f"duckdb:///{warehouse}", mapping(case), diff, CONNECTORS))
    try:
        shared = {"al-1", "al-2"}  # ACC-1 (and, below, al-4 with acc-1: the same account case-insensitively)
        _, planned = plan(job)
        added = {c[1] for c in planned.changes if c[0] == "added"}
        rejected = {key for key, _, reason in planned.bad if "duplicate match value" in reason}
        assert added == ({"al-1", "al-2", "al-3"} if case.parent else {"al-3"}), diff
        assert rejected == (set() if case.parent else shared), diff
        ran = run(job, set())  # what the plan said, as the run sends it
        assert ran.changes == planned.changes and ran.bad == planned.bad, diff
        with job.source.engine.begin() as conn:  # one more alert on the account, after the run
            conn.execute(sa.text("INSERT INTO alerts VALUES ('al-4', 'acc-1', 'd', '2026-01-02')"))
        _, again = plan(job)  # the `updated_at` window (columnar, warehouse) checks only what changed
        added = {c[1] for c in again.changes if c[0] == "added"}
        rejected = {key for key, _, reason in again.bad if "duplicate match value" in reason}
        assert added == ({"al-4"} if case.parent else set()), diff
        assert rejected == (set() if case.parent else shared | {"al-4"}), diff  # the group grew: reported anew
    finally:
        job.close()
        job.state.close()
