"""What `syncer check` verifies for `diff = "warehouse"`: the rights the snapshot needs, by GRANT.

Needs, per warehouse (beyond reading the model, which `check` already proves):
- PostgreSQL: CREATE on the database (to create the schema) or, once the schema exists, USAGE on
  it (and CREATE while its tables are missing); SELECT, INSERT, DELETE on its two tables; TEMPORARY
  on the database (the merge stages the run's changes in a temporary table; PUBLIC has it unless
  revoked). Checked with has_database_privilege / has_schema_privilege / has_table_privilege,
  writing nothing.
- Snowflake: CREATE SCHEMA on the database (or ownership of the schema), CREATE TABLE on the
  schema, SELECT, INSERT, DELETE on its tables.
- BigQuery: bigquery.datasets.create on the project (or an existing dataset), and
  roles/bigquery.dataEditor on the dataset; bigquery.jobs.create to query.
- DuckDB: the database file opened read-write.
Other warehouses are checked by creating the schema and tables (idempotent) and probing an
insert and a delete in a transaction that is rolled back; a refusal is reported with its GRANT.
"""

from __future__ import annotations

import sqlalchemy as sa

from syncer.secrets import masked_first_line
from syncer.warehouse_diff.snapshot import Snapshot

TABLE_RIGHTS = ("SELECT", "INSERT", "DELETE")


def missing_grants(snapshot: Snapshot) -> list[str]:
    """One message per missing right, each naming the statement that grants it; [] when all is there."""
    try:
        if snapshot.dialect.name == "postgresql":
            return _postgresql(snapshot)
        if snapshot.dialect.name == "duckdb":
            return _duckdb(snapshot)
        return _probe(snapshot)
    except sa.exc.SQLAlchemyError as exc:
        return [f'diff = "warehouse": cannot check the snapshot schema: {masked_first_line(str(exc))}']


def _postgresql(snapshot: Snapshot) -> list[str]:
    schema, problems = snapshot.schema, []
    with snapshot.engine.connect() as conn:
        user, database = conn.execute(sa.text("SELECT current_user, current_database()")).one()
        exists = conn.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).first()
        if not conn.scalar(sa.text("SELECT has_database_privilege(current_database(), 'TEMPORARY')")):
            problems.append(
                f'diff = "warehouse" stages merges in a temporary table: '
                f'GRANT TEMPORARY ON DATABASE "{database}" TO "{user}";'
            )
        if exists is None:
            if not conn.scalar(sa.text("SELECT has_database_privilege(current_database(), 'CREATE')")):
                problems.append(
                    f'diff = "warehouse" needs to create schema {schema!r}: GRANT CREATE ON DATABASE "{database}" '
                    f'TO "{user}"; (or CREATE SCHEMA "{schema}" AUTHORIZATION "{user}";)'
                )
            return problems
        tables = {
            table: conn.scalar(
                sa.text(
                    "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :s AND c.relname = :t"
                ),
                {"s": schema, "t": table},
            )
            for table in ("snapshot", "snapshot_marker")
        }
        needed = ("USAGE", "CREATE") if None in tables.values() else ("USAGE",)  # CREATE: for missing tables
        rights = [r for r in needed if not _has(conn, "schema", schema, r)]
        if rights:
            problems.append(f'diff = "warehouse": GRANT {", ".join(rights)} ON SCHEMA "{schema}" TO "{user}";')
        for table, oid in tables.items():  # by OID: a name would need USAGE on the schema to resolve
            if oid is None:
                continue
            lacking = [r for r in TABLE_RIGHTS if not _has(conn, "table", int(oid), r)]
            if lacking:
                problems.append(f'diff = "warehouse": GRANT {", ".join(lacking)} ON "{schema}"."{table}" TO "{user}";')
    return problems


def _has(conn: sa.Connection, kind: str, name: str | int, right: str) -> bool:
    target = "CAST(:n AS oid)" if isinstance(name, int) else ":n"
    return bool(conn.scalar(sa.text(f"SELECT has_{kind}_privilege({target}, :r)"), {"n": name, "r": right}))


def _duckdb(snapshot: Snapshot) -> list[str]:
    with snapshot.engine.connect() as conn:
        mode = conn.scalar(sa.text("SELECT current_setting('access_mode')"))
    if str(mode).lower() == "read_only":
        return ['diff = "warehouse" writes a snapshot schema: open the DuckDB database read-write']
    return []


GRANT_HINTS = {
    "snowflake": "GRANT CREATE SCHEMA ON DATABASE <db> TO ROLE <role>; GRANT USAGE, CREATE TABLE ON SCHEMA "
    "<db>.{schema} TO ROLE <role>; GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA <db>.{schema} TO ROLE <role>",
    "bigquery": "grant roles/bigquery.dataEditor on dataset {schema} (and bigquery.datasets.create on the project "
    "until it exists, bigquery.jobs.create to query)",
}


def _probe(snapshot: Snapshot) -> list[str]:
    hint = GRANT_HINTS.get(snapshot.dialect.name, "grant CREATE on the database and the schema").format(
        schema=snapshot.schema
    )
    try:
        snapshot.ensure()
        with snapshot.engine.connect() as conn:
            transaction = conn.begin()
            try:
                conn.execute(
                    sa.text(f"INSERT INTO {snapshot.table} (sync, key, fingerprint) VALUES ('-check-', '-', '-')")
                )
                conn.execute(sa.text(f"DELETE FROM {snapshot.table} WHERE sync = '-check-'"))
            finally:
                transaction.rollback()
    except sa.exc.SQLAlchemyError as exc:
        return [f'diff = "warehouse": {masked_first_line(str(exc))}: {hint}']
    return []
