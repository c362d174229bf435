"""The warehouse snapshot: (sync, key, fingerprint) of what local state says was acknowledged.

Tables, in the schema syncer owns (`warehouse.snapshot_schema`, default "syncer"):
  snapshot(sync, key, fingerprint)          one row per acknowledged record; PRIMARY KEY (sync, key)
                                            on Snowflake, a UNIQUE index on (sync, md5(key)) on
                                            PostgreSQL (a key of any length: `keyed_by_digest`);
                                            DuckDB and BigQuery scan and hash-join it
  snapshot_marker(sync, run_id, dirty_run)  run_id: the last run whose acknowledgements it holds;
                                            dirty_run: the run that may have changed state since

Local state is the record; the lag is kept there too: before a run hands a chunk of changes on,
their keys go into state's `snapshot_pending` (see `WarehouseDiffer._noted`). After the run,
`replay` writes those keys as state now has them (present: upsert, gone: delete) in set-based
statements sized by the changes, then marks the snapshot clean and clears them. At the start of
the next run `heal` does what `decide` says, reading the marker and the pending keys only:

  snapshot or marker missing (schema dropped), a forget    -> rebuild from state (one pass)
  clean at the previous run                                -> use it (replay leftover pending keys)
  dirty from the previous run (crash after k batches)     -> replay the pending keys: only those
  anything else (a run in another mode, a state restored   -> rebuild from state
  from elsewhere, a marker ahead of state's runs)

so nothing is re-sent (state decides) and nothing is missed (the snapshot equals state), and no
run scans local state or the snapshot unless it must rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from syncer.secrets import masked_first_line
from syncer.state import SNAPSHOT_REBUILD, StateStore, synced
from syncer.warehouse_diff.dialects import Dialect

log = logging.getLogger("syncer.warehouse_diff")

Action = Literal["use", "replay", "rebuild"]
LOOKUP = 5000  # keys per state lookup while replaying


@dataclass(frozen=True)
class Marker:
    run_id: int | None
    dirty_run: int | None


def decide(marker: Marker | None, previous: int | None, pending: Sequence[str]) -> Action:
    """What a run must do before it diffs (the table in the module docstring). `previous`: the last
    run state recorded for the sync before this one; `pending`: state's pending keys for it."""
    if marker is None or SNAPSHOT_REBUILD in pending:
        return "rebuild"
    if marker.dirty_run is None and marker.run_id == previous:
        return "replay" if pending else "use"
    if marker.dirty_run is not None and marker.dirty_run == previous:
        return "replay"
    return "rebuild"


class Snapshot:
    def __init__(self, engine: sa.Engine, dialect: Dialect, schema: str) -> None:
        self.engine = engine
        self.dialect = dialect
        self.schema = schema
        self.table = f"{dialect.ident(schema)}.{dialect.ident('snapshot')}"
        self.meta = f"{dialect.ident(schema)}.{dialect.ident('snapshot_marker')}"

    def ddl(self) -> list[str]:
        t, fp = self.dialect.text_type, self.dialect.fingerprint_type or self.dialect.text_type
        key = ", PRIMARY KEY (sync, key)" if self.dialect.name == "snowflake" else ""
        return [
            f"CREATE SCHEMA IF NOT EXISTS {self.dialect.ident(self.schema)}",
            f"CREATE TABLE IF NOT EXISTS {self.table} (sync {t} NOT NULL, key {t} NOT NULL, fingerprint {fp}{key})",
            f"CREATE TABLE IF NOT EXISTS {self.meta} (sync {t} NOT NULL, run_id BIGINT, dirty_run BIGINT)",
        ]

    def keyed_by_digest(self) -> None:
        """PostgreSQL: the snapshot unique on (sync, md5(key)), not on (sync, key). A B-tree entry holds at
        most about 2.7 KB (PostgreSQL docs, 67.4 "B-Tree Implementation": a third of a page), so a key
        longer than that failed every run on "snapshot_pkey"; its 32-hex-digit digest always fits, and
        the replay's DELETE finds rows through it. A table an older release made with the primary key
        has it replaced (its rows stay). A no-op elsewhere and once done."""
        if self.dialect.name != "postgresql":
            return
        index = self.dialect.ident("snapshot_key_digest")
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = :schema AND tablename = 'snapshot'"),
                {"schema": self.schema},
            ).scalars()
            names = set(found)
            if "snapshot_key_digest" in names and "snapshot_pkey" not in names:
                return
            try:
                if "snapshot_pkey" in names:
                    conn.execute(sa.text(f"ALTER TABLE {self.table} DROP CONSTRAINT snapshot_pkey"))
                if "snapshot_key_digest" not in names:
                    conn.execute(sa.text(f"CREATE UNIQUE INDEX {index} ON {self.table} (sync, md5(key))"))
            except sa.exc.DBAPIError as exc:  # not the table's owner: it works as it is, but for keys over 2.7 KB
                log.warning(
                    "warehouse snapshot %s keeps its primary key on (sync, key), which refuses a key longer than "
                    "about 2.7 KB: %s (the table's owner can drop it: ALTER TABLE %s DROP CONSTRAINT snapshot_pkey)",
                    self.table,
                    masked_first_line(str(getattr(exc, "orig", None) or exc)),
                    self.table,
                )

    def ensure(self) -> None:
        with self.engine.begin() as conn:
            # Snowflake makes a schema it creates the session's current one: the model would then be
            # looked up in the snapshot schema on this pooled connection. Put the session back.
            current = conn.scalar(sa.text("SELECT CURRENT_SCHEMA()")) if self.dialect.name == "snowflake" else None
            inspector = sa.inspect(conn)
            if self.dialect.fingerprint_type and inspector.has_table("snapshot", schema=self.schema):
                found = self._fingerprint_type(conn)
                if found is not None and found.upper() != self.dialect.fingerprint_type:
                    # an older release's table: a cache of state. It holds every sync's rows, so every
                    # sync's marker goes with it and each rebuilds from state (one sync's first run
                    # used to drop the others' rows while their markers said clean: deletes were lost)
                    conn.execute(sa.text(f"DROP TABLE {self.table}"))
                    if inspector.has_table("snapshot_marker", schema=self.schema):
                        conn.execute(sa.text(f"DELETE FROM {self.meta}"))
                    inspector = sa.inspect(conn)
            present = [
                inspector.has_schema(self.schema),
                *(inspector.has_table(t, schema=self.schema) for t in ("snapshot", "snapshot_marker")),
            ]
            for statement, exists in zip(self.ddl(), present, strict=True):
                if not exists:  # PostgreSQL checks CREATE rights before IF NOT EXISTS: skip what exists
                    conn.execute(sa.text(statement))
            if current:
                conn.execute(sa.text(f"USE SCHEMA {self.dialect.ident(current)}"))
        self.keyed_by_digest()

    def _fingerprint_type(self, conn: sa.Connection) -> str | None:
        """The snapshot's fingerprint column type as the warehouse names it (information_schema, not
        SQLAlchemy's reflection: duckdb_engine reflects UBIGINT as INTEGER)."""
        found = conn.scalar(
            sa.text(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = :schema "
                "AND table_name = 'snapshot' AND column_name = 'fingerprint'"
            ),
            {"schema": self.schema},
        )
        return None if found is None else str(found)

    def marker(self, sync: str) -> Marker | None:
        """The sync's marker row, or None when it (or the schema) does not exist."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.text(f"SELECT run_id, dirty_run FROM {self.meta} WHERE sync = :sync"), {"sync": sync}
                ).first()
        except sa.exc.DBAPIError:
            return None
        return None if row is None else Marker(row[0], row[1])

    def usable(self, sync: str, state: StateStore, last_run: int | None) -> bool:
        """May a plan (which writes nothing) diff against it as it is? Only if nothing lags."""
        return decide(self.marker(sync), last_run, state.snapshot_pending(sync)) == "use"

    def heal(self, sync: str, state: StateStore, previous: int | None) -> Action:
        """Bring the snapshot level with local state as of run `previous` (see `decide`)."""
        action = decide(self.marker(sync), previous, state.snapshot_pending(sync))
        if action != "rebuild":  # (a rebuild's `ensure` does it)
            self.keyed_by_digest()
        if action == "rebuild":
            written = self.rebuild(sync, state, previous)
            log.info("sync %s: warehouse snapshot rebuilt from local state (%d records)", sync, written)
        elif action == "replay":
            replayed = self.replay(sync, state, previous)
            log.info("sync %s: warehouse snapshot healed: %d lagging key(s) replayed", sync, replayed)
        return action

    def mark_dirty(self, sync: str, run_id: int | None) -> None:
        """Run `run_id` is about to change state: until its `replay`, the snapshot may lag."""
        marker = self.marker(sync)
        with self.engine.begin() as conn:
            self._set_marker(conn, sync, marker.run_id if marker else None, run_id)

    def _set_marker(self, conn: sa.Connection, sync: str, run_id: int | None, dirty_run: int | None) -> None:
        conn.execute(sa.text(f"DELETE FROM {self.meta} WHERE sync = :sync"), {"sync": sync})
        conn.execute(
            sa.text(f"INSERT INTO {self.meta} (sync, run_id, dirty_run) VALUES (:sync, :run, :dirty)"),
            {"sync": sync, "run": run_id, "dirty": dirty_run},
        )

    def rebuild(self, sync: str, state: StateStore, run_id: int | None) -> int:
        """The sync's snapshot from local state in one transaction; returns the records written."""
        self.ensure()
        pending = state.snapshot_pending(sync)
        written = 0
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"DELETE FROM {self.table} WHERE sync = :sync"), {"sync": sync})
            for chunk in _state_chunks(state, sync):
                self._insert(conn, sync, chunk)
                written += len(chunk)
            self._set_marker(conn, sync, run_id, None)
        state.clear_snapshot_pending(sync, pending)
        self._analyze()
        return written

    def replay(self, sync: str, state: StateStore, run_id: int | None) -> int:
        """State's pending keys, as state now has them, into the snapshot; the marker clean at
        `run_id`; then the pending keys cleared. Returns the keys replayed."""
        pending = [k for k in state.snapshot_pending(sync) if k != SNAPSHOT_REBUILD]
        rows: list[tuple[str, str | None]] = []
        for i in range(0, len(pending), LOOKUP):
            known = state.lookup(sync, pending[i : i + LOOKUP])
            rows += [(k, (known[k].source_fp or "") if k in known else None) for k in pending[i : i + LOOKUP]]
        with self.engine.begin() as conn:
            if rows:
                self._upsert(conn, sync, rows)
            self._set_marker(conn, sync, run_id, None)
        state.clear_snapshot_pending(sync, pending)  # after the warehouse committed: a crash replays again
        return len(pending)

    def _analyze(self) -> None:
        """PostgreSQL plans the diff's hash join from table statistics: refresh them after a rebuild."""
        if self.dialect.name == "postgresql":
            with self.engine.begin() as conn:
                conn.execute(sa.text(f"ANALYZE {self.table}"))

    def _upsert(self, conn: sa.Connection, sync: str, rows: Sequence[tuple[str, str | None]]) -> None:
        """(key, fingerprint or None for gone): one DELETE and one INSERT over a staged set where the
        warehouse can stage (DuckDB: an Arrow table; PostgreSQL: a temporary table filled by COPY)."""
        raw: Any = conn.connection.driver_connection
        params = {"sync": sync}
        if self.dialect.name == "duckdb":
            import pyarrow as pa

            staged = pa.table(
                {"key": [r[0] for r in rows], "fp": [r[1] for r in rows]},
                pa.schema([("key", pa.string()), ("fp", pa.string())]),
            )
            raw.register("syncer_snapshot_stage", staged)
            try:
                self._apply_stage(conn, "syncer_snapshot_stage", params)
            finally:
                raw.unregister("syncer_snapshot_stage")
        elif self.dialect.name == "postgresql":
            conn.execute(sa.text("CREATE TEMPORARY TABLE syncer_snapshot_stage (key TEXT, fp TEXT) ON COMMIT DROP"))
            with raw.cursor() as cursor, cursor.copy("COPY syncer_snapshot_stage (key, fp) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            self._apply_stage(conn, "syncer_snapshot_stage", params)
        else:
            keys = [r[0] for r in rows]
            for i in range(0, len(keys), self.dialect.bulk_rows):
                delete = sa.text(f"DELETE FROM {self.table} WHERE sync = :sync AND key IN :keys")
                conn.execute(
                    delete.bindparams(sa.bindparam("keys", expanding=True)),
                    {**params, "keys": keys[i : i + self.dialect.bulk_rows]},
                )
            self._insert(conn, sync, [(k, fp) for k, fp in rows if fp is not None])

    def _apply_stage(self, conn: sa.Connection, stage: str, params: dict[str, str]) -> None:
        # PostgreSQL finds the rows through its (sync, md5(key)) index (`keyed_by_digest`)
        digest = f" AND md5(key) IN (SELECT md5(key) FROM {stage})" if self.dialect.name == "postgresql" else ""
        conn.execute(
            sa.text(f"DELETE FROM {self.table} WHERE sync = :sync{digest} AND key IN (SELECT key FROM {stage})"),
            params,
        )
        conn.execute(
            sa.text(
                f"INSERT INTO {self.table} (sync, key, fingerprint) "
                f"SELECT :sync, key, {self.dialect.stored_fingerprint('fp')} FROM {stage} WHERE fp IS NOT NULL"
            ),
            params,
        )

    def _insert(self, conn: sa.Connection, sync: str, rows: Sequence[tuple[str, str | None]]) -> None:
        """Bulk insert: DuckDB from an Arrow table, PostgreSQL by COPY, others by executemany."""
        raw: Any = conn.connection.driver_connection
        if self.dialect.name == "duckdb":
            import pyarrow as pa

            data = pa.table({"sync": [sync] * len(rows), "key": [r[0] for r in rows], "fp": [r[1] for r in rows]})
            raw.register("syncer_snapshot_rows", data)
            try:
                stored = self.dialect.stored_fingerprint("fp")
                conn.execute(sa.text(f"INSERT INTO {self.table} SELECT sync, key, {stored} FROM syncer_snapshot_rows"))
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


def _state_chunks(state: StateStore, sync: str, size: int = 50_000) -> Iterator[list[tuple[str, str | None]]]:
    query = sa.select(synced.c.key, synced.c.source_fp).where(synced.c.sync == sync)
    with state.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=size).execute(query)
        for part in result.partitions(size):
            yield [(k, fp or "") for k, fp in part]
