"""The state store's health: where it is, how a damaged or unreachable store is reported, and the
engine migrations run on.

A damaged store is a named condition, not an anonymous crash: `named_state_error` turns the driver's
"database disk image is malformed" (or "file is not a database", "unable to open", a refused
PostgreSQL connection) into a StateError that names the location, says what happened and what is
safe to do. StateStore installs it as a `handle_error` hook, so every query anywhere (runner, alert
engine, daemon) reports damage the same way. Exit code 2 (syncer.errors.ExitCode).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncer import failpoints
from syncer.errors import StateError
from syncer.secrets import mask, masked_first_line

REBUILD_REMEDY = (
    "Nothing sent to a destination is lost. `syncer state check` shows the damage; `syncer state rebuild` moves "
    "the file aside and starts a fresh state: the next run re-sends every record once (upserts are idempotent), "
    "and alerts look their tasks and pings up before creating any, so none is duplicated."
)
FOLDER_REMEDY = "Check that [syncer] data_dir exists and is writable, or set [syncer] state_url."
SERVER_REMEDY = "Check [syncer] state_url, that the server is up and that its credentials are right; then run again."
DISK_REMEDY = "Free disk space or fix the disk, then run again; `syncer state check` verifies the file afterwards."
DAMAGED = ("malformed", "not a database", "database corrupt", "file is encrypted")


def describe_location(url: str) -> str:
    """The state store as a person would name it: a file path, or the URL without its password."""
    if url.startswith("sqlite:///"):
        return str(Path(url.removeprefix("sqlite:///")).resolve())
    return mask(sa.make_url(url).render_as_string(hide_password=True))


def named_state_error(location: str, exc: BaseException) -> StateError | None:
    """The StateError a driver error stands for, or None when it is not about the store's health."""
    module = type(exc).__module__
    text = masked_first_line(str(exc)) if str(exc) else type(exc).__name__
    if module.startswith("sqlite3"):
        lowered = text.lower()
        if any(word in lowered for word in DAMAGED):
            return StateError(location, f"the file is damaged (SQLite: {text})", REBUILD_REMEDY)
        if "unable to open" in lowered or "readonly" in lowered:
            return StateError(location, f"the file cannot be opened for writing (SQLite: {text})", FOLDER_REMEDY)
        if "disk i/o" in lowered or "disk is full" in lowered:
            return StateError(location, f"the disk refused a write (SQLite: {text})", DISK_REMEDY)
    if module.startswith("psycopg") and type(exc).__name__ == "OperationalError":
        return StateError(location, f"unreachable (PostgreSQL: {mask(text)})", SERVER_REMEDY)
    return None


def _named(location: str) -> Any:
    def hook(context: sa.engine.ExceptionContext) -> None:
        error = named_state_error(location, context.original_exception)
        if error is not None:
            raise error from context.original_exception

    return hook


def install_health_hook(engine: sa.Engine, location: str) -> None:
    sa.event.listen(engine, "handle_error", _named(location))


def leftover_step_error(location: str, exc: sa.exc.OperationalError) -> BaseException:
    """A step whose objects already exist: an older syncer (before atomic migrations) was cut off there."""
    text = masked_first_line(str(exc.orig or exc))
    if "already exists" in text or "duplicate column" in text:
        return StateError(
            location,
            f"a schema upgrade by an older syncer was cut off and left its tables behind ({text})",
            REBUILD_REMEDY,
        )
    return exc


def migration_engine(url: str) -> sa.Engine:
    """An engine whose transactions really contain DDL, with a failpoint after every DDL statement.

    pysqlite neither BEGINs before DDL nor lets SQLAlchemy do so; the documented workaround
    (SQLAlchemy, "Serializable isolation / Savepoints / Transactional DDL" for pysqlite) turns its
    own transaction handling off and emits BEGIN from the `begin` event. Each migration step and its
    version stamp then commit together, on SQLite as on PostgreSQL.
    """
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, hide_parameters=True)
    if engine.dialect.name == "sqlite":

        def connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # no implicit BEGIN / COMMIT from pysqlite
            dbapi_conn.execute("PRAGMA busy_timeout=30000")
            dbapi_conn.execute("PRAGMA journal_mode=WAL")

        def begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now: no upgrade from a read snapshot

        sa.event.listen(engine, "connect", connect)
        sa.event.listen(engine, "begin", begin)
    sa.event.listen(engine, "after_cursor_execute", _ddl_failpoint)
    return engine


def _ddl_failpoint(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    """`SYNCER_FAILPOINT=migration_ddl:N` kills the process right after the Nth DDL statement."""
    if statement.lstrip().upper().startswith(("CREATE", "ALTER", "DROP")):
        failpoints.hit("migration_ddl")


@contextlib.contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """SQLite: one process migrates a file at a time (an flock on `<file>.migrate.lock` beside it);
    PostgreSQL serialises with an advisory lock inside StateStore.migrate instead."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        yield
        return
    lock_path = Path(url.removeprefix("sqlite:///") + ".migrate.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
