"""`build_report(config, state, now) -> Report`: alert -> action -> outcome per trigger, with the KPIs.

Reads the alerts from state, the expansion model, accounts, scores and recent usage from the
warehouse (SQLAlchemy Core; usage is streamed and folded into weekly points per account).
`Report.as_dict()` is the `--json` shape, `Report.table_rows()` the terminal table;
`report_html.write_html` renders the dashboard and `writeback.write_back` replaces the warehouse tables.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from syncer.alerts.model import load_alert_settings
from syncer.alerts.sla import by_priority
from syncer.config import Config
from syncer.identity import identity_text
from syncer.local_time import team_zone
from syncer.outcomes.churn import Churn, parse_churn
from syncer.outcomes.effectiveness import Kpis, TriggerDefView, TriggerStats, kpis, trigger_stats
from syncer.outcomes.lift import Lift, holdout_lift
from syncer.outcomes.model import OutcomeSettings, load_outcome_settings
from syncer.outcomes.tracking import AlertOutcome, Expansion, as_datetime, load_alerts, parse_expansions, track
from syncer.scoring.model import ScoringConfig
from syncer.source import Source
from syncer.state import StateStore
from syncer.wording import readable

STAGES = ("open", "worked", "converted", "lost")


@dataclass
class AccountView:
    account_id: str
    name: str = ""
    segment: str = ""
    tier: str = ""
    owner: str = ""
    mrr: float = 0.0
    owner_name: str = ""  # from an optional accounts.owner_name column; the email when absent
    health_score: float | None = None
    health_band: str = "unknown"
    alerts: int = 0
    converted: int = 0
    expanded_mrr: float = 0.0
    trend: list[tuple[dt.date, float, float]] = field(default_factory=list)  # (week start, mean DAU, seats)


@dataclass
class Report:
    generated_at: dt.datetime
    settings: OutcomeSettings
    title: str
    outcomes: list[AlertOutcome]
    unattributed: list[Expansion]
    triggers: list[TriggerStats]
    kpis: Kpis
    defs: dict[str, TriggerDefView]
    accounts: list[AccountView]
    accounts_total: int
    lifts: list[Lift] = field(default_factory=list)  # causal lift vs the holdout group, per trigger
    churn: list[Churn] = field(default_factory=list)  # the churn model's events ([outcomes] churn), time order
    zone: str | None = None  # the team's IANA zone ([digest] timezone) for times a person reads; None = UTC
    held_out: int = 0  # alerts held out as the control group: in state, never sent, outside every figure

    def counts(self) -> dict[str, int]:
        """Alerts in state vs in the report: opened = sent + held_out (figures count sent alerts only)."""
        return {"opened": len(self.outcomes) + self.held_out, "sent": len(self.outcomes), "held_out": self.held_out}

    def counts_line(self) -> str:
        """'3,602 alerts sent (4,077 opened; 475 held out as the control group)'."""
        c = self.counts()
        return f"{c['sent']:,} alerts sent ({c['opened']:,} opened; {c['held_out']:,} held out as the control group)"

    def sla(self) -> dict[str, dict[str, Any]]:
        """Per priority: worked within SLA (syncer.alerts.sla.by_priority), the same numbers `alerts sla` prints."""
        items: dict[str, list[tuple[str | None, float | None]]] = defaultdict(list)
        for o in self.outcomes:
            items[o.alert.priority].append((o.sla, o.hours_to_action))
        return by_priority(items, self.settings.outcomes.sla_hours)

    def churn_summary(self) -> dict[str, Any]:
        """Portfolio health, whole book: churn events, logos lost (accounts that cancelled), churned ARR."""
        return {
            "events": len(self.churn),
            "accounts": len({c.account_id for c in self.churn}),
            "cancelled": len({c.account_id for c in self.churn if c.kind == "cancel"}),
            "churned_arr": round(12 * sum(c.mrr for c in self.churn), 2),
        }

    def pipeline(self) -> dict[str, dict[str, float]]:
        """Seed widget "Expansion Pipeline: value of triggered alerts by status" (ARR).

        converted: the converting expansion's ARR; open/worked (window still running): the trigger's
        measured conversion rate (pooled rate if it has none yet) x the mean expansion ARR seen; lost: 0.
        """
        rates = {t.trigger: t.conversion_rate for t in self.triggers}
        pooled = self.kpis.alert_to_conversion or 0.0
        seen = [o.converted.mrr for o in self.outcomes if o.converted is not None]
        seen += [e.mrr for e in self.unattributed]
        mean_arr = 12 * sum(seen) / len(seen) if seen else 0.0
        out = {s: {"alerts": 0.0, "arr": 0.0} for s in STAGES}
        for o in self.outcomes:
            stage = out[o.stage]
            stage["alerts"] += 1
            if o.converted is not None:
                stage["arr"] += 12 * o.converted.mrr
            elif not o.matured:
                rate = rates.get(o.alert.trigger)
                stage["arr"] += (pooled if rate is None else rate) * mean_arr
        return {s: {"alerts": int(v["alerts"]), "arr": round(v["arr"], 2)} for s, v in out.items()}

    def health_distribution(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for a in self.accounts:
            counts[a.health_band] += 1
        return dict(counts)

    def as_dict(self, alerts: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "generated_at": self.generated_at.isoformat(),
            "window_days": self.settings.outcomes.window_days,
            "alerts": len(self.outcomes),
            "alert_counts": self.counts(),
            "sla": self.sla(),
            "accounts": self.accounts_total,
            "kpis": self.kpis.as_dict(),
            "pipeline": self.pipeline(),
            "triggers": [t.as_dict() for t in self.triggers],
            "holdout_lift": [x.as_dict() for x in self.lifts],
            "churn": self.churn_summary(),
        }
        if alerts:
            d["alert_outcomes"] = [o.as_row() for o in self.outcomes]
        return d

    def table_rows(self) -> list[dict[str, str]]:
        """The terminal table: one row per trigger, strings ready to print."""

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{100 * v:.0f}%"

        rows = []
        for t in self.triggers:
            if not t.fired and not t.defined:
                continue
            rate = "-" if t.conversion_rate is None else f"{pct(t.conversion_rate)} [{pct(t.ci_low)}-{pct(t.ci_high)}]"
            rows.append(
                {
                    "trigger": readable(t.trigger),  # as every table and page says it: "API limit approaching"
                    "priority": t.priority,
                    "fired": str(t.fired),
                    "matured": str(t.matured),
                    "worked in SLA": "-"
                    if not t.with_task
                    else f"{t.worked_within_sla}/{t.sla_due}" + (f" +{t.sla_pending} not due" if t.sla_pending else ""),
                    "median h to action": ("never" if t.sla_due else "-")  # never: most due were not worked
                    if t.median_hours_to_action is None
                    else f"{t.median_hours_to_action:.1f}",
                    "converted": str(t.converted),
                    "conversion (95% CI)": rate,
                    "expected": t.expected_conversion or "-",
                    "vs expected": t.expected_vs_measured,
                    "ARR attributed": f"{12 * t.attributed_mrr:,.0f}",
                }
            )
        return rows


def trigger_defs(scoring: ScoringConfig) -> dict[str, TriggerDefView]:
    return {
        t.name: TriggerDefView(t.name, t.priority, t.threshold, t.expected_conversion, t.confidence)
        for t in scoring.triggers
    }


def _table(scoring: ScoringConfig, name: str, *columns: str) -> sa.TableClause:
    return sa.table(name, *[sa.column(c) for c in columns], schema=scoring.tables.schema_)


def _accounts(engine: sa.Engine, scoring: ScoringConfig) -> dict[str, AccountView]:
    columns = ["account_id", "name", "segment", "plan_tier", "owner_email", "mrr"]
    out: dict[str, AccountView] = {}
    with engine.connect() as conn:
        present = {
            c["name"] for c in sa.inspect(conn).get_columns(scoring.tables.accounts, schema=scoring.tables.schema_)
        }
        acc = _table(scoring, scoring.tables.accounts, *columns, *(["owner_name"] if "owner_name" in present else []))
        for r in conn.execute(sa.select(*acc.c)):
            owner = str(r.owner_email or "")
            out[identity_text(r.account_id)] = AccountView(
                identity_text(r.account_id),
                str(r.name or ""),
                str(r.segment or ""),
                str(r.plan_tier or ""),
                owner,
                float(r.mrr or 0),
                owner_name=str(getattr(r, "owner_name", None) or owner),
            )
        if not sa.inspect(conn).has_table(scoring.tables.scores, schema=scoring.tables.schema_):
            return out  # no scores yet: health shows as unknown
        scores = _table(scoring, scoring.tables.scores, "account_id", "health_score", "health_band")
        for r in conn.execute(sa.select(*scores.c)):
            view = out.get(identity_text(r.account_id))
            if view is not None:
                view.health_score = None if r.health_score is None else float(r.health_score)
                view.health_band = str(r.health_band or "unknown")
    return out


def _trend(engine: sa.Engine, scoring: ScoringConfig, views: dict[str, AccountView], days: int) -> None:
    """Weekly mean DAU and last seats per account over the last `days` usage days (streamed)."""
    usage = _table(scoring, scoring.tables.usage_daily, "account_id", "day", "dau", "seats_used")
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(usage.c.day))).scalar()
        if last is None:
            return
        last_day = as_datetime(last).date()
        first = last_day - dt.timedelta(days=days - 1)
        since: Any = first.isoformat() if engine.dialect.name == "sqlite" else first
        query = sa.select(usage.c.account_id, usage.c.day, usage.c.dau, usage.c.seats_used).where(
            usage.c.day >= sa.literal(since)
        )
        weeks: dict[tuple[str, int], list[float]] = {}
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(query)
        for account_id, day, dau, seats in result:
            d = as_datetime(day).date()
            bucket = weeks.setdefault((str(account_id), (d - first).days // 7), [0.0, 0.0, 0.0])
            bucket[0] += float(dau or 0)
            bucket[1] += 1
            bucket[2] = max(bucket[2], float(seats or 0))
    for (account_id, week), (dau_sum, n, seats) in sorted(weeks.items()):
        view = views.get(account_id)
        if view is not None:
            view.trend.append((first + dt.timedelta(days=7 * week), round(dau_sum / n, 1), seats))


def build_report(
    config: Config,
    state: StateStore | sa.Engine,
    now: dt.datetime | None = None,
    *,
    source: Source | None = None,
    settings: OutcomeSettings | None = None,
) -> Report:
    """Everything the report shows, computed at `now` (default: the current time). Without `source`, the
    warehouse is opened for this call and closed before it returns (a DuckDB file admits one process)."""
    if source is None:
        source = Source(config.warehouse, config.base_dir, str(config.path))
        try:
            return build_report(config, state, now, source=source, settings=settings)
        finally:
            source.close()
    now = now or dt.datetime.now(dt.UTC)
    settings = settings or load_outcome_settings(config.raw, str(config.path))
    state_engine = state.engine if isinstance(state, StateStore) else state
    oc = settings.outcomes
    records = load_alerts(state_engine)
    expansions = parse_expansions(source.stream(oc.expansions, config.base_dir))
    churn = parse_churn(source.stream(oc.churn, config.base_dir)) if oc.churn is not None else []
    # held-out alerts are the control group: not alerts anyone got, so outside the stats and the revenue credit
    sent = [r for r in records if r.delivery != "holdout"]
    held = [r for r in records if r.delivery == "holdout"]
    outcomes, unattributed = track(sent, expansions, now, oc.window_days, oc.sla_hours)
    control, _ = track(held, expansions, now, oc.window_days, oc.sla_hours)
    holdout = load_alert_settings(config.raw, str(config.path)).alerts.holdout
    shares = {t.name: holdout.share_for(t.name) for t in config.scoring.triggers}
    lifts = holdout_lift(outcomes, control, shares, holdout.minimum_detectable_effect)
    defs = trigger_defs(config.scoring)
    stats = trigger_stats(outcomes, defs, oc.advice.confidence)
    views = _accounts(source.engine, config.scoring)
    summary = kpis(
        outcomes,
        unattributed,
        len(views),
        now,
        target_conversion=oc.target_conversion,
        target_accuracy=oc.target_accuracy,
        target_action_hours=oc.target_action_hours,
        target_revenue=oc.target_revenue_arr_per_quarter,
        confidence=oc.advice.confidence,
    )
    for o in outcomes:
        view = views.get(o.alert.account_id)
        if view is not None:
            view.alerts += 1
            view.converted += o.converted is not None
            view.expanded_mrr += o.attributed_mrr
    shown = _pick_accounts(list(views.values()), settings.report.max_accounts)
    _trend(source.engine, config.scoring, {v.account_id: v for v in shown}, settings.report.trend_days)
    return Report(
        generated_at=now,
        settings=settings,
        title=settings.report.title,
        outcomes=outcomes,
        unattributed=unattributed,
        triggers=stats,
        kpis=summary,
        defs=defs,
        accounts=shown,
        accounts_total=len(views),
        lifts=lifts,
        churn=churn,
        zone=team_zone(config.raw),
        held_out=len(held),
    )


def _pick_accounts(views: Sequence[AccountView], limit: int) -> list[AccountView]:
    """Alerted accounts first (most alerts), then by health score; at most `limit`."""
    ranked = sorted(views, key=lambda v: (-v.alerts, -(v.health_score or 0), v.account_id))
    return ranked[:limit]
