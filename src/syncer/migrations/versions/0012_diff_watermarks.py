"""Per sync, the `updated_at` watermark of its last acknowledged warehouse diff (`model.updated_at`).

`watermark`: the highest `updated_at` the run read, as the warehouse returned it, in a typed text form
(`syncer.warehouse_diff.watermark` encodes it losslessly); `spec`: the digest of the mapping and model
it was read under (another digest: the next diff is a full one); `full_diff_at`: when the last full diff
ran (an incremental diff older than `model.full_diff_every` runs the full statement instead).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_table(
        "diff_watermarks",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("watermark", sa.String(200), nullable=False),
        sa.Column("spec", sa.String(64), nullable=False),
        sa.Column("full_diff_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("diff_watermarks")
