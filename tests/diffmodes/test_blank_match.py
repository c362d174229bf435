"""A match value that is empty or only whitespace identifies nothing: its row is rejected with the
reason, the same rows in every diff mode, on every connector.

docs/input-contract.md: NULL match values identify nothing and are rejected; an empty string (which
Salesforce stores as NULL: every change created another Account) or one of only whitespace is no
better. Table-driven over the values, in rows, columnar and warehouse mode on a real DuckDB
warehouse and state store, for a webhook (exact comparison) and HubSpot (case-insensitive). Two
blank rows are rejected as blank, not as a collision with each other. No request reaches a
destination (both declare their comparison).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from tests.diffmodes.harness import open_job, plan, run, write_project

HUBSPOT = """
[connectors.hubspot]
base_url = "http://127.0.0.1:9"
access_token = "${HS_TOKEN}"
"""

# the model's match value -> rejected as blank (True) or sent (False)
VALUES = {
    "": True,
    " ": True,
    "\t": True,
    "  \n ": True,
    "\u00a0": True,  # NO-BREAK SPACE: whitespace to str.strip
    "\u3000": True,  # IDEOGRAPHIC SPACE
    "SF-7": False,
    " SF-8 ": False,  # text around the spaces: kept exact, sent as it is
}
ROWS = [*VALUES.items(), ("", True), (" ", True)]  # two more blanks: blank, not a collision with the first


@pytest.mark.parametrize("connector", ["hook", "hubspot"])
def test_blank_match_values_are_rejected_alike_in_every_mode(
    connector: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("HS_TOKEN", "HOOK_SECRET"):
        monkeypatch.setenv(var, os.environ.get(var, "secret-" + var.lower()))
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE model (id VARCHAR, ext VARCHAR, num DOUBLE)")
        con.executemany("INSERT INTO model VALUES (?, ?, ?)", [(str(i), v, i) for i, (v, _) in enumerate(ROWS)])
    blank = {str(i) for i, (_, is_blank) in enumerate(ROWS) if is_blank}
    sent = {str(i) for i, (_, is_blank) in enumerate(ROWS) if not is_blank}
    mapping = textwrap.dedent(f"""
        connector = "{connector}"
        object = "companies"
        [model]
        table = "model"
        primary_key = "id"
        [match]
        field = "product_account_id"
        column = "ext"
        [fields]
        num = "num"
    """)
    reasons: dict[str, list[tuple[str, str]]] = {}
    for mode in ("rows", "columnar", "warehouse"):
        job = open_job(write_project(tmp_path / mode, f"duckdb:///{warehouse}", mapping, mode, HUBSPOT))
        try:
            differ, planned = plan(job)
            assert {c[1] for c in planned.changes if c[0] == "added"} == sent, mode
            assert {key for key, _, _ in planned.bad} == blank, mode
            assert differ.tally.out_of_sync == {"blank_match": len(blank)}, mode
            for key, _, reason in planned.bad:
                value = ROWS[int(key)][0]
                assert reason.startswith(f"match column 'ext' is blank ({value!r})"), (mode, reason)
            reasons[mode] = [(key, reason) for key, _, reason in planned.bad]
            ran = run(job, set())
            assert ran.bad == planned.bad and ran.changes == planned.changes, mode
            with job.source.engine.begin() as conn:  # e11: a blank row changes; still nothing is sent for it
                conn.execute(sa.text("UPDATE model SET num = num + 100 WHERE id IN ('0', '1')"))
            _, again = plan(job)
            assert again.changes == [] and {key for key, _, _ in again.bad} == {"0", "1"}, mode
            with job.source.engine.begin() as conn:
                conn.execute(sa.text("UPDATE model SET num = num - 100 WHERE id IN ('0', '1')"))
        finally:
            job.close()
            job.state.close()
    assert reasons["rows"] == reasons["columnar"] == reasons["warehouse"]
