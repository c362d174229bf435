"""`syncer demo` on a small world: it runs end to end, and the counts it prints are the truth."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import sqlalchemy as sa

from tests.demo.test_alert_totals import LABELLED


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
    # the daily history ends the day before the first live day and its alert state carries over: the live days
    # open only their own crossings (the world's steady rate, a few percent of accounts), never a backlog
    assert day1["still_firing"] > 0 and day2_alerts["still_firing"] > 0  # no repeat ping
    assert day1["opened"] + day2_alerts["opened"] > 0
    assert day1["opened"] <= 0.05 * accounts and day2_alerts["opened"] <= 0.05 * accounts, (day1, day2_alerts)
    assert day1["pings"] <= day1["opened"] and day2_alerts["pings"] <= day2_alerts["opened"]
    assert day2_alerts["escalated"] <= day1["tasks"]  # only day 1's unworked tasks: the history's were escalated then

    html = (folder / "demo.html").read_text()
    assert "HubSpot: companies" in html and "Direct message to" in html and len(html) < 1_000_000
    assert "D0OWNER" not in html  # names, not Slack IDs
    assert not re.search(r"\b1 (alerts|accounts|tasks|replies|messages|reps|companies|days|emails|calls)\b", html)
    assert not re.search(r"\b1 (Salesforce|CRM|Slack|API) (tasks|calls|pings|messages)\b", html)
    assert not re.search(r"(?<![\d.])(-\d+|0) more\b", html)  # a sample that showed everything says no "N more"
    # ping footers: the trigger's name and the time in the recipients' zone (Slack's date token), no key
    footers = re.findall(r'<div class="sk-context">(.*?)</div>', html)
    pings = [f for f in footers if " · fired " in f]
    # (a realistic day pings few reps: the 150-account world may send none; tests/browser's larger one checks more)
    assert all(re.search(r"<time [^>]*>\w{3} \d+ at \d+:\d\d [AP]M E[SD]T</time>", f) for f in pings), pings
    digests = sum(a["digest"]["messages"] for a in summary["alerts"])
    assert ("Daily usage digest" in html) == (digests > 0), digests
    assert not any("UTC" in f or "alert_id" in f for f in footers), footers

    # one CSM prefers email: their alerts / digest arrived over SMTP and read like mail (subject, from, to, body)
    mails = re.findall(
        r'<article class="mail"><h4>(.*?)</h4><dl>(.*?)</dl><pre class="mail-body">(.*?)</pre>', html, re.S
    )
    assert mails and "No email was sent" not in html  # the CSM is the owner the first live day alerts most
    for subject, head, body in mails:
        assert subject and "Syncer alerts &lt;alerts@demo.example&gt;" in head and "@example.com" in head, head
        assert "Playbook" in body or "Daily usage digest" in body, body[:300]

    report = (folder / "report.html").read_text()
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', report, re.S)[1])
    assert len(data["owner_names"]) == len(data["owners"]) > 0
    assert all("@" in o for o in data["owners"])  # the filter keys stay the emails
    assert not any("@" in n for n in data["owner_names"])  # what the call-today list shows: names
    # churn: the events drawn into the warehouse are the ones the report carries and the demo printed
    churn = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
    events = churn.execute("SELECT count(*), count(DISTINCT account_id) FROM churn_events").fetchone()
    churn.close()
    assert data["churn_model"] and len(data["churn"]) == events[0]
    assert f"{events[0]} churn event" in result.stdout and f"({events[1]} account" in result.stdout
    # the history's alert total is labelled as the report's (opened = sent + held out), held-out count from state
    found = LABELLED.search(result.stdout)
    assert found is not None, result.stdout
    opened, sent, held = (int(g.replace(",", "")) for g in found.groups())
    state = sa.create_engine(f"sqlite:///{folder / 'data' / 'state.sqlite'}")
    with state.connect() as conn:
        in_state = conn.execute(sa.text("SELECT count(*) FROM alerts WHERE delivery = 'holdout'")).scalar_one()
    state.dispose()
    assert opened == sent + held and 0 < held <= in_state, (found.group(0), in_state)
    # the printed commands still load the config after the emulators stopped (the SMTP CA bundle is kept)
    preview = next(line.strip() for line in result.stdout.splitlines() if line.strip().endswith("config.toml")
                   and " digest --preview " in line)  # fmt: skip
    done = subprocess.run(preview, shell=True, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, preview + done.stdout + done.stderr
    assert not re.search(r"\S :", done.stdout), done.stdout  # "label: value", never "label : value"
    assert (folder / "config.toml").is_file() and (folder / "mappings" / "hubspot_companies.toml").is_file()
