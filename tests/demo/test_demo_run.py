"""`syncer demo` on a small world: it runs end to end, and the counts it prints are the truth."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb


def test_demo_runs_and_its_counts_match_what_landed(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "syncer", "demo", "--dir", str(folder), "--accounts", "150", "--days", "45"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "syncer demo" in result.stdout and "demo.html" in result.stdout
    assert "env $(cat " in result.stdout and "demo --serve" in result.stdout

    summary = json.loads((folder / "summary.json").read_text())
    by = {(r["day"], r["sync"]): r for r in summary["syncs"]}
    assert {s for _, s in by} == {"hubspot_companies", "salesforce_accounts", "inapp_low_tier"}
    for row in summary["syncs"]:
        assert row["failed"] == 0 and row["status"] == "ok", row
        deletes = row["removed"] if row["sync"] == "inapp_low_tier" else 0  # mirror mode deletes
        assert row["succeeded"] == row["added"] + row["changed"] + deletes, row

    warehouse = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
    accounts = warehouse.execute("SELECT count(*) FROM account_scores").fetchone()[0]
    monitor = warehouse.execute("SELECT count(*) FROM account_scores WHERE pql_tier = 'monitor'").fetchone()[0]
    warehouse.close()
    assert by[("day 1", "hubspot_companies")]["added"] == accounts == 150
    day2 = by[("day 2", "hubspot_companies")]
    assert day2["added"] == 0 and day2["changed"] + day2["unchanged"] == accounts  # only changes move
    inapp = by[("day 2", "inapp_low_tier")]
    assert inapp["added"] + inapp["changed"] + inapp["unchanged"] == monitor

    day1, day2_alerts = summary["alerts"]
    # the replayed history activated the triggers; day 1's crossings ping within the budget (5 per rep per day),
    # the rest go to the digest with their task
    assert day1["opened"] > 0 and 0 < day1["pings"] <= day1["tasks"]
    assert day2_alerts["still_firing"] > 0  # still firing: no repeat ping
    assert day2_alerts["pings"] <= day2_alerts["opened"]
    assert 0 < day2_alerts["escalated"] < day1["tasks"]  # some tasks were worked overnight, the rest escalate

    html = (folder / "demo.html").read_text()
    assert "HubSpot: companies" in html and "Direct message to" in html and len(html) < 1_000_000
    assert "D0OWNER" not in html  # names, not Slack IDs
    assert not re.search(r"\b1 (alerts|accounts|tasks|replies|messages|reps|companies|days)\b", html)
    # ping footers: the trigger's name and the time in the recipients' zone (Slack's date token), no key
    footers = re.findall(r'<div class="sk-context">(.*?)</div>', html)
    pings = [f for f in footers if " · fired " in f]
    assert pings and all(re.search(r"<time [^>]*>\w{3} \d+ at \d+:\d\d [AP]M E[SD]T</time>", f) for f in pings), pings
    assert not any("UTC" in f or "alert_id" in f for f in footers), footers

    # one CSM prefers email: their alerts / digest arrived over SMTP and read like mail (subject, from, to, body)
    mails = re.findall(
        r'<article class="mail"><h4>(.*?)</h4><dl>(.*?)</dl><pre class="mail-body">(.*?)</pre>', html, re.S
    )
    assert mails and "No email was sent" not in html
    for subject, head, body in mails:
        assert subject and "Syncer alerts &lt;alerts@demo.example&gt;" in head and "@example.com" in head, head
        assert "Playbook" in body or "Daily usage digest" in body, body[:300]

    report = (folder / "report.html").read_text()
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', report, re.S)[1])
    assert len(data["owner_names"]) == len(data["owners"]) > 0
    assert all("@" in o for o in data["owners"])  # the filter keys stay the emails
    assert not any("@" in n for n in data["owner_names"])  # what the call-today list shows: names
    assert (folder / "config.toml").is_file() and (folder / "mappings" / "hubspot_companies.toml").is_file()
