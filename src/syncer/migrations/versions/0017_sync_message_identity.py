"""When this state stopped giving its syncs' Slack and email messages the previous identity.

Before 0017 a sync record's "already delivered?" identity at Slack and email was its row key and content
fingerprint alone: the same mapping in another project, or in another sync of this one, was taken as
delivered and its message never sent. From 0017 the identity is the record's idempotency key, which
carries the project, the sync, the key and the fingerprint (syncer.runner.idempotency_key).

A state upgraded here that ran syncs before keeps one row in `project_identity`:
`name = "sync_identity_since"`, `value` = this moment in epoch seconds. A message posted before then
under the previous identity, by a sync that ran before then, still counts as that sync's (a crash
between Slack's acknowledgement and the state write, then the upgrade, must not post it again;
syncer.project.previous_identity). A state created here (no runs) has no such row: nothing it could
find under the previous identity is its own.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    conn = op.get_bind()
    if conn.scalar(sa.text("SELECT COUNT(*) FROM runs")):
        insert = sa.text("INSERT INTO project_identity (name, value) VALUES ('sync_identity_since', :value)")
        conn.execute(insert.bindparams(value=f"{time.time():.6f}"))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM project_identity WHERE name = 'sync_identity_since'"))
