"""Destination addresses as syncer.destinations now keeps them: normalised, and without their path.

Migration 0014's definitions held the address as written (its path included: a Slack incoming webhook's
path is its secret) and a digest of the raw text (a rotated `?token=` was a new destination). Each stored
definition is rewritten the way `DestinationDefinition.of` builds one now (`normal_address`,
`shown_address`; Salesforce: its one org URL, the first address 0014 showed, a bare domain value as
https://{domain}.salesforce.com), and the records, rejections and departed records under the old digest
move to the new one. Definitions that now name the same place (they differed only by a token in the URL)
merge. No record is re-sent: its source fingerprint's spec holds the digest, so the next run maps each row
once more and finds its payload unchanged.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from syncer.destinations import DestinationDefinition, is_shown, legacy_address

revision = "0016"
down_revision = "0015"

RECORD_TABLES = ("synced_records", "rejected_records", "departed_records")


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT sync, digest, definition, first_used FROM sync_destinations")).all()
    kept = {(sync, digest) for sync, digest, text, _ in rows if is_shown(json.loads(text)["address"])}
    for sync, digest, text, first_used in rows:
        old = json.loads(text)
        if (sync, digest) in kept:
            continue  # written in this form already
        new = DestinationDefinition.of(
            old["connector"], legacy_address(old["connector"], old["address"]), old["object"], "upsert", ""
        )
        new = DestinationDefinition(
            new.connector, new.address, new.address_fp, old["object"], old["op"], old["match_field"]
        )
        params = {"sync": sync, "old": digest, "new": new.digest}
        for table in RECORD_TABLES:
            conn.execute(
                sa.text(f'UPDATE "{table}" SET destination = :new WHERE sync = :sync AND destination = :old'), params
            )
        conn.execute(sa.text("DELETE FROM sync_destinations WHERE sync = :sync AND digest = :old"), params)
        if (sync, new.digest) in kept:
            continue  # merged into a definition that names the same place
        kept.add((sync, new.digest))
        conn.execute(
            sa.text(
                "INSERT INTO sync_destinations (sync, digest, definition, first_used) "
                "VALUES (:sync, :new, :definition, :first_used)"
            ),
            {**params, "definition": new.as_json(), "first_used": first_used},
        )


def downgrade() -> None:
    pass  # the raw addresses are gone for good (that is the point); 0014's code reads these definitions
