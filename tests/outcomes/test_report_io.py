"""Write-back on DuckDB/SQLite/PostgreSQL, the CLI entry point, and the HTML in real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncer.outcomes.command import run_report
from syncer.outcomes.report import Report
from syncer.outcomes.report_html import write_html
from syncer.outcomes.writeback import write_back
from tests.outcomes.support import World, make_config

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_write_back_replaces_both_tables(
    kind: str, report: Report, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = {"sqlite": f"sqlite:///{tmp_path / 'w.sqlite'}", "duckdb": f"duckdb:///{tmp_path / 'w.duckdb'}"}.get(kind)
    engine = sa.create_engine(url or request.getfixturevalue("pg_url"))
    for _ in range(2):  # the second report replaces the first: no duplicates
        written = write_back(engine, report)
    with engine.connect() as conn:
        n_alerts = conn.execute(sa.text(f"SELECT COUNT(*) FROM {written.alerts_table}")).scalar_one()
        rows = conn.execute(sa.text(f"SELECT trigger, converted, alerts_matured FROM {written.triggers_table}")).all()
        converted = conn.execute(
            sa.text(f"SELECT COUNT(*) FROM {written.alerts_table} WHERE stage = 'converted'")
        ).scalar_one()
    assert n_alerts == len(report.outcomes) == written.alerts
    assert {r[0]: (r[1], r[2]) for r in rows} == {t.trigger: (t.converted, t.matured) for t in report.triggers}
    assert converted == sum(t.converted for t in report.triggers)


def test_run_report_json_html_advise(world: World, tmp_path: Path) -> None:
    raw = {"outcomes": {"writeback": {"triggers_table": "rep_triggers", "alerts_table": "rep_alerts"}}}
    config = make_config(tmp_path, str(world.config.warehouse.url), raw)
    lines: list[str] = []
    html = tmp_path / "out" / "report.html"
    code = run_report(
        config, world.state, as_json=True, html=html, advise=True, now=world.sim.report_at, echo=lines.append
    )
    assert code == 0 and html.exists()
    data = json.loads(lines[0])
    assert {a["action"] for a in data["advice"]} >= {"not_enough_data", "keep"}
    assert data["alerts"] == len(world.sim.alerts)
    with world.warehouse.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM rep_alerts")).scalar_one() == len(world.sim.alerts)
    lines.clear()
    run_report(config, world.state, advise=True, now=world.sim.report_at, echo=lines.append)
    text = "\n".join(lines)
    assert "seat_limit_approaching" in text and "[[scoring.triggers]]" in text and "KPI time_to_action: met" in text


def _chromium(*args: str) -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise FileNotFoundError(CHROMIUM)
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    profile = tempfile.mkdtemp(prefix="syncer-chromium-")
    try:
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
        ]
        done = subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=60, check=True)
        return done.stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_html_renders_in_chromium_with_charts_filter_and_drill_down(report: Report, tmp_path: Path) -> None:
    page = write_html(report, tmp_path / "report.html")
    html = page.read_text()
    assert "http://" not in html and "https://" not in html  # self-contained: nothing fetched
    assert len(html) < 1_000_000
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)[1])
    dom = _chromium("--dump-dom", page.as_uri())
    charts = {"chart-pipeline", "chart-health", "chart-effectiveness", "chart-revenue", "chart-quarters"}
    assert charts <= set(re.findall(r'<svg id="([^"]+)"', dom))
    matured = [a for a in data["alerts"] if a[2] + data["window_days"] <= data["today"]]
    triggers = {a[1] for a in matured}
    chart = dom[dom.index('<svg id="chart-effectiveness"') :]
    chart = chart[: chart.index("</svg>")]
    assert len(re.findall(r"<circle\b[^>]*data-trigger=", chart)) == len(
        triggers
    )  # a dot per trigger with matured alerts
    total = len(report.accounts)
    assert f'data-visible-accounts="{total}"' in dom and f'data-matured="{len(matured)}"' in dom

    # a filter from the URL hash, applied by the page's own JS in a real browser, to every widget
    want = sum(1 for a in report.accounts if a.segment == "enterprise")
    assert 0 < want < total
    dom = _chromium("--dump-dom", page.as_uri() + "#segment=enterprise")
    assert f'data-visible-accounts="{want}"' in dom
    body = dom[dom.index('id="acct-body"') :]
    rows = re.findall(r'<tr class="acct"[^>]*>', body[: body.index("</tbody>")])
    assert rows and all('data-segment="enterprise"' in r for r in rows)
    for band in {a.health_band for a in report.accounts if a.segment == "enterprise"}:  # health recounted
        n = sum(1 for a in report.accounts if a.segment == "enterprise" and a.health_band == band)
        assert re.search(rf'id="band-{band.replace("_", " ")}">{n}<', dom), band
    enterprise = {i for i, a in enumerate(data["accounts"]) if data["segments"][a[2]] == "enterprise"}
    m = [a for a in matured if a[0] in enterprise]
    assert f'data-matured="{len(m)}"' in dom

    # drill-down: the account's usage trend and alert history appear in the detail panel
    account = report.accounts[0].account_id
    dom = _chromium("--dump-dom", page.as_uri() + f"#account={account}")
    detail = dom[dom.index('id="detail"') :]
    assert f'data-account="{account}"' in detail[:200] and '<svg class="trend"' in detail

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    _chromium("--window-size=1400,2200", "--hide-scrollbars", f"--screenshot={shot}", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000
