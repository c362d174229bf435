"""Destination jobs a run created that the destination may still be processing (syncer.open_jobs).

`open_jobs`: one row per job (a Salesforce Bulk API 2.0 ingest job), written after the job is created and
before its data is uploaded, deleted once its results are read (or it was aborted before processing).
`records` holds what the job carries, enough to acknowledge or reject each record in state as the run that
made it would have (key, op, fingerprint, match value, destination id, the values sent). A run of the sync
settles its rows before it writes anything: a job Salesforce finished after its run ended is read, one still
running holds its records back (never written again by a second job while it runs).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"


def upgrade() -> None:
    op.create_table(
        "open_jobs",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("job_id", sa.String(200), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.Column("destination", sa.String(32)),
        sa.Column("records", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("open_jobs")
