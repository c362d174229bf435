"""The INSERT ... SELECT that expands per-account parameters into daily usage rows.

Integer arithmetic only, so every warehouse computes the same numbers: noise is a multiplicative
hash modulo 1000, and division truncates toward zero through (a - a % b) / b, which is exact in
every dialect (duckdb's `/` returns DOUBLE, the others integer or decimal; the value is identical).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from syncer.scoring.dialect import Expr, as_double, int_greatest, int_least
from syncer.scoring.model import ScoringConfig

PARAM_COLUMNS = (
    "n", "account_id", "seats0", "seat_limit", "seat_slope", "dau_pm", "dau_slope_pm", "wau_pm", "api0",
    "api_slope", "storage0", "storage_slope", "total_features", "features0", "feature_slope",
    "premium_features", "premium_start", "power_users_adv", "actions_per_user", "power_pct", "session_min",
    "collab_pm", "integrations", "invite_pm", "activation_pm", "onboarding0", "onboarding_slope", "reports0",
    "reports_slope", "overage_daily", "payment_fail_pm",
)  # fmt: skip


def params_table(config: ScoringConfig, md: sa.MetaData) -> sa.Table:
    cols = [sa.Column(c, sa.String(64) if c == "account_id" else sa.BigInteger()) for c in PARAM_COLUMNS]
    return sa.Table("synthetic_params", md, *cols, schema=config.tables.schema_)


def days_table(config: ScoringConfig, md: sa.MetaData) -> sa.Table:
    return sa.Table(
        "synthetic_days",
        md,
        sa.Column("t", sa.BigInteger()),
        sa.Column("day", sa.Date()),
        sa.Column("weekend", sa.BigInteger()),
        schema=config.tables.schema_,
    )


def idiv(a: Expr, b: int) -> Expr:
    """a / b truncated toward zero, as BIGINT, identically in every dialect."""
    return sa.cast((a - a % b) / b, sa.BigInteger())


def _clamp(x: Expr, low: Expr | int, high: Expr | int | None = None) -> Expr:
    """Clamp with x written once: nested CASEs repeat x and sqlite's cost explodes with depth."""
    x = int_greatest(x, low)
    return x if high is None else int_least(x, high)


def stage_table(config: ScoringConfig, md: sa.MetaData) -> sa.Table:
    """Per account-day base values, materialised: inlining them makes planners' work explode."""
    cols: list[sa.Column[Any]] = [sa.Column("day", sa.Date()), sa.Column("t", sa.BigInteger())]
    cols += [sa.Column(c, sa.String(64) if c == "account_id" else sa.BigInteger()) for c in PARAM_COLUMNS]
    cols += [sa.Column(c, sa.BigInteger()) for c in ("seats_used", "dau", "wau_floor")]
    return sa.Table("synthetic_stage", md, *cols, schema=config.tables.schema_)


def stage_insert(stage: sa.Table, params: sa.Table, days: sa.Table) -> sa.Insert:
    p, d = params.c, days.c

    def noise(k: int) -> Expr:
        return (p.n * 7919 + d.t * 104729 + k * 1000003) % 1000

    seats = _clamp(idiv(p.seats0 + p.seat_slope * d.t, 100) + noise(1) % 3 - 1, 1, p.seat_limit)
    rate = _clamp(p.dau_pm + idiv(p.dau_slope_pm * d.t, 100), 20, 1000)
    weekday = sa.case((d.weekend == 1, 55), else_=100)
    values: dict[str, Any] = {"day": d.day, "t": d.t, **{c: p[c] for c in PARAM_COLUMNS}}
    values["seats_used"] = seats
    values["dau"] = _clamp(idiv(seats * rate * weekday * (900 + noise(2) % 200), 100_000_000), 0)
    values["wau_floor"] = idiv(seats * p.wau_pm, 1000)
    select = sa.select(*[v.label(k) for k, v in values.items()]).select_from(params.join(days, sa.true()))
    return stage.insert().from_select(list(values), select)


def usage_insert(usage: sa.Table, stage: sa.Table) -> sa.Insert:
    g = stage.c

    def gnoise(k: int) -> Expr:
        return (g.n * 7919 + g.t * 104729 + k * 1000003) % 1000

    actions = idiv(g.dau * g.actions_per_user * (75 + gnoise(4) % 50), 100)
    sessions = g.dau + idiv(g.dau * (gnoise(5) % 100), 100)
    premium_on = g.t >= g.premium_start
    values: dict[str, Any] = {
        "account_id": g.account_id,
        "day": g.day,
        "seats_used": g.seats_used,
        "dau": g.dau,
        "wau": int_least(int_greatest(g.dau, g.wau_floor), g.seats_used),
        "api_calls": _clamp(g.api0 + g.api_slope * g.t + idiv(g.api0 * (gnoise(3) % 200 - 100), 1000), 0),
        "storage_used": g.storage0 + g.storage_slope * g.t,
        "features_used": _clamp(g.features0 + idiv(g.feature_slope * g.t, 30), 0, g.total_features),
        "total_features": g.total_features,
        "premium_features_used": sa.case((premium_on, g.premium_features), else_=0),
        "power_users_advanced": sa.case((premium_on, g.power_users_adv), else_=0),
        "power_actions": idiv(actions * g.power_pct, 100),
        "total_actions": actions,
        "sessions": sessions,
        "session_minutes": sessions * g.session_min,
        "collaboration_events": idiv(g.dau * g.collab_pm, 1000),
        "active_integrations": g.integrations,
        "admin_invites": sa.case((gnoise(6) < g.invite_pm, 1), else_=0),
        "new_user_activations": sa.case((gnoise(7) < g.activation_pm, 1 + gnoise(8) % 2), else_=0),
        "reports_created": _clamp(g.reports0 + idiv(g.reports_slope * g.t, 30), 0),
        "onboarding_pct": as_double(_clamp(g.onboarding0 + g.onboarding_slope * g.t, 0, 1000)) / as_double(1000),
        "overage_amount": as_double(g.overage_daily),
        "payment_failed": sa.case((gnoise(9) < g.payment_fail_pm, sa.true()), else_=sa.false()),
    }
    select = sa.select(*[expr.label(name) for name, expr in values.items()])
    return usage.insert().from_select(list(values), select)
