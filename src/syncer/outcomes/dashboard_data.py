"""The dashboard's data: one compact JSON document the page's script renders and filters.

Shape (lists of small arrays, indices into the name lists, to keep the page small):

    accounts: [id, name, segment#, plan tier#, owner#, mrr, health|null, band#, crm_url|null]
    trend:    {start: ISO date, step_days: 7, dau: [[...] per account], seats: [[...] per account]}
    alerts:   [account#, trigger#, opened (epoch days), stage#, hours_to_action|null, within_sla (1/0/null),
               converted_mrr, credited_mrr, value|null, expected_arr, task#, priority#, value as read]
              (held-out alerts excluded; "value as read" is syncer.trigger_values.value_words: 33%, 5, 1.6x)
    credits:  [expanded (epoch days), mrr, alert#]   each expansion credited to an alert (revenue attribution)
    unattributed: [expanded (epoch days), mrr, account#|-1]
    churn:    [churned (epoch days), mrr lost, account#|-1, kind#]   the churn model's events (kinds: churn_kinds)

`expected_arr` is what an alert still open in its window is worth today: the trigger's conversion
rate (measured once at least MIN_MATURED alerts matured, else the seed's expected midpoint, else the
pooled rate) x the account's expansion ARR expectation (12 x MRR x the mean expansion/MRR ratio seen,
or the mean expansion ARR for an account without MRR). Matured alerts are worth 0 (their window closed),
and so are alerts on an account the churn model says cancelled: it leaves the "call today" list.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from syncer.outcomes.churn import KINDS as CHURN_KINDS
from syncer.outcomes.effectiveness import MIN_DUE, MIN_MATURED, parse_expected
from syncer.outcomes.report import STAGES, Report
from syncer.trigger_values import value_words
from syncer.wording import readable

MIN_CHURN = 5  # churn events a view needs before its churn figures are shown, not greyed out
MIN_GROUP = 30  # accounts each side (alerted, never alerted) needs before their churn rates are compared
BANDS = ("expansion_ready", "healthy", "developing", "at_risk", "unknown")
TASKS = ("none", "pending", "open", "completed", "rejected")
PRIORITIES = ("high", "medium", "low")
EPOCH = dt.date(1970, 1, 1)


def _day(at: dt.datetime | dt.date) -> int:
    return ((at.date() if isinstance(at, dt.datetime) else at) - EPOCH).days


def _index(values: list[str]) -> dict[str, int]:
    return {v: i for i, v in enumerate(values)}


def trigger_rates(report: Report) -> dict[str, tuple[float, str]]:
    """Trigger -> (conversion probability used for expected value, where it came from)."""
    pooled = report.kpis.alert_to_conversion
    out: dict[str, tuple[float, str]] = {}
    for t in report.triggers:
        if t.conversion_rate is not None and t.matured >= MIN_MATURED:
            out[t.trigger] = (t.conversion_rate, f"measured on {t.matured} matured alerts")
        elif (expected := parse_expected(t.expected_conversion)) is not None:
            out[t.trigger] = ((expected[0] + expected[1]) / 2, "seed expected range (too few matured alerts)")
        else:
            out[t.trigger] = (pooled or 0.0, "pooled rate (no seed expectation)")
    return out


def crm_links(state: sa.Engine) -> dict[str, str]:
    """Account -> the CRM record link the alert engine rendered into its latest alert (`[alerts] crm_url`)."""
    from syncer.alerts.store import alerts as alerts_table

    query = sa.select(alerts_table.c.account_id, alerts_table.c.payload).order_by(alerts_table.c.id)
    links: dict[str, str] = {}
    with state.connect() as conn:
        for account_id, payload in conn.execute(query):
            try:
                url = json.loads(payload or "{}").get("crm_url")
            except ValueError:
                continue
            if url:
                links[str(account_id)] = str(url)
    return links


def dashboard_data(report: Report, links: Mapping[str, str] | None = None) -> dict[str, Any]:
    links = links or {}
    segments = sorted({a.segment for a in report.accounts if a.segment})
    tiers = sorted({a.tier for a in report.accounts if a.tier})
    owner_names = {a.owner: a.owner_name for a in report.accounts if a.owner}
    # the owner filter lists people by the name it shows (emails stay the keys): not owner0, owner10, owner11, ...
    owners = sorted({a.owner for a in report.accounts if a.owner}, key=lambda o: ((owner_names.get(o) or o).lower(), o))
    triggers = sorted({o.alert.trigger for o in report.outcomes} | set(report.defs))
    seg_i, tier_i, own_i, trig_i = _index(segments), _index(tiers), _index(owners), _index(triggers)
    views = {a.account_id: a for a in report.accounts}
    acc_i = {a.account_id: i for i, a in enumerate(report.accounts)}

    ratios = [o.converted.mrr / views[o.alert.account_id].mrr for o in report.outcomes if o.converted and
              o.alert.account_id in views and views[o.alert.account_id].mrr > 0]  # fmt: skip
    seen = [o.converted.mrr for o in report.outcomes if o.converted] + [e.mrr for e in report.unattributed]
    mean_ratio = sum(ratios) / len(ratios) if ratios else 0.3
    mean_arr = 12 * sum(seen) / len(seen) if seen else 0.0
    rates = trigger_rates(report)

    cancelled = {c.account_id for c in report.churn if c.kind == "cancel"}  # gone: nothing left to expand
    alerts, credits = [], []
    for n, o in enumerate(report.outcomes):
        a = o.alert
        view = views.get(a.account_id)
        expected = 0.0
        if not o.matured and o.converted is None and a.account_id not in cancelled:
            arr = 12 * view.mrr * mean_ratio if view is not None and view.mrr > 0 else mean_arr
            expected = rates.get(a.trigger, (0.0, ""))[0] * arr
        within = None if o.within_sla is None else int(o.within_sla)
        alerts.append(
            [
                acc_i.get(a.account_id, -1),
                trig_i[a.trigger],
                _day(a.opened_at),
                STAGES.index(o.stage),
                None if o.hours_to_action is None else round(o.hours_to_action, 1),
                within,
                round(o.converted.mrr, 2) if o.converted else 0,
                round(o.attributed_mrr, 2),
                None if a.value is None else round(a.value, 3),
                round(expected),
                TASKS.index(a.task_state) if a.task_state in TASKS else 0,
                PRIORITIES.index(a.priority) if a.priority in PRIORITIES else 2,
                "" if a.value is None else value_words(a.value, a.trigger),  # the page shows this, not the number
            ]
        )
        credits += [[_day(e.expanded_at), round(e.mrr, 2), n] for e in o.credited]
    unattributed = [[_day(e.expanded_at), round(e.mrr, 2), acc_i.get(e.account_id, -1)] for e in report.unattributed]
    kinds = list(CHURN_KINDS) + sorted({c.kind for c in report.churn} - set(CHURN_KINDS))
    churn = [
        [_day(c.churned_at), round(c.mrr, 2), acc_i.get(c.account_id, -1), kinds.index(c.kind)] for c in report.churn
    ]

    trend_start = min((a.trend[0][0] for a in report.accounts if a.trend), default=report.generated_at.date())
    accounts, dau, seats = [], [], []
    for v in report.accounts:
        accounts.append(
            [
                v.account_id,
                v.name or v.account_id,
                seg_i.get(v.segment, -1),
                tier_i.get(v.tier, -1),
                own_i.get(v.owner, -1),
                round(v.mrr),
                None if v.health_score is None else round(v.health_score),
                BANDS.index(v.health_band) if v.health_band in BANDS else len(BANDS) - 1,
                links.get(v.account_id),
            ]
        )
        dau.append([round(d, 1) for _, d, _ in v.trend])
        seats.append([round(s) for _, _, s in v.trend])

    k, oc = report.kpis, report.settings.outcomes
    return {
        "generated_at": report.generated_at.isoformat(),
        "today": _day(report.generated_at),
        "title": report.title,
        "window_days": oc.window_days,
        "sla_hours": oc.sla_hours,
        "targets": {
            "conversion": k.target_conversion,
            "accuracy": k.target_accuracy,
            "action_hours": k.target_action_hours,
            "revenue_arr_per_quarter": k.revenue_target_arr_per_quarter,
        },
        "min_matured": MIN_MATURED,
        "min_due": MIN_DUE,  # due high alerts before time to action gets a verdict (Kpis.met)
        "segments": segments,
        "segment_labels": [readable(s) for s in segments],  # shown ("mid-market"); `segments` are the filter keys
        "tiers": tiers,  # the account's plan tier (accounts.plan_tier), not the PQL tier alerts route by
        "tier_labels": [readable(t) for t in tiers],
        "owners": owners,
        "owner_names": [owner_names.get(o) or o for o in owners],  # shown; `owners` (emails) stay the filter keys
        "bands": list(BANDS),
        "stages": list(STAGES),
        "tasks": list(TASKS),
        "priorities": list(PRIORITIES),
        "triggers": triggers,
        "trigger_labels": [readable(t) for t in triggers],  # shown ("API limit approaching"); `triggers` are keys
        "trigger_defs": {
            name: {
                "priority": d.priority,
                "threshold": d.threshold,
                "threshold_text": None if d.threshold is None else value_words(d.threshold, name),
                "expected": d.expected_conversion,
                "rate_used": round(rates.get(name, (0.0, ""))[0], 4),
                "rate_source": rates.get(name, (0.0, ""))[1],
            }
            for name, d in report.defs.items()
        },
        "accounts_total": report.accounts_total,
        "accounts": accounts,
        "trend": {"start": trend_start.isoformat(), "step_days": 7, "dau": dau, "seats": seats},
        "alerts": alerts,
        "credits": credits,
        "unattributed": unattributed,
        "churn": churn,
        "churn_model": report.settings.outcomes.churn is not None,
        "churn_kinds": kinds,
        "min_churn": MIN_CHURN,
        "min_group": MIN_GROUP,
        "lifts": [x.as_dict() for x in report.lifts],
        "kpis": report.kpis.as_dict(),
        "counts": report.counts(),
        "sla": report.sla(),
    }
