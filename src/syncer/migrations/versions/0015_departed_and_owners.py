"""Records that left the model outside mirror mode, and which project runs each sync.

`departed_records`: a record a sync wrote whose row left the model while the sync's mode does not delete
(upsert, update, insert). The destination still holds it, so state keeps it (syncer.departed) instead of
forgetting it: not sent again, not counted as live, deleted by a later mirror run (under the delete guard),
matched to its record when its row comes back. Same columns as `synced_records`, plus when it left.

`sync_owners`: per sync, the project that runs it (syncer.ownership): two configs sharing one state store
with a sync of the same name would delete and re-send each other's records; a run of a sync another project
owns is refused.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    op.create_table(
        "departed_records",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(1000), primary_key=True),
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("match_value", sa.String(1000)),
        sa.Column("dest_id", sa.String(200)),
        sa.Column("payload", sa.Text),
        sa.Column("run_id", sa.Integer),
        sa.Column("synced_at", sa.DateTime(timezone=True)),
        sa.Column("source_fp", sa.String(64)),
        sa.Column("destination", sa.String(32)),
        sa.Column("departed_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "sync_owners",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("described", sa.String(500), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_owners")
    op.drop_table("departed_records")
