"""The per-account metrics query: one GROUP BY pass over the usage window, then derived ratios.

Everything downstream (health score, PQL score, every trigger, user triggers) reads this one table,
so its column names are the documented vocabulary of trigger expressions (docs/scoring.md).
Windows end at `as_of` inclusive: "7 days" is (as_of - 7, as_of], "30 days ago" is the row at as_of - 30.
Date arithmetic happens in Python; the SQL only compares `day` with date constants.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from syncer.scoring.dialect import Expr, as_double, date_literal, flag, ratio
from syncer.scoring.model import ScoringConfig

USAGE_INT_COLUMNS = (
    "seats_used", "dau", "wau", "api_calls", "storage_used", "features_used", "total_features",
    "premium_features_used", "power_users_advanced", "power_actions", "total_actions", "sessions",
    "session_minutes", "collaboration_events", "active_integrations", "admin_invites",
    "new_user_activations", "reports_created",
)  # fmt: skip
ACCOUNT_COLUMNS = (
    "account_id", "name", "plan_tier", "segment", "is_premium", "seat_limit", "api_limit",
    "storage_limit", "mrr", "owner_email", "sf_account_id", "hs_company_domain",
)  # fmt: skip
CARRIED_ACCOUNT_COLUMNS = ("owner_email", "plan_tier", "segment", "sf_account_id", "hs_company_domain")


def usage_table(config: ScoringConfig) -> sa.TableClause:
    cols: list[sa.ColumnClause[Any]] = [sa.column("account_id"), sa.column("day", sa.Date())]
    cols.append(sa.column("onboarding_pct", sa.Double()))
    cols += [sa.column(c, sa.BigInteger()) for c in USAGE_INT_COLUMNS]
    cols += [sa.column("overage_amount", sa.Double()), sa.column("payment_failed", sa.Boolean())]
    return sa.table(config.tables.usage_daily, *cols, schema=config.tables.schema_)


def accounts_table(config: ScoringConfig) -> sa.TableClause:
    cols = [sa.column(c, sa.Boolean() if c == "is_premium" else None) for c in ACCOUNT_COLUMNS]
    return sa.table(config.tables.accounts, *cols, schema=config.tables.schema_)


def history_days(config: ScoringConfig) -> int:
    """How many days of usage the metrics read (the longest window)."""
    return max(60, 7 + config.dau_baseline_days, config.api_projection_days, config.health.action_window_days, 31)


def _base_aggregate(config: ScoringConfig, as_of: date, name: str = "usage_base") -> sa.CTE:
    u = usage_table(config)
    day = u.c.day

    def since(days: int) -> Expr:
        return day > date_literal(as_of - timedelta(days=days))

    def total(column: str, days: int) -> Expr:
        return sa.cast(sa.func.sum(sa.case((since(days), u.c[column]), else_=0)), sa.BigInteger())

    def on(offset: int, column: str) -> Expr:
        return sa.func.max(sa.case((day == date_literal(as_of - timedelta(days=offset)), u.c[column])))

    base_start, base_end = 7 + config.dau_baseline_days, 7
    in_baseline = sa.and_(since(base_start), sa.not_(since(base_end)))
    in_prev_30 = sa.and_(since(60), sa.not_(since(30)))
    in_7d_30d_ago = sa.and_(since(37), sa.not_(since(30)))
    now_cols = (
        "seats_used", "dau", "wau", "storage_used", "features_used", "total_features",
        "premium_features_used", "power_users_advanced", "active_integrations", "onboarding_pct",
    )  # fmt: skip
    aw = config.health.action_window_days
    columns: list[Any] = [u.c.account_id]
    columns += [on(0, c).label(c) for c in now_cols]
    columns += [
        sa.func.count(sa.case((day == date_literal(as_of), 1))).label("rows_today"),
        on(30, "seats_used").label("seats_used_30d_ago"),
        on(30, "dau").label("dau_30d_ago"),
        total("api_calls", config.api_projection_days).label("api_calls_7d"),
        total("api_calls", 30).label("api_calls_30d"),
        total("power_actions", aw).label("power_actions_window"),
        total("total_actions", aw).label("total_actions_window"),
        total("sessions", 7).label("sessions_7d"),
        total("session_minutes", 7).label("session_minutes_7d"),
        total("collaboration_events", 30).label("collaboration_events_30d"),
        total("admin_invites", 14).label("admin_invites_14d"),
        total("new_user_activations", 14).label("new_user_activations_14d"),
        total("reports_created", 30).label("reports_30d"),
        sa.cast(sa.func.sum(sa.case((in_prev_30, u.c.reports_created), else_=0)), sa.BigInteger()).label(
            "reports_prev_30d"
        ),
        sa.func.sum(sa.case((since(30), u.c.overage_amount), else_=0.0), type_=sa.Double()).label("overage_30d"),
        sa.cast(sa.func.sum(sa.case((sa.and_(since(30), u.c.payment_failed), 1), else_=0)), sa.BigInteger()).label(
            "payment_failed_30d"
        ),
        total("dau", 7).label("dau_7d"),
        sa.cast(sa.func.sum(sa.case((in_7d_30d_ago, u.c.dau), else_=0)), sa.BigInteger()).label("dau_7d_30d_ago"),
        sa.func.min(sa.case((since(7), u.c.dau))).label("dau_min_7d"),
        sa.func.count(sa.case((since(7), 1))).label("days_7d"),
        sa.cast(sa.func.sum(sa.case((in_baseline, u.c.dau), else_=0)), sa.BigInteger()).label("dau_baseline_sum"),
        sa.func.count(sa.case((in_baseline, 1))).label("dau_baseline_days"),
    ]
    window = sa.and_(since(history_days(config)), day <= date_literal(as_of))
    return sa.select(*columns).where(window).group_by(u.c.account_id).cte(name)


def metrics_select(config: ScoringConfig, as_of: date, cte_name: str = "usage_base") -> sa.Select[Any]:
    """SELECT one row per account with raw window values and the derived ratios triggers use.
    `cte_name`: distinct per day when several days' metrics share one statement (the trigger backtest)."""
    a = accounts_table(config)
    b = _base_aggregate(config, as_of, cte_name)
    seats = b.c.seats_used if config.seat_basis == "seats_used" else a.c.seat_limit
    period, proj = config.api_period_days, config.api_projection_days
    raw = [c for c in b.c if c.name != "account_id"]
    derived = [
        ratio(b.c.seats_used, a.c.seat_limit).label("seat_utilisation"),
        ratio(b.c.storage_used, a.c.storage_limit).label("storage_utilisation"),
        ratio(as_double(b.c.api_calls_7d) * period, as_double(a.c.api_limit) * proj).label("api_projected_utilisation"),
        (b.c.seats_used - b.c.seats_used_30d_ago).label("seat_growth_abs"),
        ratio(b.c.seats_used - b.c.seats_used_30d_ago, b.c.seats_used_30d_ago).label("seat_growth_pct"),
        ratio(b.c.dau_7d - b.c.dau_7d_30d_ago, b.c.dau_7d_30d_ago).label("dau_growth_pct"),
        ratio(b.c.dau_baseline_sum, b.c.dau_baseline_days).label("dau_baseline"),
        ratio(b.c.dau_min_7d * b.c.dau_baseline_days, b.c.dau_baseline_sum).label("dau_min_7d_vs_baseline"),
        ratio(b.c.reports_30d - b.c.reports_prev_30d, b.c.reports_prev_30d).label("reports_growth_pct"),
        ratio(b.c.wau, seats).label("wau_per_seat"),
        ratio(b.c.collaboration_events_30d, seats).label("collaboration_per_user"),
        ratio(b.c.session_minutes_7d, b.c.sessions_7d).label("session_minutes_avg_7d"),
        ratio(b.c.power_actions_window, b.c.total_actions_window).label("action_depth"),
        ratio(b.c.features_used, b.c.total_features).label("feature_breadth"),
    ]
    carried = [a.c[c] for c in CARRIED_ACCOUNT_COLUMNS]
    limits = [a.c.seat_limit, a.c.api_limit, a.c.storage_limit, as_double(a.c.mrr).label("mrr")]
    return sa.select(
        a.c.account_id,
        *carried,
        flag(a.c.is_premium == sa.true()).label("is_premium"),
        *limits,
        flag(b.c.rows_today > 0).label("has_usage"),
        *raw,
        *derived,
    ).select_from(a.outerjoin(b, a.c.account_id == b.c.account_id))
