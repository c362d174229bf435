"""Tier actions, SLA tracking and the email channel: alert columns, email digest queue and digests.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

TS = sa.DateTime(timezone=True)
COLUMNS = (
    ("tier", sa.String(50)),
    ("actions", sa.Text),
    ("sla_hours", sa.Float),
    ("signal_at", TS),
    ("email_to", sa.Text),
    ("email_error", sa.Text),
)


def upgrade() -> None:
    for name, kind in COLUMNS:
        op.add_column("alerts", sa.Column(name, kind))
    op.create_index("ix_alerts_tier", "alerts", ["tier", "opened_at"])
    op.create_table(
        "alert_email_queue",
        sa.Column("alert_id", sa.Integer, primary_key=True),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("queued_at", TS, nullable=False),
        sa.Column("digest", sa.String(400)),
    )
    op.create_index("ix_alert_email_queue_address", "alert_email_queue", ["digest", "address"])
    op.create_table(
        "alert_email_digests",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("local_date", sa.String(10), primary_key=True),
        sa.Column("alerts", sa.Integer, nullable=False),
        sa.Column("frozen_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_email_digests")
    op.drop_table("alert_email_queue")
    op.drop_index("ix_alerts_tier", "alerts")
    with op.batch_alter_table("alerts") as batch:
        for name, _ in COLUMNS:
            batch.drop_column(name)
