"""A synthetic world: accounts, 90 days of usage and each account's hidden propensity to expand.

Python draws a few parameters per account (archetype, limits, trends) with a seeded RNG; the daily
rows are then generated *inside the warehouse* by one INSERT ... SELECT (synthetic_sql.py) using only
integer arithmetic, so the same seed gives byte-identical inputs on every dialect and 100,000 x 90
days is a single statement on DuckDB.
"""

from __future__ import annotations

import csv
import random
import tempfile
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncer.scoring.contract import ground_truth_table, input_tables
from syncer.scoring.model import ScoringConfig
from syncer.scoring.synthetic_sql import (
    PARAM_COLUMNS,
    days_table,
    params_table,
    stage_insert,
    stage_table,
    usage_insert,
)

# archetype -> (share of accounts, base propensity to expand)
ARCHETYPES: dict[str, tuple[float, float]] = {
    "steady": (0.33, 0.12),
    "growing": (0.12, 0.60),
    "near_seat_limit": (0.10, 0.70),
    "declining": (0.12, 0.04),
    "premium_explorer": (0.08, 0.55),
    "api_heavy": (0.08, 0.50),
    "storage_heavy": (0.07, 0.45),
    "team_expansion": (0.06, 0.65),
    "billing_pressure": (0.04, 0.40),
}
TIERS = (
    ("free", 5, 10_000, 2_000, 0.0),
    ("starter", 20, 100_000, 20_000, 400.0),
    ("growth", 75, 500_000, 100_000, 2_500.0),
    ("enterprise", 400, 3_000_000, 1_000_000, 18_000.0),
)


# A calmer book of business for the demo: most accounts steady, a few percent in each expansion pattern,
# so triggers fire on a few percent of accounts a day instead of on most of them.
REALISTIC_MIX: dict[str, float] = {
    "steady": 0.80,
    "growing": 0.03,
    "near_seat_limit": 0.03,
    "declining": 0.06,
    "premium_explorer": 0.02,
    "api_heavy": 0.02,
    "storage_heavy": 0.015,
    "team_expansion": 0.015,
    "billing_pressure": 0.01,
}


def _draw(
    rng: random.Random, n: int, days: int, mix: dict[str, float] | None = None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(account row, generator params, ground truth) for account number n; `mix` overrides the archetype shares."""
    shares = mix or {name: share for name, (share, _) in ARCHETYPES.items()}
    arche = rng.choices(list(ARCHETYPES), weights=[shares.get(name, 0.0) for name in ARCHETYPES])[0]
    tier, seat_limit, api_limit, storage_limit, price = TIERS[rng.choices(range(4), weights=[25, 40, 25, 10])[0]]
    seat_limit = max(3, int(seat_limit * rng.uniform(0.6, 1.6)))
    fill = {"near_seat_limit": rng.uniform(0.72, 0.95), "declining": rng.uniform(0.4, 0.8)}.get(
        arche, rng.uniform(0.2, 0.7)
    )
    seats0 = max(1, int(seat_limit * fill))
    slopes = {"growing": rng.randint(20, 60), "team_expansion": rng.randint(10, 40), "declining": -rng.randint(5, 30)}
    slope = slopes.get(arche, rng.randint(-3, 5))
    if arche == "near_seat_limit":
        slope = rng.randint(0, 8)
    api0 = int(api_limit / 30 * (rng.uniform(0.55, 0.8) if arche == "api_heavy" else rng.uniform(0.05, 0.4)))
    storage_frac = rng.uniform(0.6, 0.85) if arche == "storage_heavy" else rng.uniform(0.05, 0.5)
    total_features = rng.choice([20, 25, 30])
    premium = rng.randint(3, 6) if arche == "premium_explorer" or tier == "enterprise" else rng.randint(0, 2)
    params = {
        "n": n,
        "account_id": f"acc_{n:06d}",
        "seats0": seats0 * 100,
        "seat_limit": seat_limit,
        "seat_slope": slope * max(1, seat_limit // 50),
        "dau_pm": rng.randint(250, 650),
        "dau_slope_pm": {"growing": rng.randint(100, 300), "declining": -rng.randint(100, 250)}.get(
            arche, rng.randint(-30, 30)
        ),
        "wau_pm": rng.randint(550, 950),
        "api0": api0,
        "api_slope": int(api0 * rng.uniform(0.002, 0.01)) if arche in ("api_heavy", "growing") else 0,
        "storage0": int(storage_limit * storage_frac),
        "storage_slope": int(storage_limit * rng.uniform(0, 0.002)),
        "total_features": total_features,
        "features0": rng.randint(2, total_features // 2),
        "feature_slope": rng.randint(0, 10),
        "premium_features": premium,
        "premium_start": rng.randint(0, days - 1),
        "power_users_adv": rng.randint(3, 8) if premium >= 3 else rng.randint(0, 2),
        "actions_per_user": rng.randint(8, 40),
        "power_pct": rng.randint(5, 45),
        "session_min": rng.randint(6, 45),
        "collab_pm": rng.randint(200, 4000),
        "integrations": rng.randint(0, 5),
        "invite_pm": 180 if arche == "team_expansion" else rng.randint(0, 40),
        "activation_pm": 450 if arche == "team_expansion" else rng.randint(0, 80),
        "onboarding0": rng.randint(100, 900),
        "onboarding_slope": rng.randint(0, 8),
        "reports0": rng.randint(0, 20),
        "reports_slope": rng.randint(10, 40) if arche == "growing" else rng.randint(-3, 3),
        "overage_daily": rng.randint(15, 60) if arche == "billing_pressure" else 0,
        "payment_fail_pm": 60 if arche == "billing_pressure" else 1,
    }
    account = {
        "account_id": params["account_id"],
        "name": f"Account {n}",
        "plan_tier": tier,
        "segment": "enterprise" if tier == "enterprise" else ("mid_market" if tier == "growth" else "smb"),
        "is_premium": tier == "enterprise",
        "seat_limit": seat_limit,
        "api_limit": api_limit,
        "storage_limit": storage_limit,
        "mrr": round(price * rng.uniform(0.8, 1.5), 2),
        "owner_email": f"owner{n % 40}@example.com",
        "sf_account_id": f"001{n:015d}",
        "hs_company_domain": f"account{n}.example.com",
    }
    base = ARCHETYPES[arche][1]
    propensity = min(0.97, max(0.01, base + rng.gauss(0, 0.08)))
    truth = {
        "account_id": params["account_id"],
        "archetype": arche,
        "propensity": round(propensity, 4),
        "will_expand": rng.random() < propensity,
    }
    return account, params, truth


def _chunks(rows: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Multi-row INSERT ... VALUES in chunks (within sqlite's variable cap); DuckDB loads a CSV instead."""
    if conn.dialect.name == "duckdb":
        _load_csv_duckdb(conn, table, rows)
        return
    size = max(1, 30_000 // max(1, len(table.columns)))
    for chunk in _chunks(rows, size):
        conn.execute(table.insert().values(list(chunk)))


def _load_csv_duckdb(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """DuckDB binds parameters slowly (minutes for 100k wide rows); its CSV reader takes seconds."""
    names = [c.name for c in table.columns]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(names)
            writer.writerows([row.get(name) for name in names] for row in rows)
        types = {c.name: c.type.compile(conn.dialect) for c in table.columns}
        select = ", ".join(f"CAST(NULLIF(\"{n}\", '') AS {types[n]})" for n in names)
        source = f"read_csv('{path}', header = true, all_varchar = true)"
        target = conn.dialect.identifier_preparer.format_table(table)
        conn.exec_driver_sql(f"INSERT INTO {target} ({', '.join(names)}) SELECT {select} FROM {source}")


def build_world(
    engine: sa.Engine,
    accounts: int = 3000,
    days: int = 90,
    seed: int = 1,
    as_of: date | None = None,
    config: ScoringConfig | None = None,
    mix: dict[str, float] | None = None,
) -> date:
    """Create accounts, usage_daily and ground_truth (replacing them); returns the last usage day.

    `mix` (archetype -> share, e.g. REALISTIC_MIX) replaces ARCHETYPES' shares; the default keeps them."""
    config = config or ScoringConfig()
    as_of = as_of or date(2025, 6, 30)
    rng = random.Random(seed)
    drawn = [_draw(rng, n, days, mix) for n in range(1, accounts + 1)]
    md = sa.MetaData()
    acc_t, usage_t = input_tables(config, md)
    truth_t, params_t, days_t = ground_truth_table(config, md), params_table(config, md), days_table(config, md)
    stage_t = stage_table(config, md)
    with engine.begin() as conn:
        md.drop_all(conn)
        md.create_all(conn)
        insert_rows(conn, acc_t, [a for a, _, _ in drawn])
        insert_rows(conn, truth_t, [t for _, _, t in drawn])
        insert_rows(conn, params_t, [{c: p[c] for c in PARAM_COLUMNS} for _, p, _ in drawn])
        first = as_of - timedelta(days=days - 1)
        insert_rows(
            conn,
            days_t,
            [
                {"t": t, "day": first + timedelta(days=t), "weekend": int((first + timedelta(days=t)).weekday() >= 5)}
                for t in range(days)
            ],
        )
        conn.execute(stage_insert(stage_t, params_t, days_t))
        conn.execute(usage_insert(usage_t, stage_t))
        for scratch in (stage_t, params_t, days_t):
            scratch.drop(conn)
    return as_of
