"""Sync logs in the warehouse: each run, and each record's outcome in it, copied where BI can join them.

Enabled with `[daemon.synclog]`. After every run the daemon copies the run's row from the state DB's
`runs` table and its `audit` rows into two warehouse tables. The schema (`schema = "ops"`) and the
tables are created if missing, when the warehouse user may; when it may not, the copy fails with
the grant it lacks, and `syncer check` names that grant beforehand (synclog_grants.py):

    <schema>.syncer_runs   run_id, sync, started_at, finished_at, status, counts..., error
    <schema>.syncer_audit  run_id, sync, key, op, status, dest_id, reason, recorded_at [, payload]

Copies are idempotent (delete the run's rows, insert them again, one transaction), so a copy that
failed or was interrupted is simply redone. The state DB stays the source of truth; a failed copy is
logged and never fails the sync.
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from syncer.errors import FatalError
from syncer.secrets import masked_first_line
from syncer.state import COUNTERS, StateStore, audit, runs
from syncer.timestamps import UtcDateTime

CHUNK = 5000
_SOURCE = {"recorded_at": "at"}  # warehouse column -> state DB audit column


class SynclogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True)

    schema_: str | None = Field(default=None, alias="schema")
    """Warehouse schema for the two tables. Created if missing when the warehouse user may (CREATE SCHEMA IF NOT
    EXISTS); otherwise `syncer check` names the missing grant. Default: the connection's default schema.
    """
    runs_table: str = Field(default="syncer_runs", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Table of runs (one row per run)."""
    audit_table: str = Field(default="syncer_audit", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Table of record outcomes (one row per record per run)."""
    payloads: bool = False
    """Also copy each record's (masked) payload."""


def tables(settings: SynclogSettings) -> tuple[sa.Table, sa.Table]:
    meta = sa.MetaData(schema=settings.schema_)
    ts = UtcDateTime()
    run_t = sa.Table(
        settings.runs_table,
        meta,
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sync", sa.String(200)),
        sa.Column("started_at", ts),
        sa.Column("finished_at", ts),
        sa.Column("status", sa.String(20)),
        *(sa.Column(c, sa.Integer) for c in COUNTERS),
        sa.Column("error", sa.Text),
    )
    audit_t = sa.Table(
        settings.audit_table,
        meta,
        sa.Column("run_id", sa.Integer, index=True),
        sa.Column("sync", sa.String(200)),
        sa.Column("key", sa.String(1000)),
        sa.Column("op", sa.String(20)),
        sa.Column("status", sa.String(20)),
        sa.Column("dest_id", sa.String(200)),
        sa.Column("reason", sa.Text),
        sa.Column("recorded_at", ts),  # `at` in the state DB; a reserved word in some warehouses
        *([sa.Column("payload", sa.Text)] if settings.payloads else []),
    )
    return run_t, audit_t


class SyncLog:
    def __init__(self, warehouse: sa.Engine, settings: SynclogSettings) -> None:
        self.warehouse, self.settings = warehouse, settings
        self.runs_t, self.audit_t = tables(settings)
        self._created = False

    def ensure_tables(self) -> None:
        """CREATE SCHEMA IF NOT EXISTS (when a schema is named), then the two tables if missing.

        Raises FatalError naming the object and the grant when the warehouse user may not create it."""
        schema = self.settings.schema_
        try:
            if schema:
                with self.warehouse.begin() as conn:
                    if not sa.inspect(conn).has_schema(schema):
                        conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        except sa.exc.DBAPIError as exc:
            quoted = self.warehouse.dialect.identifier_preparer.quote_schema(schema or "")  # keeps a mixed-case name
            raise FatalError(
                f"sync log: cannot create schema {schema!r} in the warehouse ({_first_line(exc)}); grant the "
                f"warehouse user CREATE on the database, or create the schema: CREATE SCHEMA {quoted}"
            ) from None
        try:
            self.runs_t.metadata.create_all(self.warehouse, checkfirst=True)
        except sa.exc.DBAPIError as exc:
            where = f"schema {schema!r}" if schema else "the default schema"
            raise FatalError(
                f"sync log: cannot create tables {self.settings.runs_table!r} / {self.settings.audit_table!r} in "
                f"{where} ({_first_line(exc)}); grant the warehouse user CREATE on that schema"
            ) from None

    def write_run(self, state: StateStore, run_id: int) -> int:
        """Copy one run and its audit rows to the warehouse; returns the number of audit rows copied."""
        if not self._created:
            self.ensure_tables()
            self._created = True
        with state.engine.connect() as src:
            run = src.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
            if run is None:
                return 0
            cols = [audit.c[_SOURCE.get(c.name, c.name)].label(c.name) for c in self.audit_t.columns]
            query = sa.select(*cols).where(audit.c.run_id == run_id)
            copied = 0
            with self.warehouse.begin() as dst:
                dst.execute(self.runs_t.delete().where(self.runs_t.c.run_id == run_id))
                dst.execute(self.audit_t.delete().where(self.audit_t.c.run_id == run_id))
                row = {c.name: run.get("id" if c.name == "run_id" else c.name) for c in self.runs_t.columns}
                dst.execute(self.runs_t.insert(), [row])
                result = src.execution_options(stream_results=True, yield_per=CHUNK).execute(query)
                for part in result.mappings().partitions(CHUNK):
                    dst.execute(self.audit_t.insert(), [dict(r) for r in part])
                    copied += len(part)
        return copied


def _first_line(exc: sa.exc.DBAPIError) -> str:
    return masked_first_line(str(exc.orig)) if exc.orig is not None else type(exc).__name__
