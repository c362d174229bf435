"""The state store: what each destination acknowledged, runs, audit and rejected records.

SQLite in the data directory by default (zero set-up), PostgreSQL by URL for production and
multiple replicas. The schema is owned by alembic migrations applied on open; it is never patched
by hand. Writes for one batch happen in one transaction, so state only ever reflects batches the
destination acknowledged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from syncer.errors import StateError
from syncer.identity import typed_keys
from syncer.secrets import mask, mask_tree
from syncer.state_health import (
    FOLDER_REMEDY,
    describe_location,
    install_health_hook,
    leftover_step_error,
    migration_engine,
    migration_lock,
)
from syncer.timestamps import UtcDateTime

metadata = sa.MetaData()
TS = UtcDateTime()

synced = sa.Table(
    "synced_records",
    metadata,
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(1000), primary_key=True),
    sa.Column("fingerprint", sa.String(64)),
    sa.Column("match_value", sa.String(1000)),
    sa.Column("dest_id", sa.String(200)),
    sa.Column("payload", sa.Text),
    sa.Column("run_id", sa.Integer),
    sa.Column("synced_at", TS),
    sa.Column("source_fp", sa.String(64)),
    sa.Column("destination", sa.String(32)),  # digest of the definition it was written under (syncer.destinations)
)
# records whose row left the model while the sync's mode does not delete: still at the destination (0015,
# syncer.departed); same columns as synced_records, plus when it left
departed = sa.Table(
    "departed_records",
    metadata,
    *(sa.Column(c.name, c.type, primary_key=c.primary_key) for c in synced.columns),
    sa.Column("departed_at", TS),
)
# per sync, the project that runs it (0015, syncer.ownership)
sync_owners = sa.Table(
    "sync_owners",
    metadata,
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("described", sa.String(500), nullable=False),
    sa.Column("claimed_at", TS, nullable=False),
)
# one token per sync, replaced by a trigger on every write to its synced_records (migration 0011)
synced_generations = sa.Table(
    "synced_generations",
    metadata,
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("token", sa.BigInteger, nullable=False),
)
rejected = sa.Table(
    "rejected_records",
    metadata,
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(1000), primary_key=True),
    sa.Column("fingerprint", sa.String(64)),
    sa.Column("reason", sa.Text),
    sa.Column("run_id", sa.Integer),
    sa.Column("rejected_at", TS),
    sa.Column("destination", sa.String(32)),
)
sync_destinations = sa.Table(  # digest -> the definition it stands for, per sync (migration 0014)
    "sync_destinations",
    metadata,
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("digest", sa.String(32), primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("first_used", TS, nullable=False),
)
COUNTERS = (
    "source_rows",
    "added",
    "changed",
    "removed",
    "unchanged",
    "succeeded",
    "failed",
    "rejected",
    "api_calls",
)
# the counters an interrupted run never recorded (it writes them when it finishes): None, unknown, in `recent_runs`;
# its succeeded, failed and rejected are what its audit rows hold
UNRECORDED = ("source_rows", "added", "changed", "removed", "unchanged", "api_calls")
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sync", sa.String(200)),
    sa.Column("started_at", TS),
    sa.Column("finished_at", TS),
    sa.Column("status", sa.String(20)),
    sa.Column("full", sa.Boolean),
    *(sa.Column(n, sa.Integer) for n in COUNTERS),
    sa.Column("error", sa.Text),
)
audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer),
    sa.Column("sync", sa.String(200)),
    sa.Column("key", sa.String(1000)),
    sa.Column("op", sa.String(20)),
    sa.Column("status", sa.String(20)),
    sa.Column("fingerprint", sa.String(64)),
    sa.Column("dest_id", sa.String(200)),
    sa.Column("reason", sa.Text),
    sa.Column("payload", sa.Text),
    sa.Column("at", TS),
)
snapshot_pending = sa.Table(  # keys whose warehouse snapshot row may lag local state (diff = "warehouse")
    "snapshot_pending",
    metadata,
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(1000), primary_key=True),
)
# a pending "key" that means: rebuild the whole snapshot. Not NUL-prefixed: PostgreSQL text refuses NUL
# (`syncer forget` failed on a PostgreSQL state). A real key spelled like this only causes a rebuild.
SNAPSHOT_REBUILD = "\x01syncer:rebuild-snapshot"
diff_watermarks = sa.Table(  # the `model.updated_at` watermark per sync (syncer.warehouse_diff.watermark)
    "diff_watermarks",
    metadata,
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("watermark", sa.String(200), nullable=False),
    sa.Column("spec", sa.String(64), nullable=False),
    sa.Column("full_diff_at", TS, nullable=False),
)
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("owner", sa.String(200)),
    sa.Column("expires_at", TS),
)

LOOKUP_CHUNK = 900  # under SQLite's default 999 bound-parameter limit


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Known:
    """What state holds for one record."""

    fingerprint: str
    dest_id: str | None
    match_value: str | None
    source_fp: str | None = None
    destination: str | None = None  # digest of the definition it was written under (None: before 0014)


@dataclass(frozen=True)
class Outcome:
    """One record's result, ready to be written to state and audit."""

    key: str
    op: str
    status: str  # ok | rejected | failed
    fingerprint: str
    match_value: str | None
    dest_id: str | None
    reason: str | None
    payload: dict[str, Any] | None
    source_fp: str | None = None
    destination: str | None = None  # digest of the sync's destination definition (syncer.destinations)


def _dumps(payload: dict[str, Any] | None) -> str | None:
    """The audit payload as stored, secrets masked. A text json.dumps escaped (a backslash in the result) is masked
    before serialising too: escaping a text that holds a secret already escaped would hide it from the mask."""
    if payload is None:
        return None
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    if "\\" in text:
        text = json.dumps(mask_tree(payload), sort_keys=True, default=str, ensure_ascii=False)
    return mask(text)


MIGRATIONS = Path(__file__).parent / "migrations"


def newest_revision() -> str:
    """The newest migration's revision id, from its file name: `versions/NNNN_<what>.py` has revision
    "NNNN" (a test holds this to alembic's own head)."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


class StateStore:
    def __init__(self, url: str, project: str | None = None) -> None:
        """Open (and migrate) the state at `url`; `project`: the configured project id to keep in it
        (`[syncer] project`, syncer.project), None keeps the one it has."""
        self.url = url
        self.location = describe_location(url)
        if url.startswith("sqlite:///"):
            try:
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StateError(self.location, f"its folder cannot be created ({exc})", FOLDER_REMEDY) from None
        self.engine = sa.create_engine(url, future=True, hide_parameters=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        install_health_hook(self.engine, self.location)
        self.migrate()
        if project is not None:
            from syncer.project import bind_project

            bind_project(self.engine, project)

    def _at_head(self) -> bool:
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return False
            versions = [v for (v,) in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
        return versions == [newest_revision()]

    def migrate(self) -> None:
        """Upgrade the schema to head, one transaction per migration step (see migrations/env.py).

        A store already at head is left alone without loading alembic (one SELECT): every command
        opens the state store, and most find it current.
        """
        if self._at_head():
            return
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        engine = migration_engine(self.url)
        install_health_hook(engine, self.location)
        try:
            with migration_lock(self.url), engine.connect() as conn:
                if conn.dialect.name == "postgresql":  # replicas starting together migrate one at a time
                    conn.execute(sa.text("SELECT pg_advisory_lock(7301999)"))
                    conn.commit()
                try:
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                except sa.exc.OperationalError as exc:
                    raise leftover_step_error(self.location, exc) from exc
                finally:
                    if conn.dialect.name == "postgresql":
                        conn.rollback()
                        conn.execute(sa.text("SELECT pg_advisory_unlock(7301999)"))
                        conn.commit()
        finally:
            engine.dispose()

    def close(self) -> None:
        self.engine.dispose()

    # -- reading ------------------------------------------------------------------------------

    def lookup(self, sync: str, keys: Sequence[str]) -> dict[str, Known]:
        """What state holds for these keys: one indexed query per chunk, keys passed as one parameter."""
        found: dict[str, Known] = {}
        with self.engine.connect() as conn:
            for key, fp, dest_id, match_value, source_fp, destination in conn.execute(
                self._lookup_sql, {"sync": sync, **self._keys(keys)}
            ).all():
                found[key] = Known(fp, dest_id, match_value, source_fp, destination)
        return found

    @property
    def _lookup_sql(self) -> sa.TextClause:
        # An expanding IN of 2,000 parameters costs more to build than the query costs to run.
        where = {
            "sqlite": "key IN (SELECT value FROM json_each(:keys))",
            "postgresql": "key = ANY(CAST(:keys AS TEXT[]))",
        }.get(self.engine.dialect.name, "key IN :keys")
        sql = sa.text(
            "SELECT key, fingerprint, dest_id, match_value, source_fp, destination FROM synced_records "
            f"WHERE sync = :sync AND {where}"
        )
        return sql.bindparams(sa.bindparam("keys", expanding=" IN :keys" in where))

    def _keys(self, keys: Sequence[str]) -> dict[str, Any]:
        if self.engine.dialect.name == "sqlite":
            return {"keys": json.dumps(list(keys))}
        return {"keys": list(keys)}

    def match_holders(self, sync: str, identities: set[str], casefold: bool) -> dict[str, set[str]]:
        """identity -> the keys of this sync's records whose match value has that identity (the value
        itself, or lower-cased when `casefold`: `identity.match_comparison_key`). Asked only for the
        identities a mirror run would delete (syncer.rekeys). SQL narrows by the value (SQLite's
        LOWER folds ASCII only, so a non-ASCII identity reads every record of the sync); Python decides."""
        from syncer.identity import match_comparison_key

        if not identities:
            return {}
        column = "lower(match_value)" if casefold else "match_value"
        narrow = all(i.isascii() for i in identities) or not casefold
        where = (
            f" AND {column} IN (SELECT value FROM json_each(:ids))"
            if self.engine.dialect.name == "sqlite"
            else (f" AND {column} = ANY(CAST(:ids AS TEXT[]))")
        )
        sql = "SELECT key, match_value FROM synced_records WHERE sync = :sync AND match_value IS NOT NULL"
        params: dict[str, Any] = {"sync": sync}
        if narrow:
            sql += where
            params["ids"] = (
                json.dumps(sorted(identities)) if self.engine.dialect.name == "sqlite" else sorted(identities)
            )
        held: dict[str, set[str]] = {}
        with self.engine.connect() as conn:
            for key, value in conn.execute(sa.text(sql), params):
                identity = match_comparison_key(value, casefold)
                if identity in identities:
                    held.setdefault(identity, set()).add(key)
        return held

    def payloads(self, sync: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(synced.c.key, synced.c.payload).where(synced.c.sync == sync, synced.c.key.in_(keys))
            )
            return {k: json.loads(p) if p else {} for k, p in rows}

    def rejected_fingerprints(self, sync: str, destination: str | None = None) -> dict[str, str]:
        """key -> fingerprint of the sync's rejected records; with `destination`, only those rejected
        under that definition (or before 0014 recorded one): a rejection under another definition
        (NOT_FOUND in update mode, now upsert) is no verdict on this one."""
        query = sa.select(rejected.c.key, rejected.c.fingerprint).where(rejected.c.sync == sync)
        if destination is not None:
            query = query.where(sa.or_(rejected.c.destination.is_(None), rejected.c.destination == destination))
        with self.engine.connect() as conn:
            return dict(conn.execute(query).all())  # type: ignore[arg-type]

    # -- destination definitions (syncer.destinations) ----------------------------------------

    def destination_definitions(self, sync: str) -> dict[str, str]:
        """digest -> definition (JSON text) of every definition the sync has written under."""
        query = sa.select(sync_destinations.c.digest, sync_destinations.c.definition)
        with self.engine.connect() as conn:
            return dict(conn.execute(query.where(sync_destinations.c.sync == sync)).all())  # type: ignore[arg-type]

    def destination_counts(self, sync: str) -> dict[str | None, int]:
        """digest (None: written before 0014) -> how many of the sync's records state holds under it."""
        query = (
            sa.select(synced.c.destination, sa.func.count()).where(synced.c.sync == sync).group_by(synced.c.destination)
        )
        with self.engine.connect() as conn:
            return {d: int(n) for d, n in conn.execute(query)}

    def adopt_destination(self, sync: str, digest: str, definition: str, earlier: Sequence[str] = ()) -> None:
        """Note the definition a run writes under. The sync's first run under migration 0014 takes
        every record and rejection an older release wrote (NULL) as written under it: the upgrade
        alone re-sends nothing (and the NULLs are gone, so a later change is seen). `earlier`: digests
        an older release gave this same definition (syncer.destinations `normal_percent`); what state holds
        under them moves to `digest` and they are forgotten."""
        with self.engine.begin() as conn:
            known = set(conn.scalars(sa.select(sync_destinations.c.digest).where(sync_destinations.c.sync == sync)))
            if digest in known:
                return
            moved = [d for d in earlier if d in known]
            for table in (synced, rejected, departed) if moved else ():
                conn.execute(
                    table.update()
                    .where(table.c.sync == sync, table.c.destination.in_(moved))
                    .values(destination=digest)
                )
            if moved:
                conn.execute(
                    sync_destinations.delete().where(
                        sync_destinations.c.sync == sync, sync_destinations.c.digest.in_(moved)
                    )
                )
            elif not known:
                for table in (synced, rejected):
                    conn.execute(
                        table.update()
                        .where(table.c.sync == sync, table.c.destination.is_(None))
                        .values(destination=digest)
                    )
            conn.execute(
                sync_destinations.insert().values(sync=sync, digest=digest, definition=definition, first_used=utcnow())
            )

    def payloads_under(
        self, sync: str, destinations: Sequence[str]
    ) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        """(key, match value, payload) of the sync's records written under these definitions, streamed."""
        query = sa.select(synced.c.key, synced.c.match_value, synced.c.payload).where(
            synced.c.sync == sync, synced.c.destination.in_(list(destinations))
        )
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=5000).execute(query)
            for key, match_value, payload in result:
                yield key, match_value, json.loads(payload) if payload else {}

    def iter_synced(self, sync: str, batch: int = 5000) -> Iterator[tuple[str, Known]]:
        """Every record state holds for a sync, streamed."""
        query = sa.select(
            synced.c.key, synced.c.fingerprint, synced.c.dest_id, synced.c.match_value, synced.c.destination
        ).where(synced.c.sync == sync)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
            for key, fp, dest_id, match_value, destination in result:
                yield key, Known(fp, dest_id, match_value, None, destination)

    def generation(self, sync: str, conn: sa.Connection | None = None) -> int | None:
        """The sync's generation token: replaced by a trigger whenever any of its synced records is
        written (migration 0011). None when state holds no record of it (or the database has no
        trigger), so nothing can be trusted as current."""
        query = sa.select(synced_generations.c.token).where(synced_generations.c.sync == sync)
        if conn is not None:
            return conn.scalar(query)
        with self.engine.connect() as own:
            return own.scalar(query)

    def count_synced(self, sync: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).where(synced.c.sync == sync)) or 0)

    # -- runs ---------------------------------------------------------------------------------

    def start_run(self, sync: str, full: bool) -> int:
        values: dict[str, Any] = {"sync": sync, "started_at": utcnow(), "status": "running", "full": full}
        values.update(dict.fromkeys(COUNTERS, 0))
        with self.engine.begin() as conn:
            # A run still marked running was killed (one runner per sync is guaranteed by the lease): it is
            # interrupted, with what its audit rows say the destination acknowledged.
            killed = conn.scalars(sa.select(runs.c.id).where(runs.c.sync == sync, runs.c.status == "running"))
            for run_id in list(killed):
                conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id)
                    .values(status="interrupted", finished_at=values["started_at"], **_audited_counts(conn, run_id))
                )
            inserted = conn.execute(runs.insert().values(**values)).inserted_primary_key
            assert inserted is not None
            return int(inserted[0])

    def finish_run(self, run_id: int, status: str, counts: dict[str, int], error: str | None = None) -> None:
        """Close a run with its counters; no `counts` (a run that raised, its summary lost): succeeded, failed and
        rejected as its audit rows count them (`_audited_counts`)."""
        values = {k: v for k, v in counts.items() if k in COUNTERS}
        with self.engine.begin() as conn:
            if not values:
                values = _audited_counts(conn, run_id)
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(status=status, finished_at=utcnow(), error=mask(error) if error else None, **values)
            )

    def recent_runs(self, sync: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if sync:
            query = query.where(runs.c.sync == sync)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        for row in rows:  # killed: what it planned and called was never recorded (`start_run`)
            if row["status"] == "interrupted":
                row.update(dict.fromkeys(UNRECORDED))
        return rows

    # -- writing one acknowledged batch -------------------------------------------------------

    def record(self, sync: str, run_id: int, outcomes: Iterable[Outcome], audit_payloads: bool = True) -> None:
        """Write one batch's outcomes in one transaction: state, rejects and audit together."""
        now = utcnow()
        ok_rows: list[dict[str, Any]] = []
        reject_rows: list[dict[str, Any]] = []
        audit_rows: list[dict[str, Any]] = []
        delete_keys: list[str] = []
        clear_rejects: list[str] = []
        for o in outcomes:
            audit_rows.append(
                {
                    "run_id": run_id,
                    "sync": sync,
                    "key": o.key,
                    "op": o.op,
                    "status": o.status,
                    "fingerprint": o.fingerprint,
                    "dest_id": o.dest_id,
                    "reason": mask(o.reason) if o.reason else None,
                    "payload": _dumps(o.payload) if audit_payloads else None,
                    "at": now,
                }
            )
            if o.status == "ok":
                clear_rejects.append(o.key)
                if o.op == "delete":
                    delete_keys.append(o.key)
                else:
                    ok_rows.append(
                        {
                            "sync": sync,
                            "key": o.key,
                            "fingerprint": o.fingerprint,
                            "match_value": o.match_value,
                            "dest_id": o.dest_id,
                            "payload": _dumps(o.payload),
                            "run_id": run_id,
                            "synced_at": now,
                            "source_fp": o.source_fp,
                            "destination": o.destination,
                        }
                    )
            elif o.status == "rejected":
                reject_rows.append(
                    {
                        "sync": sync,
                        "key": o.key,
                        "fingerprint": o.fingerprint,
                        "reason": mask(o.reason or ""),
                        "run_id": run_id,
                        "rejected_at": now,
                        "destination": o.destination,
                    }
                )
        with self.engine.begin() as conn:
            self._delete_keys(conn, synced, sync, [r["key"] for r in ok_rows] + delete_keys)
            # a departed record sent again (its row came back) or deleted (mirror) is departed no more
            self._delete_keys(conn, departed, sync, clear_rejects)
            if ok_rows:
                conn.execute(synced.insert(), ok_rows)
            self._delete_keys(conn, rejected, sync, clear_rejects + [r["key"] for r in reject_rows])
            if reject_rows:
                conn.execute(rejected.insert(), reject_rows)
            if audit_rows:
                conn.execute(audit.insert(), audit_rows)

    def refresh_source_fps(self, sync: str, pairs: Sequence[tuple[str, str]]) -> None:
        """Remember the source fingerprint of records whose payload did not change (e.g. after a mapping
        edit that left them alone), so the next diff skips mapping them."""
        if pairs:
            with self.engine.begin() as conn:
                conn.execute(
                    synced.update()
                    .where(synced.c.sync == sync, synced.c.key == sa.bindparam("k"))
                    .values(source_fp=sa.bindparam("fp")),
                    [{"k": key, "fp": fp} for key, fp in pairs],
                )

    # -- the warehouse snapshot's lag (see syncer.warehouse_diff.snapshot) -------------------

    def add_snapshot_pending(self, sync: str, keys: Iterable[str]) -> None:
        """Note keys whose state may change before the warehouse snapshot hears of it (idempotent)."""
        rows = [{"sync": sync, "key": k} for k in sorted(set(keys))]
        if not rows:
            return
        insert: Any = (
            postgresql.insert(snapshot_pending)
            if self.engine.dialect.name == "postgresql"
            else sqlite.insert(snapshot_pending)
        )
        with self.engine.begin() as conn:
            conn.execute(insert.on_conflict_do_nothing(), rows)

    def snapshot_pending(self, sync: str) -> list[str]:
        """The sync's pending keys (as many as the unmerged runs changed), sorted."""
        with self.engine.connect() as conn:
            query = sa.select(snapshot_pending.c.key).where(snapshot_pending.c.sync == sync).order_by("key")
            return list(conn.scalars(query))

    def clear_snapshot_pending(self, sync: str, keys: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            self._delete_keys(conn, snapshot_pending, sync, keys)

    # -- the `updated_at` watermark (see syncer.warehouse_diff.watermark) ----------------------

    def diff_watermark(self, sync: str) -> tuple[str, str, dt.datetime] | None:
        """(watermark as stored, spec digest, last full diff's time) of the sync, or None."""
        query = sa.select(diff_watermarks.c.watermark, diff_watermarks.c.spec, diff_watermarks.c.full_diff_at)
        with self.engine.connect() as conn:
            row = conn.execute(query.where(diff_watermarks.c.sync == sync)).first()
        return None if row is None else (row[0], row[1], row[2])

    def set_diff_watermark(
        self, sync: str, watermark: str | None, spec: str = "", full_diff_at: dt.datetime | None = None
    ) -> None:
        """Replace the sync's watermark; `watermark=None` drops it (the next diff is a full one)."""
        with self.engine.begin() as conn:
            conn.execute(diff_watermarks.delete().where(diff_watermarks.c.sync == sync))
            if watermark is not None:
                values = {"sync": sync, "watermark": watermark, "spec": spec, "full_diff_at": full_diff_at}
                conn.execute(diff_watermarks.insert().values(**values))

    def forget_removed(self, sync: str, keys: Sequence[str]) -> None:
        """Drop state for records handed over to a live row (syncer.rekeys): its record is theirs now."""
        with self.engine.begin() as conn:
            self._delete_keys(conn, synced, sync, keys)

    # -- records that left the model outside mirror mode (syncer.departed) --------------------

    def depart(self, sync: str, run_id: int, keys: Sequence[str], reason: str) -> None:
        """Move these records from synced to departed in one transaction, one audit row each (op
        "depart", `reason`): their rows left the model and the sync's mode does not delete them."""
        now = utcnow()
        columns = [c.name for c in synced.columns]
        with self.engine.begin() as conn:
            for i in range(0, len(keys), LOOKUP_CHUNK):
                chunk = keys[i : i + LOOKUP_CHUNK]
                held = sa.select(*synced.columns, sa.literal(now, TS).label("departed_at")).where(
                    synced.c.sync == sync, synced.c.key.in_(chunk)
                )
                self._delete_keys(conn, departed, sync, chunk)
                conn.execute(departed.insert().from_select([*columns, "departed_at"], held))
                self._delete_keys(conn, synced, sync, chunk)
                conn.execute(
                    audit.insert(),
                    [
                        {
                            "run_id": run_id,
                            "sync": sync,
                            "key": k,
                            "op": "depart",
                            "status": "ok",
                            "reason": reason,
                            "at": now,
                        }
                        for k in chunk
                    ],
                )

    def restore_departed(self, sync: str, keys: Sequence[str] | None = None) -> list[str]:
        """Move departed records (these keys, or all the sync's) back to synced, in one transaction; returns
        the keys moved. The warehouse snapshot is told (they are pending keys)."""
        columns = [c.name for c in synced.columns]
        with self.engine.begin() as conn:
            query = sa.select(departed.c.key).where(departed.c.sync == sync)
            found = list(conn.scalars(query)) if keys is None else list(keys)
            for i in range(0, len(found), LOOKUP_CHUNK):
                chunk = found[i : i + LOOKUP_CHUNK]
                back = sa.select(*(departed.c[c] for c in columns)).where(
                    departed.c.sync == sync, departed.c.key.in_(chunk)
                )
                self._delete_keys(conn, synced, sync, chunk)
                conn.execute(synced.insert().from_select(columns, back))
                self._delete_keys(conn, departed, sync, chunk)
        self.add_snapshot_pending(sync, found)
        return found

    def departed_records(self, sync: str) -> dict[str, Known]:
        """key -> what state holds of each departed record of the sync."""
        query = sa.select(
            departed.c.key,
            departed.c.fingerprint,
            departed.c.dest_id,
            departed.c.match_value,
            departed.c.source_fp,
            departed.c.destination,
        ).where(departed.c.sync == sync)
        with self.engine.connect() as conn:
            return {row[0]: Known(*row[1:]) for row in conn.execute(query)}

    def count_departed(self, sync: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).where(departed.c.sync == sync)) or 0)

    def held_syncs(self) -> dict[str, tuple[int, int]]:
        """sync -> (synced records, departed records), for every sync state holds records of."""
        held: dict[str, list[int]] = {}
        with self.engine.connect() as conn:
            for at, table in enumerate((synced, departed)):
                query = sa.select(table.c.sync, sa.func.count()).group_by(table.c.sync)
                for name, count in conn.execute(query):
                    held.setdefault(name, [0, 0])[at] = int(count)
        return {name: (live, gone) for name, (live, gone) in sorted(held.items())}

    def forget_sync(self, sync: str) -> dict[str, int]:
        """Drop everything state holds for a sync no mapping defines any more (syncer.orphans): its records
        (live and departed), rejects, warehouse-snapshot bookkeeping, watermark, suppressions and owner, in one
        transaction. Its runs and audit rows stay: the history of what was sent. Returns counts by kind."""
        from syncer.suppression import suppressed_keys

        removed: dict[str, int] = {}
        with self.engine.begin() as conn:
            for name, table in (
                ("records", synced),
                ("departed", departed),
                ("rejected", rejected),
                ("pending", snapshot_pending),
                ("watermark", diff_watermarks),
                ("suppressed", suppressed_keys),
                ("owner", sync_owners),
            ):
                removed[name] = int(conn.execute(table.delete().where(table.c.sync == sync)).rowcount or 0)
        return removed

    @staticmethod
    def _delete_keys(conn: sa.Connection, table: sa.Table, sync: str, keys: Sequence[str]) -> None:
        for i in range(0, len(keys), LOOKUP_CHUNK):
            conn.execute(table.delete().where(table.c.sync == sync, table.c.key.in_(keys[i : i + LOOKUP_CHUNK])))

    # -- audit, retention, erasure ------------------------------------------------------------

    def audit_rows(
        self,
        sync: str | None = None,
        key: str | None = None,
        run_id: int | None = None,
        status: str | None = None,
        limit: int = 100,
        current: bool = False,
    ) -> list[dict[str, Any]]:
        """Audit rows, newest first, each with `resolved`: for a rejection, True once it is no longer the record's
        current one (a later run sent the row, or rejected it again: `rejected_records` holds the current
        rejection of each key); None for every other row. `current`: only the rejections still current."""
        held = sa.exists().where(
            rejected.c.sync == audit.c.sync, rejected.c.key == audit.c.key, rejected.c.run_id == audit.c.run_id
        )
        query = sa.select(audit, held.label("is_current")).order_by(audit.c.id.desc()).limit(limit)
        for column, value in (
            (audit.c.sync, sync),
            (audit.c.key, key),
            (audit.c.run_id, run_id),
            (audit.c.status, "rejected" if current else status),
        ):
            if value is not None:
                query = query.where(column == value)
        if current:
            query = query.where(held)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        for row in rows:
            is_current = row.pop("is_current")
            row["resolved"] = None if row["status"] != "rejected" else not is_current
        return rows

    def rejected_counts(self) -> dict[str, int]:
        """sync -> rows whose latest outcome is a rejection (`rejected_records`): what `audit --status rejected`
        lists by default."""
        query = sa.select(rejected.c.sync, sa.func.count()).group_by(rejected.c.sync)
        with self.engine.connect() as conn:
            return {name: int(n) for name, n in conn.execute(query)}

    def rejected_rows(self, sync: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = sa.select(rejected).order_by(rejected.c.rejected_at.desc()).limit(limit)
        if sync:
            query = query.where(rejected.c.sync == sync)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def prune_audit(self, older_than_days: int) -> int:
        cutoff = utcnow() - dt.timedelta(days=older_than_days)
        with self.engine.begin() as conn:
            return int(conn.execute(audit.delete().where(audit.c.at < cutoff)).rowcount or 0)

    def stored_key(self, typed: str, sync: str | None = None) -> str | None:
        """The stored key a key typed by a person names (`identity.typed_keys`: a composite key as a JSON array),
        the first that state, departed records, rejects or audit rows of `sync` (any sync: None) hold; None when
        none does, so `forget` and `audit --key` can say it matched nothing."""
        with self.engine.connect() as conn:
            for candidate in typed_keys(typed):
                for table in (synced, departed, rejected, audit):
                    query = sa.select(table.c.key).where(table.c.key == candidate).limit(1)
                    if conn.execute(query.where(table.c.sync == sync) if sync else query).first() is not None:
                        return candidate
        return None

    def forget(self, key: str, sync: str | None = None) -> dict[str, int]:
        """Erase every trace of a record (GDPR): state, rejects and audit rows. Returns counts."""
        removed: dict[str, int] = {}
        with self.engine.begin() as conn:
            holders = sorted(
                {
                    holder
                    for table in (synced, departed)
                    for holder in conn.scalars(
                        sa.select(table.c.sync).where(table.c.key == key, *([table.c.sync == sync] if sync else []))
                    )
                }
            )
            # the key must not stay behind as a pending key: its syncs' warehouse snapshots are rebuilt
            conn.execute(snapshot_pending.delete().where(snapshot_pending.c.key == key))
            for holder in holders:
                pending = snapshot_pending.c.sync == holder, snapshot_pending.c.key == SNAPSHOT_REBUILD
                conn.execute(snapshot_pending.delete().where(*pending))
                conn.execute(snapshot_pending.insert().values(sync=holder, key=SNAPSHOT_REBUILD))
            for name, table in (("state", synced), ("state", departed), ("rejected", rejected), ("audit", audit)):
                query = table.delete().where(table.c.key == key)
                if sync:
                    query = query.where(table.c.sync == sync)
                removed[name] = removed.get(name, 0) + int(conn.execute(query).rowcount or 0)
        return removed


def _audited_counts(conn: sa.Connection, run_id: int) -> dict[str, int]:
    """succeeded, failed and rejected of a run that ended without its summary (killed, or raised), as its audit
    rows count them: one per record the destination answered, written with state in one transaction per batch."""
    query = sa.select(audit.c.status, sa.func.count()).where(audit.c.run_id == run_id).group_by(audit.c.status)
    by_status = {status: int(n) for status, n in conn.execute(query)}
    return {
        "succeeded": by_status.get("ok", 0),
        "failed": by_status.get("failed", 0),
        "rejected": by_status.get("rejected", 0),
    }


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
