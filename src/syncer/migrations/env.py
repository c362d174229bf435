"""Alembic environment: syncer passes its own connection in; there is no alembic.ini.

Every migration runs in its own transaction together with its `alembic_version` stamp
(`transaction_per_migration`), so a process killed mid-upgrade leaves the database at the previous
version with nothing of the cut-off step: the next start simply runs that step again. SQLite
supports transactional DDL, but alembic assumes it does not and pysqlite autocommits DDL; the
connection StateStore hands over is set up to BEGIN explicitly (state.migration_engine).
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=True,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
