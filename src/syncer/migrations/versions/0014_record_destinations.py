"""Where and how each record was written: the sync's destination definition, per record.

`synced_records.destination` and `rejected_records.destination` hold the digest of the destination
definition (connector type, its non-secret address, object, write operation, match field) the
record was acknowledged or rejected under (syncer.destinations); `sync_destinations` maps a
sync's digests to their definitions, so a plan can say what changed. Rows written by an older
release have NULL: the first run after the upgrade takes them as written under the definition
it runs with (`StateStore.adopt_destination`), so the upgrade itself re-sends nothing.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    op.add_column("synced_records", sa.Column("destination", sa.String(32)))  # no batch copy: triggers stay
    op.add_column("rejected_records", sa.Column("destination", sa.String(32)))
    op.create_table(
        "sync_destinations",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("digest", sa.String(32), primary_key=True),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("first_used", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_destinations")
    op.drop_column("rejected_records", "destination")  # ALTER TABLE DROP COLUMN (SQLite 3.35+): triggers stay
    op.drop_column("synced_records", "destination")
