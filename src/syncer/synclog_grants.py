"""What `syncer check` says about `[daemon.synclog]` before any run: the grant the warehouse user
lacks to create the sync log's schema or tables, or to write them, as the statement that fixes it.

PostgreSQL answers from its catalog (`has_database_privilege`, `has_schema_privilege`,
`has_table_privilege`), so nothing is created or written by the check. Warehouses without such
functions here (DuckDB, SQLite) have no grants to miss; on the others (Snowflake, BigQuery) the
first copy reports the missing grant in the daemon's log (SyncLog.ensure_tables).
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import ValidationError

from syncer.config import Config
from syncer.errors import ConfigIssue
from syncer.secrets import masked_first_line
from syncer.synclog import SynclogSettings


def config_issues(config: Config) -> list[ConfigIssue]:
    """`grant_problems` for config.toml's `[daemon.synclog]`, keyed `daemon.synclog`; none without it."""
    raw = (config.raw.get("daemon") or {}).get("synclog")
    if not isinstance(raw, dict):
        return []
    try:
        settings = SynclogSettings.model_validate(raw)
    except ValidationError:
        return []  # the [daemon] validation reports it, with its keys
    warehouse = sa.create_engine(config.warehouse.url, connect_args=config.warehouse.connect_args, hide_parameters=True)
    try:
        problems = grant_problems(warehouse, settings)
    except sa.exc.DBAPIError as exc:
        problems = [f"cannot read the warehouse user's privileges: {masked_first_line(str(exc.orig))}"]
    finally:
        warehouse.dispose()
    return [ConfigIssue(str(config.path), "daemon.synclog", p) for p in problems]


def grant_problems(warehouse: sa.Engine, settings: SynclogSettings) -> list[str]:
    """One message per missing privilege, each with the GRANT (or CREATE) that fixes it."""
    if warehouse.dialect.name != "postgresql":
        return []
    quote = warehouse.dialect.identifier_preparer.quote
    with warehouse.connect() as conn:
        user, database, current = conn.execute(
            sa.text("SELECT current_user, current_database(), current_schema()")
        ).one()
        schema = settings.schema_ or current
        inspector = sa.inspect(conn)

        def may(sql: str, **params: str) -> bool:
            return bool(conn.scalar(sa.text(sql), params))

        if not inspector.has_schema(schema):
            if may("SELECT has_database_privilege(current_database(), 'CREATE')"):
                return []  # the first copy creates it
            return [
                f"schema {schema!r} does not exist and warehouse user {user!r} may not create "
                f"it: GRANT CREATE ON DATABASE {quote(database)} TO {quote(user)}; "
                f"or create it: CREATE SCHEMA {quote(schema)} AUTHORIZATION {quote(user)}"
            ]
        if not may("SELECT has_schema_privilege(:s, 'USAGE')", s=schema):
            return [f"warehouse user {user!r} may not use schema {schema!r}: "
                    f"GRANT USAGE ON SCHEMA {quote(schema)} TO {quote(user)}"]  # fmt: skip
        problems = []
        tables = (settings.runs_table, settings.audit_table)
        missing = [t for t in tables if not inspector.has_table(t, schema=schema)]
        if missing and not may("SELECT has_schema_privilege(:s, 'CREATE')", s=schema):
            problems.append(
                f"table(s) {', '.join(missing)} do not exist in schema {schema!r} and warehouse "
                f"user {user!r} may not create them: GRANT CREATE ON SCHEMA {quote(schema)} TO {quote(user)}"
            )
        for table in (t for t in tables if t not in missing):
            name = f"{quote(schema)}.{quote(table)}"
            lacking = [
                p for p in ("SELECT", "INSERT", "DELETE") if not may(f"SELECT has_table_privilege(:t, '{p}')", t=name)
            ]
            if lacking:
                problems.append(
                    f"warehouse user {user!r} may not {'/'.join(lacking)} {schema}.{table}: "
                    f"GRANT {', '.join(lacking)} ON {name} TO {quote(user)}"
                )
        return problems
