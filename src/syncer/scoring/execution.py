"""Runs generated SQL inside the warehouse and counts every row that comes back to Python.

Scoring must stay in the warehouse: tables are built with CREATE TABLE ... AS SELECT and published
with INSERT ... SELECT. The only rows fetched are small aggregates (guard checks, summary counts),
and `rows_fetched` makes that claim measurable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from syncer.scoring.dialect import sql_text

log = logging.getLogger(__name__)


@dataclass
class WarehouseSession:
    """One connection plus the bookkeeping of what ran and what was fetched."""

    conn: sa.Connection
    schema: str | None = None
    statements: list[str] = field(default_factory=list)
    rows_fetched: int = 0

    @property
    def dialect(self) -> sa.Dialect:
        return self.conn.dialect

    def table(self, name: str) -> str:
        """A table name, qualified and quoted the way this dialect wants it."""
        return self.dialect.identifier_preparer.format_table(sa.table(name, schema=self.schema))

    def execute(self, sql: str) -> None:
        """Run a statement that returns no rows (DDL, INSERT ... SELECT, DELETE)."""
        self.statements.append(sql)
        log.debug("scoring sql: %s", sql)
        # no_parameters: the DBAPI gets the string as is, so a "%" in a literal stays one "%"
        self.conn.execution_options(no_parameters=True).exec_driver_sql(sql)

    def fetch(self, stmt: sa.ClauseElement) -> list[sa.Row[Any]]:
        """Run a small aggregate query; every row it returns is counted."""
        sql = sql_text(stmt, self.dialect)
        self.statements.append(sql)
        rows = list(self.conn.execution_options(no_parameters=True).exec_driver_sql(sql))
        self.rows_fetched += len(rows)
        return rows

    def create_table_as(self, name: str, select: sa.ClauseElement) -> None:
        """(Re)create `name` from a SELECT, entirely inside the warehouse."""
        self.execute(f"DROP TABLE IF EXISTS {self.table(name)}")
        self.execute(f"CREATE TABLE {self.table(name)} AS {sql_text(select, self.dialect)}")

    def replace_contents(self, target: str, source: str) -> None:
        """Make `target` hold exactly the rows of `source` (same columns), creating it the first time."""
        tgt, src = self.table(target), self.table(source)
        self.execute(f"CREATE TABLE IF NOT EXISTS {tgt} AS SELECT * FROM {src} WHERE 1 = 0")
        self.execute(f"DELETE FROM {tgt} WHERE 1 = 1")  # BigQuery refuses DELETE without WHERE
        self.execute(f"INSERT INTO {tgt} SELECT * FROM {src}")
