"""The report as one self-contained HTML dashboard: inline CSS, the data as embedded JSON, a vanilla script.

Widgets (seed 002 "Suggested Dashboard Widgets", tactical and strategic): KPI cards coloured by their
target (the SLA-met share, not a median alone), "call today" per owner (accounts ranked by expected
expansion value, with the trigger, value vs threshold, usage sparkline, task state and CRM link),
expansion pipeline with predicted value, portfolio health, trigger effectiveness (intervals; triggers
with too few matured alerts greyed out, with the reason), lift against holdouts, revenue per trigger
and per quarter, an accounts table and a drill-down (weekly usage over the trend window + alert history).
Segment, plan tier (the account's plan, not the PQL tier alerts route by) and owner filters apply to every
widget and live in the URL hash. The data is
`dashboard_data.dashboard_data` (also readable by tests as `<script id="report-data">`); the script is
`dashboard.js` next to this module. No network access at view time: no CDN, no fonts, no images.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from importlib.resources import files
from pathlib import Path

from syncer.local_time import local_words
from syncer.outcomes.dashboard_data import dashboard_data
from syncer.outcomes.report import Report
from syncer.wording import plural

SCRIPT = files("syncer.outcomes").joinpath("dashboard.js").read_text(encoding="utf-8")
CSS = files("syncer.outcomes").joinpath("dashboard.css").read_text(encoding="utf-8")


def render_html(report: Report, links: Mapping[str, str] | None = None) -> str:
    """The dashboard page; `links` maps account -> CRM record URL (dashboard_data.crm_links)."""
    data = json.dumps(dashboard_data(report, links), separators=(",", ":"), default=str).replace("</", "<\\/")
    title = escape(report.title)

    def select(key: str, label: str) -> str:
        return f'<label for="f-{key}">{label}</label><select id="f-{key}"><option value="">all</option></select>'

    filters = select("segment", "segment") + select("tier", "plan tier") + select("owner", "owner")
    window = plural(report.settings.outcomes.window_days, "day")
    generated = escape(local_words(report.generated_at, report.zone))  # the team's zone, named; UTC without one
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>
<body data-visible-accounts="{len(report.accounts)}">
<header><h1>{title}</h1><p>Generated {generated} · {report.counts_line()}
· {plural(report.accounts_total, "account")} · conversion window {window}; rates
count alerts whose window has closed.</p></header>
<main>
<nav class="filters" aria-label="Filters">{filters}
<button id="f-reset" type="button">Reset</button><span class="muted"><span id="shown">{len(report.accounts)}</span>
accounts in view</span></nav>
<section class="kpis" id="kpis" aria-label="Key figures"></section>
<section class="card wide"><h2>Call today: accounts ranked by expected expansion value</h2>
<div id="call"></div></section>
<div class="grid">
<section class="card"><h2>Expansion pipeline (ARR: open and worked are predicted)</h2>
<div id="pipeline"></div></section>
<section class="card"><h2>Portfolio health</h2><div id="health"></div><div id="churn"></div></section>
<section class="card"><h2>Which triggers convert</h2><div id="effect"></div></section>
<section class="card"><h2>Lift against the holdout group</h2><div id="lift"></div></section>
<section class="card"><h2>Revenue credited per trigger (ARR)</h2><div id="revenue"></div></section>
<section class="card"><h2>Revenue credited per quarter (ARR)</h2><div id="quarters"></div></section>
</div>
<div class="grid">
<section class="card"><h2>Accounts</h2><div class="table-wrap"><table id="accounts"><thead><tr>
<th scope="col">account</th><th scope="col">plan tier</th><th scope="col">owner</th>
<th scope="col" class="num">health</th><th scope="col">usage</th><th scope="col" class="num">alerts</th>
<th scope="col" class="num">expected</th></tr></thead>
<tbody id="acct-body"></tbody></table></div><p class="muted" id="acct-more"></p></section>
<section class="card" aria-live="polite"><h2>Account drill-down</h2><div id="detail"></div></section>
</div>
</main>
<script type="application/json" id="report-data">{data}</script>
<script>{SCRIPT}</script>
</body></html>
"""


def write_html(report: Report, path: str | Path, links: Mapping[str, str] | None = None) -> Path:
    """Write the report atomically (temp file + rename), so a reader never sees half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(render_html(report, links), encoding="utf-8")
    tmp.replace(target)
    return target
