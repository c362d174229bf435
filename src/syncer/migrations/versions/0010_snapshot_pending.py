"""Keys whose warehouse snapshot row may lag local state (`diff = "warehouse"`), so a run heals only those.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "snapshot_pending",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(1000), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("snapshot_pending")
