"""Ping budgets, quiet first activation, holdout groups and trigger canaries (issue 14).

alerts.expected_value    conversion x expansion potential: who gets the day's ping budget first
alerts.holdout           1 = held out (recorded, nobody pinged or tasked): the control group
alerts.canary            "" (current definition) | "canary" (the changed definition's share)
alert_digest_queue.reason  null | deferred (over the ping budget) | backlog (above at activation)
alert_trigger_activations  one row per trigger: the definition fingerprint it was activated with
alert_trigger_rates        per trigger: matured / converted alerts, written by the outcomes report

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("expected_value", sa.Float))
        batch.add_column(sa.Column("holdout", sa.Integer, server_default="0"))
        batch.add_column(sa.Column("canary", sa.String(20), server_default=""))
    with op.batch_alter_table("alert_digest_queue") as batch:
        batch.add_column(sa.Column("reason", sa.String(20)))
    op.create_table(
        "alert_trigger_activations",
        sa.Column("trigger", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("activated_at", TS, nullable=False),
        sa.Column("evaluation", sa.Integer),
    )
    op.create_table(
        "alert_trigger_rates",
        sa.Column("trigger", sa.String(200), primary_key=True),
        sa.Column("matured", sa.Integer, nullable=False),
        sa.Column("converted", sa.Integer, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_trigger_rates")
    op.drop_table("alert_trigger_activations")
    with op.batch_alter_table("alert_digest_queue") as batch:
        batch.drop_column("reason")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("canary")
        batch.drop_column("holdout")
        batch.drop_column("expected_value")
