"""Suppressed keys (`syncer forget KEY --suppress`): a hash of the key per sync, skipped by the diff
until the row leaves the model.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "suppressed_keys",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("suppressed_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("suppressed_keys")
