"""Hand-built inputs: a few accounts with daily usage whose values the test spells out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from syncer.scoring.contract import input_tables
from syncer.scoring.model import ScoringConfig
from syncer.scoring.synthetic import insert_rows

AS_OF = date(2025, 3, 31)
HISTORY = 65

QUIET_USAGE: dict[str, Any] = {
    "seats_used": 10, "dau": 5, "wau": 6, "api_calls": 10, "storage_used": 10, "features_used": 5,
    "total_features": 20, "premium_features_used": 0, "power_users_advanced": 0, "power_actions": 10,
    "total_actions": 100, "sessions": 10, "session_minutes": 100, "collaboration_events": 1,
    "active_integrations": 1, "admin_invites": 0, "new_user_activations": 0, "reports_created": 10,
    "onboarding_pct": 0.5, "overage_amount": 0.0, "payment_failed": False,
}  # fmt: skip
QUIET_ACCOUNT: dict[str, Any] = {
    "name": "x", "plan_tier": "growth", "segment": "smb", "is_premium": False, "seat_limit": 100,
    "api_limit": 1_000_000, "storage_limit": 1000, "mrr": 1000.0, "owner_email": "ae@example.com",
    "sf_account_id": None, "hs_company_domain": None,
}  # fmt: skip

DayFn = Callable[[int], dict[str, Any]]  # days before as_of -> column overrides


def account(account_id: str, usage: DayFn | None = None, **overrides: Any) -> tuple[dict[str, Any], DayFn]:
    return {**QUIET_ACCOUNT, "account_id": account_id, **overrides}, usage or (lambda _ago: {})


def write_inputs(
    engine: sa.Engine,
    accounts: list[tuple[dict[str, Any], DayFn]],
    as_of: date = AS_OF,
    history: int = HISTORY,
    config: ScoringConfig | None = None,
) -> None:
    """(Re)create accounts + usage_daily with one row per account per day for `history` days."""
    md = sa.MetaData()
    acc_t, usage_t = input_tables(config or ScoringConfig(), md)
    rows = []
    for acc, fn in accounts:
        for ago in range(history):
            rows.append({**QUIET_USAGE, "account_id": acc["account_id"], "day": as_of - timedelta(days=ago), **fn(ago)})
    with engine.begin() as conn:
        md.drop_all(conn)
        md.create_all(conn)
        insert_rows(conn, acc_t, [a for a, _ in accounts])
        insert_rows(conn, usage_t, rows)


def fired(engine: sa.Engine, table: str = "fired_triggers") -> set[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT account_id, {quote(engine, 'trigger')} FROM {table}"))
        return {(r[0], r[1]) for r in rows}


def quote(engine: sa.Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote(name)


def scores(engine: sa.Engine, table: str = "account_scores") -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(sa.text(f"SELECT * FROM {table}"))
        return {r["account_id"]: dict(r) for r in result.mappings()}
