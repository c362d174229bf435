"""The warehouse snapshot: (sync, key, fingerprint) of what local state says was acknowledged.

Tables, in the schema syncer owns (`warehouse.snapshot_schema`, default "syncer"):
  snapshot(sync, key, fingerprint)          one row per acknowledged record
  snapshot_meta(sync, clean, run_id, records)  clean=false from the start of a run until its merge

Protocol (a run): `heal` if the marker is missing, not clean, from another run than the last one
state recorded, or counts a different number of records than state -> rebuild from local state;
`mark_dirty`; the run acknowledges batches into local state; `merge` writes the touched keys'
state rows (present: upsert, gone: delete) and the clean marker in one transaction. A crash
anywhere leaves clean=false or an older run id, so the next run heals before it diffs: nothing is
re-sent (state decides) and nothing is missed (the rebuilt snapshot is state).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from syncer.state import StateStore, synced
from syncer.warehouse_diff.dialects import Dialect

log = logging.getLogger("syncer.warehouse_diff")


@dataclass(frozen=True)
class Marker:
    clean: bool
    run_id: int | None
    records: int


class Snapshot:
    def __init__(self, engine: sa.Engine, dialect: Dialect, schema: str) -> None:
        self.engine = engine
        self.dialect = dialect
        self.schema = schema
        self.table = f"{dialect.ident(schema)}.{dialect.ident('snapshot')}"
        self.meta = f"{dialect.ident(schema)}.{dialect.ident('snapshot_meta')}"

    def ddl(self) -> list[str]:
        t, pk = self.dialect.text_type, self.dialect.name != "bigquery"
        key = ", PRIMARY KEY (sync, key)" if pk else ""
        return [
            f"CREATE SCHEMA IF NOT EXISTS {self.dialect.ident(self.schema)}",
            f"CREATE TABLE IF NOT EXISTS {self.table} (sync {t} NOT NULL, key {t} NOT NULL, fingerprint {t}{key})",
            f"CREATE TABLE IF NOT EXISTS {self.meta} (sync {t} NOT NULL, clean BOOLEAN, run_id BIGINT, records BIGINT)",
        ]

    def ensure(self) -> None:
        with self.engine.begin() as conn:
            # Snowflake makes a schema it creates the session's current one: the model would then be
            # looked up in the snapshot schema on this pooled connection. Put the session back.
            current = conn.scalar(sa.text("SELECT CURRENT_SCHEMA()")) if self.dialect.name == "snowflake" else None
            inspector = sa.inspect(conn)
            present = [
                inspector.has_schema(self.schema),
                *(inspector.has_table(t, schema=self.schema) for t in ("snapshot", "snapshot_meta")),
            ]
            for statement, exists in zip(self.ddl(), present, strict=True):
                if not exists:  # PostgreSQL checks CREATE rights before IF NOT EXISTS: skip what exists
                    conn.execute(sa.text(statement))
            if current:
                conn.execute(sa.text(f"USE SCHEMA {self.dialect.ident(current)}"))

    def marker(self, sync: str) -> Marker | None:
        """The sync's marker row, or None when it (or the schema) does not exist."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.text(f"SELECT clean, run_id, records FROM {self.meta} WHERE sync = :sync"), {"sync": sync}
                ).first()
        except sa.exc.DBAPIError:
            return None
        return None if row is None else Marker(bool(row[0]), row[1], int(row[2] or 0))

    def usable(self, sync: str, state: StateStore, last_run: int | None) -> bool:
        """Does the snapshot equal local state? (last_run: the last run state recorded for the sync)"""
        marker = self.marker(sync)
        return (
            marker is not None
            and marker.clean
            and marker.run_id == last_run
            and marker.records == state.count_synced(sync)
        )

    def _set_marker(self, conn: sa.Connection, sync: str, clean: bool, run_id: int | None, records: int) -> None:
        conn.execute(sa.text(f"DELETE FROM {self.meta} WHERE sync = :sync"), {"sync": sync})
        conn.execute(
            sa.text(f"INSERT INTO {self.meta} (sync, clean, run_id, records) VALUES (:sync, :clean, :run, :n)"),
            {"sync": sync, "clean": clean, "run": run_id, "n": records},
        )

    def mark_dirty(self, sync: str) -> None:
        marker = self.marker(sync)
        with self.engine.begin() as conn:
            self._set_marker(conn, sync, False, marker.run_id if marker else None, marker.records if marker else 0)

    def heal(self, sync: str, state: StateStore, run_id: int | None) -> int:
        """Rebuild the sync's snapshot from local state (one transaction); returns the records written."""
        self.ensure()
        written = 0
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"DELETE FROM {self.table} WHERE sync = :sync"), {"sync": sync})
            for chunk in _state_chunks(state, sync):
                self._load(conn, sync, chunk)
                written += len(chunk)
            self._set_marker(conn, sync, True, run_id, written)
        log.info("sync %s: warehouse snapshot rebuilt from local state (%d records)", sync, written)
        return written

    def merge(self, sync: str, state: StateStore, keys: Iterable[str], run_id: int | None) -> int:
        """Write the touched keys as state now has them, and the clean marker, in one transaction."""
        touched = sorted(set(keys))
        rows: list[tuple[str, str]] = []
        for i in range(0, len(touched), 5000):
            known = state.lookup(sync, touched[i : i + 5000])
            rows += [(k, v.source_fp or "") for k, v in known.items()]
        with self.engine.begin() as conn:
            for i in range(0, len(touched), 5000):
                self._delete(conn, sync, touched[i : i + 5000])
            if rows:
                self._load(conn, sync, rows)
            self._set_marker(conn, sync, True, run_id, state.count_synced(sync))
        return len(touched)

    def _delete(self, conn: sa.Connection, sync: str, keys: Sequence[str]) -> None:
        if self.dialect.name == "postgresql":
            sql = sa.text(f"DELETE FROM {self.table} WHERE sync = :sync AND key = ANY(CAST(:keys AS TEXT[]))")
        else:
            sql = sa.text(f"DELETE FROM {self.table} WHERE sync = :sync AND key IN :keys").bindparams(
                sa.bindparam("keys", expanding=True)
            )
        conn.execute(sql, {"sync": sync, "keys": list(keys)})

    def _load(self, conn: sa.Connection, sync: str, rows: Sequence[tuple[str, str]]) -> None:
        """Bulk insert: DuckDB from an Arrow table, PostgreSQL by COPY, others by executemany."""
        raw: Any = conn.connection.driver_connection
        if self.dialect.name == "duckdb":
            import pyarrow as pa

            data = pa.table({"sync": [sync] * len(rows), "key": [r[0] for r in rows], "fp": [r[1] for r in rows]})
            raw.register("syncer_snapshot_rows", data)
            try:
                conn.execute(sa.text(f"INSERT INTO {self.table} SELECT sync, key, fp FROM syncer_snapshot_rows"))
            finally:
                raw.unregister("syncer_snapshot_rows")
        elif self.dialect.name == "postgresql":
            with raw.cursor() as cursor, cursor.copy(f"COPY {self.table} (sync, key, fingerprint) FROM STDIN") as copy:
                for key, fp in rows:
                    copy.write_row((sync, key, fp))
        else:
            insert = sa.text(f"INSERT INTO {self.table} (sync, key, fingerprint) VALUES (:sync, :key, :fp)")
            for i in range(0, len(rows), self.dialect.bulk_rows):
                conn.execute(
                    insert, [{"sync": sync, "key": k, "fp": f} for k, f in rows[i : i + self.dialect.bulk_rows]]
                )


def _state_chunks(state: StateStore, sync: str, size: int = 50_000) -> Iterator[list[tuple[str, str]]]:
    query = sa.select(synced.c.key, synced.c.source_fp).where(synced.c.sync == sync)
    with state.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=size).execute(query)
        for part in result.partitions(size):
            yield [(k, fp or "") for k, fp in part]
