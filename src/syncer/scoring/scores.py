"""Score and trigger queries over the `account_metrics` table.

Health (seed 002) and PQL (seed 003) are sums of capped components; tiers and bands are CASE
expressions. Triggers are one SELECT per definition, glued with UNION ALL, so a warehouse evaluates
all of them in one statement.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from syncer.scoring.dialect import DOUBLE, Expr, as_double, clamp01, date_literal, greatest, round2
from syncer.scoring.metrics import CARRIED_ACCOUNT_COLUMNS
from syncer.scoring.model import ScoringConfig
from syncer.scoring.triggers import PRIORITY_RANK, TriggerDef

TRIGGER_COLUMNS = (
    "account_id", "trigger", "priority", "value", "threshold", "window_days", "confidence",
    "expected_conversion", "owner_email", "as_of", "context", "variant",
)  # fmt: skip


def _m(config: ScoringConfig, name: str) -> sa.TableClause:
    return sa.table(name, schema=config.tables.schema_)


def _col(name: str) -> Expr:
    return sa.literal_column(name, DOUBLE)


def _scaled(metric: Expr, full_at: float, weight: float) -> Expr:
    return clamp01(metric / as_double(full_at)) * weight


def _condition(t: TriggerDef) -> str:
    cond = f"(({t.value}) {t.op} {t.threshold!r})"
    if t.alternative:
        cond = f"({cond} OR ({t.alternative}))"
    if t.extra:
        cond = f"({cond} AND ({t.extra}))"
    return cond


def _context(t: TriggerDef) -> Expr:
    if not t.context:
        return sa.literal("", sa.String())
    parts: list[Expr] = []
    for i, column in enumerate(t.context):
        label = ("" if i == 0 else " ") + f"{column}="
        parts.append(sa.literal(label, sa.String()))
        parts.append(sa.func.coalesce(sa.cast(sa.literal_column(column), sa.String()), "null"))
    text: Expr = parts[0]
    for part in parts[1:]:
        text = text + part
    return text


def _one_trigger(
    config: ScoringConfig, t: TriggerDef, as_of: date, variant: str = "", source: sa.FromClause | None = None
) -> sa.Select[Any]:
    null_double = sa.cast(sa.null(), DOUBLE)
    return (
        sa.select(
            sa.literal_column("account_id"),
            sa.literal(t.name, sa.String()).label("trigger"),
            sa.literal(t.priority, sa.String()).label("priority"),
            as_double(sa.literal_column(f"({t.value})")).label("value"),
            as_double(t.threshold).label("threshold"),
            sa.cast(sa.literal(t.window_days), sa.Integer()).label("window_days"),
            (null_double if t.confidence is None else as_double(t.confidence)).label("confidence"),
            sa.cast(sa.literal(t.expected_conversion or "", sa.String()), sa.String()).label("expected_conversion"),
            sa.literal_column("owner_email"),
            date_literal(as_of).label("as_of"),
            _context(t).label("context"),
            sa.cast(sa.literal(variant, sa.String()), sa.String()).label("variant"),  # "" | "canary"
        )
        .select_from(_m(config, config.tables.metrics) if source is None else source)
        .where(sa.literal_column(_condition(t), sa.Boolean()))
    )


def triggers_select(
    config: ScoringConfig, as_of: date, source: sa.FromClause | None = None
) -> sa.Select[Any] | sa.CompoundSelect[Any]:
    """All configured triggers in one UNION ALL; one row per (account, trigger) that fires. `source`: the
    metrics to read (default the `account_metrics` table; a CTE of `metrics_select` when several days'
    triggers share one statement, as the demo's history does)."""
    defs = config.triggers or (TriggerDef(name="none", priority="low", value="0", threshold=1, extra="1 = 0"),)
    selects = [_one_trigger(config, t, as_of, source=source) for t in defs]
    selects += [_one_trigger(config, c, as_of, "canary", source) for t in defs if (c := t.canary_def()) is not None]
    return selects[0] if len(selects) == 1 else sa.union_all(*selects)


def _band(score: Expr, bands: dict[str, float], default: str) -> Expr:
    ordered = sorted(bands.items(), key=lambda kv: kv[1], reverse=True)
    return sa.case(*[(score >= floor, name) for name, floor in ordered], else_=default)


def scores_select(config: ScoringConfig, as_of: date, fired_table: str) -> sa.Select[Any]:
    """One row per account: health + PQL with their components, tier, band and the top signal."""
    h, f = config.health, config.pql.factors
    seat, eng = (
        _scaled(_col("seat_utilisation"), h.seat_full_at, h.seat_weight),
        _scaled(_col("wau_per_seat"), h.engagement_full_at, h.engagement_weight),
    )
    breadth = clamp01(_col("feature_breadth")) * h.breadth_weight
    depth = clamp01(_col("action_depth")) * h.depth_weight
    health = seat + eng + breadth + depth
    utilisation = greatest(
        *[
            sa.func.coalesce(_col(c), 0.0)
            for c in ("seat_utilisation", "storage_utilisation", "api_projected_utilisation")
        ]
    )
    bill = f["billing_proximity"]
    factors = {
        "wau": _scaled(_col("wau_per_seat"), f["wau"].full_at, f["wau"].weight),
        "feature_depth": _scaled(_col("premium_features_used"), f["feature_depth"].full_at, f["feature_depth"].weight),
        "session_duration": _scaled(
            _col("session_minutes_avg_7d"), f["session_duration"].full_at, f["session_duration"].weight
        ),
        "collaboration": _scaled(_col("collaboration_per_user"), f["collaboration"].full_at, f["collaboration"].weight),
        "integrations": _scaled(_col("active_integrations"), f["integrations"].full_at, f["integrations"].weight),
        "org_expansion": _scaled(_col("seat_growth_pct"), f["org_expansion"].full_at, f["org_expansion"].weight),
        "billing_proximity": sa.case(
            (sa.func.coalesce(_col("overage_30d"), 0.0) > 0, as_double(bill.weight)),
            else_=_scaled(utilisation, bill.full_at, bill.weight),
        ),
    }
    pql: Expr = sa.literal(0.0, DOUBLE)
    for expr in factors.values():
        pql = pql + expr
    tier = sa.case(
        (pql > config.pql.escalate_above, "escalate"), (pql > config.pql.nurture_above, "nurture"), else_="monitor"
    )
    top = _top_signal(config, fired_table)
    m = _m(config, config.tables.metrics)
    return sa.select(
        sa.literal_column("m.account_id").label("account_id"),
        *[sa.literal_column(f"m.{c}").label(c) for c in CARRIED_ACCOUNT_COLUMNS],
        date_literal(as_of).label("as_of"),
        round2(health).label("health_score"),
        _band(health, h.bands, "at_risk").label("health_band"),
        seat.label("health_seat"),
        eng.label("health_engagement"),
        breadth.label("health_breadth"),
        depth.label("health_depth"),
        round2(pql).label("pql_score"),
        tier.label("pql_tier"),
        *[expr.label(f"pql_{name}") for name, expr in factors.items()],
        top.c.trigger.label("top_signal"),
        sa.func.coalesce(top.c.fired, 0).label("triggers_fired"),
    ).select_from(
        m.alias("m").outerjoin(top, sa.and_(top.c.account_id == sa.literal_column("m.account_id"), top.c.rn == 1))
    )


def _top_signal(config: ScoringConfig, fired_table: str) -> sa.Subquery:
    """The strongest fired trigger per account: priority, then confidence, then name."""
    ft = sa.table(fired_table, sa.column("account_id"), sa.column("trigger"), sa.column("priority"),
                  sa.column("confidence", DOUBLE), sa.column("variant"), schema=config.tables.schema_)  # fmt: skip
    rank = sa.case(*[(ft.c.priority == p, r) for p, r in PRIORITY_RANK.items()], else_=9)
    order = (rank, sa.func.coalesce(ft.c.confidence, 0.0).desc(), ft.c.trigger)
    return (
        sa.select(
            ft.c.account_id,
            ft.c.trigger,
            sa.func.row_number().over(partition_by=ft.c.account_id, order_by=order).label("rn"),
            sa.func.count().over(partition_by=ft.c.account_id).label("fired"),
        )
        .where(sa.func.coalesce(ft.c.variant, "") == "")
        .subquery("top")
    )  # a canary's rows are not signals yet
