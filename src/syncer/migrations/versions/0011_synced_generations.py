"""A generation token per sync, replaced by a trigger on every write to its synced records.

The columnar diff keeps a sidecar file of (key hash, source fingerprint) per sync and trusts it
only while the token it recorded is still the sync's token (syncer.columnar.sidecar). Triggers,
not application code, replace the token, so every writer is covered: acknowledged batches,
deletes, refreshed source fingerprints, `forget`, suppressions, `state rebuild`, a hand-run SQL
statement. The token is random, not a counter, so a state restored from a backup (or rebuilt)
never matches a sidecar written from another history.

Caution for later migrations: SQLite `batch_alter_table("synced_records")` copies the table and
drops its triggers; such a migration must re-create them (`create_triggers`).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"

OPS = {"insert": ("INSERT", "NEW"), "update": ("UPDATE", "NEW"), "delete": ("DELETE", "OLD")}
# PostgreSQL's random() is a double with 52 random bits; two of them fill a bigint's 63
PG_TOKEN = "(floor(random() * 2147483648)::bigint << 31) # floor(random() * 2147483648)::bigint"


def create_triggers(dialect: str) -> None:
    if dialect == "sqlite":
        for name, (event, row) in OPS.items():
            op.execute(
                f"CREATE TRIGGER synced_generation_{name} AFTER {event} ON synced_records BEGIN "
                f"INSERT INTO synced_generations (sync, token) VALUES ({row}.sync, random()) "
                "ON CONFLICT (sync) DO UPDATE SET token = random(); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION synced_generation() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "DECLARE s text := CASE WHEN TG_OP = 'DELETE' THEN OLD.sync ELSE NEW.sync END; BEGIN "
            f"INSERT INTO synced_generations (sync, token) VALUES (s, {PG_TOKEN}) "
            f"ON CONFLICT (sync) DO UPDATE SET token = {PG_TOKEN}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER synced_generation AFTER INSERT OR UPDATE OR DELETE ON synced_records "
            "FOR EACH ROW EXECUTE FUNCTION synced_generation()"
        )


def upgrade() -> None:
    op.create_table(
        "synced_generations",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("token", sa.BigInteger, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    token = {"sqlite": "random()", "postgresql": PG_TOKEN}.get(dialect)
    if token is not None:
        op.execute(
            f"INSERT INTO synced_generations (sync, token) SELECT sync, {token} "
            "FROM (SELECT DISTINCT sync FROM synced_records) AS syncs"
        )
    create_triggers(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in OPS:
            op.execute(f"DROP TRIGGER IF EXISTS synced_generation_{name}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS synced_generation ON synced_records")
        op.execute("DROP FUNCTION IF EXISTS synced_generation()")
    op.drop_table("synced_generations")
