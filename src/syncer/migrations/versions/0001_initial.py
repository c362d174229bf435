"""Initial state schema: synced records, rejects, runs, audit, leases.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "synced_records",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(1000), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("match_value", sa.String(1000)),
        sa.Column("dest_id", sa.String(200)),
        sa.Column("payload", sa.Text),
        sa.Column("run_id", sa.Integer),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "rejected_records",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(1000), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.Column("rejected_at", TS, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sync", sa.String(200), nullable=False, index=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("full", sa.Boolean, nullable=False, default=False),
        sa.Column("source_rows", sa.Integer, nullable=False, default=0),
        sa.Column("added", sa.Integer, nullable=False, default=0),
        sa.Column("changed", sa.Integer, nullable=False, default=0),
        sa.Column("removed", sa.Integer, nullable=False, default=0),
        sa.Column("unchanged", sa.Integer, nullable=False, default=0),
        sa.Column("succeeded", sa.Integer, nullable=False, default=0),
        sa.Column("failed", sa.Integer, nullable=False, default=0),
        sa.Column("rejected", sa.Integer, nullable=False, default=0),
        sa.Column("api_calls", sa.Integer, nullable=False, default=0),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False, index=True),
        sa.Column("sync", sa.String(200), nullable=False),
        sa.Column("key", sa.String(1000), nullable=False),
        sa.Column("op", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("dest_id", sa.String(200)),
        sa.Column("reason", sa.Text),
        sa.Column("payload", sa.Text),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_audit_sync_key", "audit", ["sync", "key"])
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
