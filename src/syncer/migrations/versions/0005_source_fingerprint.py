"""Source fingerprint on synced records: unchanged source rows skip mapping entirely.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("synced_records") as batch:
        batch.add_column(sa.Column("source_fp", sa.String(64)))
