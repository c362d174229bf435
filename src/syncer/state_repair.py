"""`syncer state check` and `syncer state rebuild`: look at a state store without migrating it, and
replace a damaged SQLite file by a fresh one that keeps every row still readable.

    check    PRAGMA integrity_check (SQLite), the alembic version against head, orphan runs
             (status `running` with no live lease: a runner that was killed)
    rebuild  move `state.sqlite` (and its -wal/-shm) aside to `state.sqlite.damaged-<UTC stamp>`,
             migrate a fresh file, copy every readable row back table by table (chunks of rowids, so
             one bad page loses its chunk, not the table), and say what the next runs will do

Rows that could not be copied are what the next runs rebuild: a synced record not in state is sent
again (an idempotent upsert keyed on its match value), a run or audit row is gone for good, and an
alert whose rows were lost is opened again while its trigger still fires.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

from syncer.errors import StateError
from syncer.secrets import masked_first_line
from syncer.state_health import describe_location

CHUNK = 500
SYNC_TABLES = ("synced_records", "rejected_records")  # what decides whether a record is sent again
ALERT_TABLES = ("alerts", "alert_pairs", "alert_outbox")  # what keeps an alert from pinging twice


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Rebuilt:
    moved_to: str
    copied: dict[str, int] = field(default_factory=dict)
    lost: dict[str, str] = field(default_factory=dict)  # table -> why (unreadable chunks / table)

    def next_run(self) -> list[str]:
        """What the next runs will do because of the rows that were lost, in plain words."""
        notes = []
        if any(t in self.lost for t in SYNC_TABLES):
            notes.append(
                "records missing from synced_records are sent again by the next run of their sync "
                "(idempotent upserts: the destination ends the same)"
            )
        if any(t in self.lost for t in ALERT_TABLES):
            notes.append(
                "alerts whose rows were lost open again while their trigger still fires, and their pings and "
                "CRM tasks go out again (an alert's key includes when it opened, so the lookups before sending "
                "cannot recognise the earlier ones)"
            )
        return notes or ["nothing: every row was copied; the next runs send only real changes"]


def head_revision() -> str:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def check_state(url: str) -> list[Check]:
    """Every check, without migrating or repairing anything. A failed check has a detail to act on."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return [Check("exists", False, f"{path} does not exist yet: the next command creates it")]
    checks = []
    if path is not None:
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                result = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as exc:
            result = [str(exc)]
        ok = result == ["ok"]
        checks.append(Check("integrity", ok, "ok" if ok else "; ".join(result[:5])))
        if not ok:
            return checks
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, hide_parameters=True)
    try:
        with engine.connect() as conn:
            version = _scalar(conn, "SELECT version_num FROM alembic_version")
            head = head_revision()
            checks.append(
                Check(
                    "migration",
                    version == head,
                    f"at {version}, head {head}" + ("" if version == head else ": the next command upgrades it"),
                )
            )
            orphans = _orphans(conn)
            checks.append(
                Check(
                    "orphan runs",
                    not orphans,
                    "none"
                    if not orphans
                    else f"runs {', '.join(map(str, orphans))} say running but no runner holds their lease "
                    "(killed); the next run of each sync marks them interrupted",
                )
            )
    except sa.exc.SQLAlchemyError as exc:
        checks.append(Check("readable", False, masked_first_line(str(getattr(exc, "orig", exc)))))
    finally:
        engine.dispose()
    return checks


def _scalar(conn: sa.Connection, sql: str) -> Any:
    try:
        return conn.execute(sa.text(sql)).scalar()
    except sa.exc.SQLAlchemyError:
        conn.rollback()
        return None


def _orphans(conn: sa.Connection) -> list[int]:
    now = dt.datetime.now(dt.UTC)
    rows = conn.execute(sa.text("SELECT id, sync FROM runs WHERE status = 'running' ORDER BY id")).all()
    live = {
        name
        for name, expires in conn.execute(sa.text("SELECT name, expires_at FROM leases")).all()
        if _aware(expires) >= now
    }
    return [int(run_id) for run_id, sync in rows if sync not in live]


def _aware(value: Any) -> dt.datetime:
    moment: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def rebuild_state(url: str, now: dt.datetime | None = None) -> Rebuilt:
    """Move the SQLite state aside, start a fresh one and copy back every row that can be read."""
    from syncer.state import StateStore  # opening it migrates the fresh file

    path = sqlite_path(url)
    location = describe_location(url)
    if path is None:
        raise StateError(
            location,
            "rebuild works on the SQLite state file only",
            "For PostgreSQL, restore a backup or recreate the database; syncer never drops tables.",
        )
    if not path.exists():
        raise StateError(location, "there is no state file to rebuild", "The next command creates a fresh one.")
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.rename(Path(f"{aside}{suffix}"))
    report = Rebuilt(str(aside))
    StateStore(url).close()  # a fresh file at head
    _copy_rows(aside, path, report)
    _rebuild_snapshots(path)
    return report


def _rebuild_snapshots(path: Path) -> None:
    """Rows may have been lost: every sync's warehouse snapshot (diff = "warehouse") is rebuilt from
    this state by its next run, or it could hold records state no longer has and hide them."""
    from syncer.state import SNAPSHOT_REBUILD

    target = sqlite3.connect(path)
    try:
        with target:
            target.execute(
                "INSERT OR IGNORE INTO snapshot_pending (sync, key) "
                "SELECT sync, ? FROM runs UNION SELECT sync, ? FROM synced_records",
                (SNAPSHOT_REBUILD, SNAPSHOT_REBUILD),
            )
    finally:
        target.close()


def _copy_rows(old: Path, new: Path, report: Rebuilt) -> None:
    """Both files are SQLite: values are copied as stored, no type round trip."""
    target = sqlite3.connect(new)
    tables = {
        name: [c[1] for c in target.execute(f'PRAGMA table_info("{name}")')]
        for (name,) in target.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if name not in ("alembic_version", "synced_generations")  # tokens: the fresh file's triggers set new ones
    }
    try:
        source = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        report.lost = {t: f"unreadable file: {exc}" for t in tables}
        target.close()
        return
    try:
        with target:  # the old state's project id, not the fresh file's (syncer.project): same identities
            target.execute("DELETE FROM project_identity")
        for name, columns in tables.items():
            copied, failed = _copy_table(source, target, name, columns)
            report.copied[name] = copied
            if failed:
                report.lost[name] = failed
    finally:
        source.close()
        target.close()


def _copy_table(
    source: sqlite3.Connection, target: sqlite3.Connection, name: str, columns: list[str]
) -> tuple[int, str]:
    """Copy one table in rowid chunks; returns (rows copied, why some were not) — '' when none were lost."""
    quoted = ", ".join(f'"{c}"' for c in columns)
    insert = f'INSERT INTO "{name}" ({quoted}) VALUES ({", ".join("?" for _ in columns)})'
    try:
        top = source.execute(f'SELECT MAX(rowid) FROM "{name}"').fetchone()[0] or 0
    except sqlite3.DatabaseError as exc:
        # the b-tree's last page may be what broke: walk forward until a chunk reads empty
        top, why = None, str(exc)
    else:
        why = ""
    copied, start, bad_chunks = 0, 0, 0
    while top is None or start <= top:
        try:
            rows = source.execute(
                f'SELECT {quoted} FROM "{name}" WHERE rowid > ? AND rowid <= ? ORDER BY rowid',
                (start, start + CHUNK),
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            bad_chunks += 1
            why = str(exc)
            rows = []
        if rows:
            with target:
                target.executemany(insert, rows)
            copied += len(rows)
        elif top is None and not bad_chunks:
            break
        start += CHUNK
        if top is None and bad_chunks > 100:
            break
    if bad_chunks or why:
        return copied, f"{bad_chunks} unreadable chunk(s) of {CHUNK} rows ({why})"
    return copied, ""
