"""Ops alert flap damping (syncer.ops_alerts): what an alert's state needs to summarise a flapping condition.

`ops_alert_state` gains three columns: `seen_at` (the last observation that found the condition firing),
`count` (firing observations since the last message) and `notified_at` (when the last message went out:
a reminder waits `remind_every` from it). Existing rows keep their state; their `notified_at` is their
`changed_at`, `count` 0.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    with op.batch_alter_table("ops_alert_state") as batch:
        batch.add_column(sa.Column("seen_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("count", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("notified_at", sa.DateTime(timezone=True)))
    op.execute(sa.text("UPDATE ops_alert_state SET notified_at = changed_at, seen_at = changed_at"))


def downgrade() -> None:
    with op.batch_alter_table("ops_alert_state") as batch:
        batch.drop_column("notified_at")
        batch.drop_column("count")
        batch.drop_column("seen_at")
