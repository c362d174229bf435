"""Daemon tables: scheduled slots claimed by replicas, and ops-alert state.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # One row per (job, scheduled fire time): which replica ran it and how it ended. The primary
    # key makes "each slot runs once across replicas" a database fact, not a timing accident.
    op.create_table(
        "job_slots",
        sa.Column("job", sa.String(200), primary_key=True),
        sa.Column("slot", sa.String(80), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),  # running | done | failed | stopped
        sa.Column("run_id", sa.Integer),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
    )
    op.create_index("ix_job_slots_started", "job_slots", ["started_at"])
    # Current state of each ops alert (e.g. "accounts:failed"), so an alert fires once per change.
    op.create_table(
        "ops_alert_state",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),  # ok | firing
        sa.Column("detail", sa.Text),
        sa.Column("changed_at", TS, nullable=False),
    )
