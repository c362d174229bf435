"""`syncer demo` on a small world: it runs end to end, and the counts it prints are the truth."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from syncer.cli import app


def test_demo_runs_and_its_counts_match_what_landed(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--dir", str(folder), "--accounts", "150", "--days", "45"])
    assert result.exit_code == 0, result.output
    assert "syncer demo" in result.output and "demo.html" in result.output

    rows = json.loads((folder / "summary.json").read_text())
    by = {(r["day"], r["sync"]): r for r in rows}
    assert {s for _, s in by} == {"hubspot_companies", "salesforce_accounts", "salesforce_tasks", "inapp_low_tier"}
    for row in rows:
        assert row["failed"] == 0 and row["status"] == "ok", row
        assert row["succeeded"] == row["added"] + row["changed"] + (
            row["removed"] if row["sync"] == "inapp_low_tier" else 0
        ), row

    warehouse = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
    accounts = warehouse.execute("SELECT count(*) FROM account_scores").fetchone()[0]
    high = warehouse.execute("SELECT count(*) FROM fired_triggers WHERE priority = 'high'").fetchone()[0]
    monitor = warehouse.execute("SELECT count(*) FROM account_scores WHERE pql_tier = 'monitor'").fetchone()[0]
    warehouse.close()
    assert by[("day 1", "hubspot_companies")]["added"] == accounts == 150
    assert by[("day 2", "hubspot_companies")]["added"] == 0  # day 2 moves only what changed
    day2 = by[("day 2", "hubspot_companies")]
    assert day2["changed"] + day2["unchanged"] == accounts
    # day-2 state: the current high-priority firings all have a task; the low tier is the audience
    tasks = by[("day 2", "salesforce_tasks")]
    assert tasks["added"] + tasks["unchanged"] == high
    inapp = by[("day 2", "inapp_low_tier")]
    assert inapp["added"] + inapp["changed"] + inapp["unchanged"] == monitor

    html = (folder / "demo.html").read_text()
    assert "HubSpot companies" in html and "Salesforce tasks" in html
    assert (folder / "config.toml").is_file() and (folder / "mappings" / "hubspot_companies.toml").is_file()
