"""The input contract as SQLAlchemy tables (docs/input-contract.md explains each column).

Used to create the inputs in tests, the synthetic world and the benchmark; a real warehouse only
needs tables with these column names and compatible types (it does not need these exact DDLs).
"""

from __future__ import annotations

import sqlalchemy as sa

from syncer.scoring.model import ScoringConfig


def input_tables(config: ScoringConfig, metadata: sa.MetaData | None = None) -> tuple[sa.Table, sa.Table]:
    """(accounts, usage_daily) bound to `metadata` under the configured names."""
    md = metadata if metadata is not None else sa.MetaData()
    schema = config.tables.schema_
    accounts = sa.Table(
        config.tables.accounts,
        md,
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200)),
        sa.Column("plan_tier", sa.String(40)),
        sa.Column("segment", sa.String(40)),
        sa.Column("is_premium", sa.Boolean(), nullable=False),
        sa.Column("seat_limit", sa.BigInteger()),
        sa.Column("api_limit", sa.BigInteger()),  # calls per billing period (month)
        sa.Column("storage_limit", sa.BigInteger()),  # same unit as usage_daily.storage_used (MB)
        sa.Column("mrr", sa.Double()),
        sa.Column("owner_email", sa.String(200)),
        sa.Column("sf_account_id", sa.String(18)),
        sa.Column("hs_company_domain", sa.String(200)),
        schema=schema,
    )
    ints = [
        "seats_used", "dau", "wau", "api_calls", "storage_used", "features_used", "total_features",
        "premium_features_used", "power_users_advanced", "power_actions", "total_actions", "sessions",
        "session_minutes", "collaboration_events", "active_integrations", "admin_invites",
        "new_user_activations", "reports_created",
    ]  # fmt: skip
    usage = sa.Table(
        config.tables.usage_daily,
        md,
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        *[sa.Column(name, sa.BigInteger(), nullable=False, server_default="0") for name in ints],
        sa.Column("onboarding_pct", sa.Double()),
        sa.Column("overage_amount", sa.Double()),
        sa.Column("payment_failed", sa.Boolean()),
        schema=schema,
    )
    return accounts, usage


def ground_truth_table(config: ScoringConfig, metadata: sa.MetaData) -> sa.Table:
    """Synthetic worlds only: each account's hidden propensity to expand."""
    return sa.Table(
        "ground_truth",
        metadata,
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("archetype", sa.String(40)),
        sa.Column("propensity", sa.Double()),
        sa.Column("will_expand", sa.Boolean()),
        schema=config.tables.schema_,
    )
