"""The report as one self-contained HTML file: inline CSS, inline SVG charts drawn here, a little vanilla JS.

Widgets (seed 002 "Suggested Dashboard Widgets" + step 5): KPI cards, expansion pipeline by alert
status, usage health distribution, trigger effectiveness (conversion with its interval beside the
seed's expected range), revenue attribution, and an account table with a usage-trend drill-down.
Filters (segment, tier, owner) live in the URL hash (`#segment=smb&tier=growth`), so a filtered view
can be linked; they filter the account and alert tables and recount the health chart.
No network access at view time: no CDN, no fonts, no images.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path

from syncer.outcomes.report import STAGES, AccountView, Report

BANDS = ("expansion_ready", "healthy", "developing", "at_risk", "unknown")
COLORS = {"open": "#f2a93b", "worked": "#4c8bf5", "converted": "#2e9e5b", "lost": "#b0b7c3"}
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}
h1{margin:0 0 4px}h2{margin:0 0 8px;font-size:16px}.muted{color:#667085}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px;margin:16px 0}
.card{background:#fff;border:1px solid #e4e7ec;border-radius:8px;padding:14px}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}.kpi b{font-size:22px;display:block}
.ok{color:#2e9e5b}.bad{color:#c0392b}.na{color:#667085}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 6px;border-bottom:1px solid #eef0f3;text-align:left}
th{background:#fafbfc;position:sticky;top:0}tr.acct{cursor:pointer}tr.acct:hover{background:#eef4ff}
.scroll{max-height:420px;overflow:auto}select{margin-right:12px}#detail{min-height:120px}
svg text{font:11px system-ui,sans-serif;fill:#344054}
"""
JS = """
(function(){
  const keys=['segment','tier','owner'];
  function parse(){const o={};location.hash.replace(/^#/,'').split('&').forEach(p=>{const [k,v]=p.split('=');
    if(k)o[decodeURIComponent(k)]=decodeURIComponent(v||'')});return o;}
  function apply(){
    const f=parse();keys.forEach(k=>{const s=document.getElementById('f-'+k);if(s)s.value=f[k]||'';});
    const match=el=>keys.every(k=>!f[k]||el.dataset[k]===f[k]);
    let n=0;const bands={};
    document.querySelectorAll('tr.acct').forEach(r=>{const ok=match(r);r.hidden=!ok;
      if(ok){n++;bands[r.dataset.band]=(bands[r.dataset.band]||0)+1;}});
    document.querySelectorAll('tr.alert').forEach(r=>{r.hidden=!match(r);});
    const max=Math.max(1,...Object.values(bands));
    document.querySelectorAll('#chart-health rect[data-band]').forEach(b=>{const c=bands[b.dataset.band]||0;
      b.setAttribute('width',(c/max*b.dataset.full).toFixed(1));
      const t=document.getElementById('hl-'+b.dataset.band);if(t)t.textContent=c;});
    document.body.dataset.visibleAccounts=n;document.getElementById('shown').textContent=n;
    if(f.account)show(f.account);
  }
  function show(id){const t=document.getElementById('trend-'+id);const d=document.getElementById('detail');
    d.innerHTML='';if(t)d.appendChild(t.content.cloneNode(true));d.dataset.account=id;}
  function set(){const f=parse();
    keys.forEach(k=>{const v=document.getElementById('f-'+k).value;if(v)f[k]=v;else delete f[k];});
    location.hash=Object.entries(f).map(([k,v])=>encodeURIComponent(k)+'='+encodeURIComponent(v)).join('&');}
  document.addEventListener('DOMContentLoaded',()=>{
    keys.forEach(k=>document.getElementById('f-'+k).addEventListener('change',set));
    document.querySelectorAll('tr.acct').forEach(r=>r.addEventListener('click',()=>{const f=parse();
      f.account=r.dataset.account;location.hash=Object.entries(f).map(([k,v])=>k+'='+encodeURIComponent(v)).join('&');}));
    window.addEventListener('hashchange',apply);apply();});
})();
"""


def _money(v: float) -> str:
    return f"${v / 1e6:.2f}M" if abs(v) >= 1e6 else (f"${v / 1e3:.0f}K" if abs(v) >= 1e3 else f"${v:.0f}")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def hbars(chart_id: str, rows: Sequence[tuple[str, float, str]], *, color: str = "#4c8bf5", data_attr: str = "") -> str:
    """Horizontal bars: (label, value, text shown at the bar's end)."""
    width, left, bar_w, row_h = 520, 200, 190, 22
    top = max((v for _, v, _ in rows), default=0) or 1
    h = row_h * len(rows) + 8
    parts = [f'<svg id="{chart_id}" viewBox="0 0 {width} {h}" width="100%" style="max-width:{width}px" role="img">']
    for i, (label, value, text) in enumerate(rows):
        y = 4 + i * row_h
        w = bar_w * value / top
        attr = f' data-{data_attr}="{escape(label)}" data-full="{bar_w}"' if data_attr else ""
        fill = COLORS.get(label, color)
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{fill}"{attr}/>')
        tid = f' id="hl-{escape(label)}"' if data_attr else ""
        parts.append(f'<text x="{left + bar_w + 8}" y="{y + 14}"{tid}>{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def effectiveness_chart(report: Report) -> str:
    """Conversion per trigger: dot + interval whisker, the seed's expected range as a green band."""
    from syncer.outcomes.effectiveness import parse_expected

    rows = [t for t in report.triggers if t.fired]
    width, left, plot, row_h = 560, 230, 300, 24

    def x(v: float) -> float:
        return left + plot * v

    h = row_h * len(rows) + 30
    parts = [
        f'<svg id="chart-effectiveness" viewBox="0 0 {width} {h}" width="100%" style="max-width:{width}px" role="img">'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="0" y2="{row_h * len(rows)}" stroke="#eef0f3"/>')
        parts.append(f'<text x="{x(tick):.1f}" y="{row_h * len(rows) + 14}" text-anchor="middle">{_pct(tick)}</text>')
    target = report.settings.outcomes.target_conversion
    parts.append(
        f'<line x1="{x(target):.1f}" x2="{x(target):.1f}" y1="0" y2="{row_h * len(rows)}" '
        'stroke="#c0392b" stroke-dasharray="3,3"/>'
    )
    for i, t in enumerate(rows):
        y = i * row_h + row_h / 2
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{escape(t.trigger)} (n={t.matured})</text>')
        expected = parse_expected(t.expected_conversion)
        if expected:
            lo, hi = expected
            parts.append(
                f'<rect x="{x(lo):.1f}" y="{y - 8}" width="{max(2.0, x(hi) - x(lo)):.1f}" height="16" '
                'fill="#2e9e5b" opacity="0.2"><title>seed expected</title></rect>'
            )
        if t.conversion_rate is not None:
            parts.append(
                f'<line x1="{x(t.ci_low):.1f}" x2="{x(t.ci_high):.1f}" y1="{y}" y2="{y}" '
                'stroke="#344054" stroke-width="2"/>'
            )
            parts.append(
                f'<circle cx="{x(t.conversion_rate):.1f}" cy="{y}" r="4" fill="#4c8bf5">'
                f"<title>{t.converted}/{t.matured}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def trend_svg(view: AccountView) -> str:
    """Weekly mean DAU (line) and seats (dashed) for one account."""
    width, height, pad = 460, 140, 30
    if not view.trend:
        return '<svg class="trend" width="460" height="40"><text x="4" y="20">no usage in range</text></svg>'
    top = max(max(d for _, d, _ in view.trend), max(s for _, _, s in view.trend), 1.0)
    n = max(1, len(view.trend) - 1)

    def points(series: list[float]) -> str:
        return " ".join(
            f"{pad + (width - 2 * pad) * k / n:.1f},{height - pad - (height - 2 * pad) * v / top:.1f}"
            for k, v in enumerate(series)
        )

    dau, seats = [d for _, d, _ in view.trend], [s for _, _, s in view.trend]

    first, last = view.trend[0][0], view.trend[-1][0]
    return (
        f'<svg class="trend" width="{width}" height="{height}" role="img">'
        f'<polyline points="{points(dau)}" fill="none" stroke="#4c8bf5" stroke-width="2"/>'
        f'<polyline points="{points(seats)}" fill="none" stroke="#f2a93b" stroke-dasharray="4,3"/>'
        f'<text x="{pad}" y="{height - 8}">{first}</text><text x="{width - pad}" y="{height - 8}" '
        f'text-anchor="end">{last}</text><text x="4" y="12">max {top:.0f} - DAU (blue), seats (orange)</text></svg>'
    )


def _select(name: str, values: Sequence[str]) -> str:
    opts = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in sorted(set(values)) if v)
    return f'<label>{name} <select id="f-{name}"><option value="">all</option>{opts}</select></label>'


def render_html(report: Report) -> str:
    k = report.kpis
    met = k.met()

    def card(title: str, value: str, target: str, ok: bool | None) -> str:
        cls = "na" if ok is None else ("ok" if ok else "bad")
        return f'<div class="card kpi"><span class="muted">{title}</span><b class="{cls}">{value}</b>{target}</div>'

    quarters = k.revenue_arr_by_quarter
    last_q = list(quarters.items())[-1] if quarters else None
    cards = [
        card(
            "Expansion ARR from alerts" + (f" ({last_q[0]})" if last_q else ""),
            _money(last_q[1]) if last_q else "-",
            f"target > {_money(k.revenue_target_arr_per_quarter)}/quarter",
            met["revenue"],
        ),
        card(
            "Alert to conversion",
            _pct(k.alert_to_conversion),
            f"95% CI {_pct(k.alert_to_conversion_ci[0])}-{_pct(k.alert_to_conversion_ci[1])}; target > "
            f"{_pct(k.target_conversion)}",
            met["alert_to_conversion"],
        ),
        card(
            "Time to action (high, median)",
            "-" if k.high_median_hours_to_action is None else f"{k.high_median_hours_to_action:.1f} h",
            f"target < {k.target_action_hours:g} h; {_pct(k.high_worked_within_target)} of high alerts in time",
            met["time_to_action"],
        ),
        card(
            "Trigger accuracy",
            _pct(k.trigger_accuracy),
            f"relevant signals; target > {_pct(k.target_accuracy)}",
            met["trigger_accuracy"],
        ),
    ]
    pipe = report.pipeline()
    pipeline = hbars(
        "chart-pipeline",
        [(s, pipe[s]["arr"], f"{_money(pipe[s]['arr'])} ({pipe[s]['alerts']} alerts)") for s in STAGES],
    )
    health_counts = report.health_distribution()
    health = hbars(
        "chart-health",
        [(b, float(health_counts.get(b, 0)), str(health_counts.get(b, 0))) for b in BANDS],
        color="#7a5af8",
        data_attr="band",
    )
    revenue_rows = [
        (t.trigger, 12 * t.attributed_mrr, _money(12 * t.attributed_mrr)) for t in report.triggers if t.fired
    ]
    revenue_rows.append(("unattributed", 12 * k.unattributed_mrr, _money(12 * k.unattributed_mrr)))
    revenue = hbars("chart-revenue", revenue_rows, color="#2e9e5b")
    quarter_chart = hbars("chart-quarters", [(q, v, _money(v)) for q, v in quarters.items()], color="#2e9e5b")
    trig_rows = "".join(
        "<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row.values()) + "</tr>" for row in report.table_rows()
    )
    trig_head = "".join(f"<th>{escape(h)}</th>" for h in (report.table_rows() or [{}])[0])
    accounts = {a.account_id: a for a in report.accounts}
    acct_rows, templates = [], []
    for a in report.accounts:
        attrs = (
            f'class="acct" data-account="{escape(a.account_id)}" data-segment="{escape(a.segment)}" '
            f'data-tier="{escape(a.tier)}" data-owner="{escape(a.owner)}" data-band="{escape(a.health_band)}"'
        )
        score = "-" if a.health_score is None else f"{a.health_score:.0f}"
        acct_rows.append(
            f"<tr {attrs}><td>{escape(a.name or a.account_id)}</td><td>{escape(a.segment)}</td><td>{escape(a.tier)}"
            f"</td><td>{escape(a.owner)}</td><td>{score}</td><td>{escape(a.health_band)}</td><td>{a.alerts}</td>"
            f"<td>{a.converted}</td><td>{_money(12 * a.expanded_mrr)}</td></tr>"
        )
        mine = [o for o in report.outcomes if o.alert.account_id == a.account_id]
        items = "".join(
            f"<li>{o.alert.opened_at:%Y-%m-%d} {escape(o.alert.trigger)}: {o.stage}</li>" for o in mine[:20]
        )
        templates.append(
            f'<template id="trend-{escape(a.account_id)}"><h2>{escape(a.name or a.account_id)}</h2>'
            f"{trend_svg(a)}<ul>{items}</ul></template>"
        )
    alert_rows = []
    for o in report.outcomes:
        view = accounts.get(o.alert.account_id) or AccountView(o.alert.account_id)
        alert_rows.append(
            f'<tr class="alert" data-segment="{escape(view.segment)}" data-tier="{escape(view.tier)}" '
            f'data-owner="{escape(view.owner)}"><td>{o.alert.opened_at:%Y-%m-%d %H:%M}</td>'
            f"<td>{escape(o.alert.account_id)}</td><td>{escape(o.alert.trigger)}</td><td>{o.alert.priority}</td>"
            f"<td>{'-' if o.hours_to_action is None else f'{o.hours_to_action:.1f} h'}</td><td>{o.stage}</td>"
            f"<td>{_money(12 * o.attributed_mrr) if o.credited else ''}</td></tr>"
        )
    data = {"generated_at": report.generated_at.isoformat(), "alerts": len(report.outcomes)}
    head = (
        "<th>account</th><th>segment</th><th>tier</th><th>owner</th><th>health</th><th>band</th>"
        "<th>alerts</th><th>converted</th><th>ARR credited</th>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(report.title)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>
<body data-visible-accounts="{len(report.accounts)}">
<h1>{escape(report.title)}</h1>
<div class="muted">Generated {report.generated_at:%Y-%m-%d %H:%M} UTC - {len(report.outcomes)} alerts,
{report.accounts_total} accounts, conversion window {report.settings.outcomes.window_days:g} days.
Rates count matured alerts only (window closed).</div>
<div class="kpis" style="margin-top:16px">{"".join(cards)}</div>
<div class="card" style="margin-top:16px">{_select("segment", [a.segment for a in report.accounts])}
{_select("tier", [a.tier for a in report.accounts])}{_select("owner", [a.owner for a in report.accounts])}
<span class="muted"><span id="shown">{len(report.accounts)}</span> accounts shown</span></div>
<div class="grid">
<div class="card"><h2>Expansion pipeline by alert status (ARR)</h2>{pipeline}
<div class="muted">open/worked: predicted = trigger conversion x mean expansion ARR</div></div>
<div class="card"><h2>Usage health distribution (filtered)</h2>{health}</div>
<div class="card"><h2>Trigger effectiveness: conversion, 95% interval, seed expected range</h2>
{effectiveness_chart(report)}</div>
<div class="card"><h2>Revenue attribution (ARR credited per trigger)</h2>{revenue}
<h2>Per quarter</h2>{quarter_chart}</div>
</div>
<div class="card"><h2>Per trigger</h2><div class="scroll"><table><tr>{trig_head}</tr>{trig_rows}</table></div></div>
<div class="grid">
<div class="card"><h2>Accounts (click for the usage trend)</h2><div class="scroll"><table><tr>{head}</tr>
{"".join(acct_rows)}</table></div></div>
<div class="card"><h2>Drill-down</h2><div id="detail" class="muted">Click an account.</div></div>
</div>
<div class="card"><h2>Alerts</h2><div class="scroll"><table><tr><th>fired</th><th>account</th>
<th>trigger</th><th>priority</th><th>time to action</th><th>stage</th><th>ARR credited</th></tr>
{"".join(alert_rows)}</table></div></div>
{"".join(templates)}
<script type="application/json" id="report-data">{escape(json.dumps(data))}</script>
<script>{JS}</script>
</body></html>
"""


def write_html(report: Report, path: str | Path) -> Path:
    """Write the report atomically (temp file + rename), so a reader never sees half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(target)
    return target
