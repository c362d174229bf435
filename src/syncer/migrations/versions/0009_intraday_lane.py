"""Intraday lane and event-to-action latency: the lane's watermark, each alert's lane and action times.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"

TS = sa.DateTime(timezone=True)
COLUMNS = ("pinged_at", "emailed_at", "task_created_at", "action_at")


def upgrade() -> None:
    op.create_table(
        "intraday_watermarks",
        sa.Column("lane", sa.String(50), primary_key=True),
        sa.Column("watermark", TS),
        sa.Column("evaluated_at", TS),
        sa.Column("accounts", sa.Integer),
    )
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("lane", sa.String(20)))
        for name in COLUMNS:
            batch.add_column(sa.Column(name, TS))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        for name in (*COLUMNS, "lane"):
            batch.drop_column(name)
    op.drop_table("intraday_watermarks")
