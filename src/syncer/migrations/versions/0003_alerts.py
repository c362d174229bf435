"""Alert engine tables: alert lifecycle, outbox, digest queue, digests, evaluations, Slack user cache.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_pairs",
        sa.Column("account_id", sa.String(300), primary_key=True),
        sa.Column("trigger", sa.String(200), primary_key=True),
        sa.Column("open_alert_id", sa.Integer),
        sa.Column("last_alert_id", sa.Integer),
        sa.Column("quiet_evals", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_value", sa.Float),
        sa.Column("seen_seq", sa.Integer),
        sa.Column("last_seen_at", TS),
    )
    op.create_index("ix_alert_pairs_open", "alert_pairs", ["open_alert_id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(600), nullable=False, unique=True),
        sa.Column("account_id", sa.String(300), nullable=False),
        sa.Column("trigger", sa.String(200), nullable=False),
        sa.Column("priority", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("delivery", sa.String(20), nullable=False),
        sa.Column("owner_email", sa.String(320)),
        sa.Column("owner_slack_id", sa.String(50)),
        sa.Column("channel", sa.String(50)),
        sa.Column("rule", sa.String(200)),
        sa.Column("fallback_reason", sa.Text),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("last_seen_at", TS),
        sa.Column("cleared_at", TS),
        sa.Column("task_state", sa.String(20), nullable=False, server_default="none"),
        sa.Column("task_checked_at", TS),
        sa.Column("worked_at", TS),
        sa.Column("escalated_at", TS),
    )
    op.create_index("ix_alerts_status", "alerts", ["status", "priority"])
    op.create_table(
        "alert_outbox",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("alert_id", sa.Integer),
        sa.Column("recipient", sa.String(100)),
        sa.Column("seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("dest_id", sa.String(300)),
        sa.Column("reason", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS),
    )
    op.create_index("ix_alert_outbox_pending", "alert_outbox", ["status", "kind"])
    op.create_index("ix_alert_outbox_alert", "alert_outbox", ["alert_id"])
    op.create_table(
        "alert_digest_queue",
        sa.Column("alert_id", sa.Integer, primary_key=True),
        sa.Column("recipient", sa.String(100), nullable=False),
        sa.Column("queued_at", TS, nullable=False),
        sa.Column("digest", sa.String(300)),
    )
    op.create_index("ix_alert_digest_queue_recipient", "alert_digest_queue", ["digest", "recipient"])
    op.create_table(
        "alert_digests",
        sa.Column("recipient", sa.String(100), primary_key=True),
        sa.Column("local_date", sa.String(10), primary_key=True),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("alerts", sa.Integer, nullable=False),
        sa.Column("frozen_at", TS, nullable=False),
    )
    op.create_table(
        "alert_evaluations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("rows", sa.Integer),
        sa.Column("opened", sa.Integer),
        sa.Column("cleared", sa.Integer),
        sa.Column("suppressed", sa.Integer),
    )
    op.create_table(
        "alert_slack_users",
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("user_id", sa.String(50)),
        sa.Column("checked_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "alert_slack_users",
        "alert_evaluations",
        "alert_digests",
        "alert_digest_queue",
        "alert_outbox",
        "alerts",
        "alert_pairs",
    ):
        op.drop_table(table)
