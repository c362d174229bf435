"""The project's identity, and the identity each alert outbox row was delivered under.

`project_identity`: one row, `name = "project"`, whose `value` is a random id minted here, when the
state is created or upgraded (syncer.project). It scopes every "already delivered?" identity (Slack
message metadata, email Message-ID, CRM task key, webhook idempotency key), so two projects posting
through one Slack app, mailbox or CRM never take each other's message for their own.

`alert_outbox.scope`: the project id a row was frozen under. Rows frozen by an earlier release have
none (NULL) and keep that release's identity, so a rerun after the upgrade finds what it posted.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.create_table(
        "project_identity",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.String(64), nullable=False),
    )
    op.execute(
        sa.text("INSERT INTO project_identity (name, value) VALUES ('project', :value)").bindparams(
            value=secrets.token_hex(8)
        )
    )
    op.add_column("alert_outbox", sa.Column("scope", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("alert_outbox") as batch:
        batch.drop_column("scope")
    op.drop_table("project_identity")
