"""The `updated_at` watermark: a warehouse diff reads only the rows changed since the last run.

A model that declares `updated_at` (a column the warehouse sets on every insert and update) is
diffed over a window instead of the whole model:

    window = model rows with updated_at >= watermark - updated_at_lookback, or updated_at IS NULL

`window_sql` returns the window's rows whose fingerprint differs from the snapshot's (or that it
lacks), and in the same statement the model's and the snapshot's row counts, the model's highest
`updated_at`, the most returned rows that share one key, and the sums of a 64-bit hash of every key
(`Dialect.key_hash`) in the model, in the snapshot and in the window rows the snapshot lacks. The
window stands only when the model's keys are the snapshot's plus those new ones: both the row counts
and the key sums agree (snapshot + new - model = 0), and no returned key repeats. A count alone is
not enough: a row inserted, duplicated or re-keyed with an old `updated_at` (a backfill) cancels a
removed row in the counts, not in the key sums (unless two keys' hashes collide: odds 2^-64). With
the sums equal, a key can repeat only between returned rows (each snapshot key is in the model once),
so no join of the window's keys against the model is needed (PostgreSQL 5M rows: 0.64 s saved).
Otherwise the differ discards the window
(nothing was handed on) and runs the full statement, which finds removed and repeated keys
exactly. So the only rows a window can miss are rows whose values changed without bumping
`updated_at` (or that commit later than the lookback): the next full diff (`full_diff_every`)
finds them. The key sums scan the key columns of the model and the snapshot (DuckDB 5M rows:
about 0.2 CPU s each).

The window is used (`Window.open`) only when: the model declares `updated_at`, state holds a
watermark read under the same spec digest (mapping, model SQL, `updated_at`), the last full diff is
younger than `full_diff_every`, the snapshot needs no healing, the run is not `--full` or `--full-diff`, the last
run left no row out of sync (its watermark was dropped then: held rows are counted by the full
statement only), and no match value a window row holds is shared with another row
(`Source.shares_match_values`, a semi-join on the window: the model is not grouped; a collision
must be rejected on every row of it, old ones included, which only the full statement returns).
Key checks then cover the window only; when the window gives way, the full statement gets the
model's (`WarehouseDiffer.model_keys`). After a run (`Window.record`, from `modes.after_run`, after the acknowledgements
and the snapshot merge), state's watermark becomes:

    every row that needed work acknowledged  -> the highest updated_at read (a full diff: and its time)
    rows failed (retryable), window diff     -> unchanged: the window reads them again
    anything else (rejected, held, a full    -> dropped: the next diff is a full one
    diff with failures)

The watermark stored is never later than the run's start: a row dated in the future is warned of
and would otherwise park the window there (`future_dated`).

Re-reading rows is idempotent (the fingerprint compare finds them unchanged), so a crash between the
acknowledgements and the watermark write only re-reads the window. Plans write nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from syncer import failpoints
from syncer.diff import Tally
from syncer.errors import FatalError
from syncer.state import StateStore, utcnow
from syncer.warehouse_diff import future_dated
from syncer.warehouse_diff.dialects import Dialect
from syncer.warehouse_diff.differ import (
    COUNTS,
    FP,
    KEY,
    KEY_ROWS,
    KEY_SUMS,
    MAX_UPDATED,
    MODEL_ONLY_SQL,
    MOST_KEY_ROWS_SQL,
    SNAPSHOT_KEY,
    Statement,
)

log = logging.getLogger("syncer.warehouse_diff")

MODEL_ROWS, SNAPSHOT_ROWS, MODEL_ONLY, SNAPSHOT_ONLY, MOST_KEY_ROWS = COUNTS


def encode(value: Any) -> str:
    """A watermark as state stores it: `datetime:<ISO 8601>` (zone kept when the warehouse gave one,
    microseconds kept) or `date:<ISO 8601>`; FatalError for any other type."""
    if isinstance(value, dt.datetime):
        return "datetime:" + value.isoformat()
    if isinstance(value, dt.date):
        return "date:" + value.isoformat()
    raise FatalError(  # the value itself is the warehouse's data: not repeated in a message
        f"model.updated_at: the warehouse returned a {type(value).__name__}; updated_at must be a TIMESTAMP or "
        "DATE column (`syncer check` tests it)"
    )


def decode(text: str) -> dt.datetime | dt.date:
    kind, _, value = text.partition(":")
    return dt.datetime.fromisoformat(value) if kind == "datetime" else dt.date.fromisoformat(value)


def bound_literal(dialect: Dialect, since: dt.datetime | dt.date, lookback: dt.timedelta) -> str:
    """SQL literal of the window's lower bound `since - lookback` (a DATE loses whole days only); the
    warehouse casts the text to the column's type (PostgreSQL, DuckDB, Snowflake, BigQuery do)."""
    bound = since - lookback
    return dialect.literal(bound.isoformat(sep=" ") if isinstance(bound, dt.datetime) else bound.isoformat())


def window_rows(statement: Statement, bound: str) -> str:
    """The model rows with `updated_at` at or after `bound` (a literal), or NULL."""
    updated_at = statement.updated_at
    assert updated_at is not None, "a window needs model.updated_at"
    return f"SELECT * FROM ({statement.model_sql}) AS w0 WHERE w0.{updated_at} >= {bound} OR w0.{updated_at} IS NULL"


def window_sql(statement: Statement, bound: str) -> str:
    """The window statement (module docstring) for a `statement` with `updated_at`, `bound` the lower
    bound's literal. Columns: the window rows as `plan_sql` returns them, its counts (SNAPSHOT_ONLY and
    MOST_KEY_ROWS over the returned rows) and MAX_UPDATED; at least one row."""
    model_sql, primary_key, updated_at = statement.model_sql, statement.primary_key, statement.updated_at
    window = window_rows(statement, bound)
    snap = statement.snapshot_rows()
    if statement.dialect.name == "postgresql":  # one probe of the snapshot's primary key per window row:
        # a hash join reads all of it (5M rows: 2.2 s of a 5.8 s statement; the lateral probes 0.2 s)
        table, sync = statement.snapshot.table, statement.dialect.literal(statement.sync)
        # LIMIT 1 (the key is unique) keeps the planner from flattening it back into a hash join
        probe = f"SELECT s0.key, s0.fingerprint FROM {table} AS s0 WHERE s0.sync = {sync} AND s0.key = m.{KEY} LIMIT 1"
        join = f"LEFT JOIN LATERAL ({probe}) AS s ON TRUE"
    else:  # no index to probe (DuckDB, Snowflake, BigQuery): one hash join
        join = f"LEFT JOIN ({snap}) AS s ON s.key = m.{KEY}"
    diff = (
        f"SELECT m.*, s.key AS {SNAPSHOT_KEY} FROM ({statement.keyed('SELECT * FROM syncer_window')}) AS m "
        f"{join} WHERE s.key IS NULL OR s.fingerprint IS DISTINCT FROM m.{FP}"
    )
    keyed = f"SELECT d.*, COUNT(*) OVER (PARTITION BY d.{KEY}) AS {KEY_ROWS} FROM ({diff}) AS d"
    dialect = statement.dialect
    model_keys, snapshot_keys, added_keys = KEY_SUMS
    key_hash = dialect.key_hash.format
    # one scan of each side for its count, its key sum (and the model's newest updated_at): PostgreSQL
    # 5M rows, 1%: four scans of 0.4-0.9 s each became two
    model_side = (
        f"SELECT COUNT(*) AS n, MAX(c0.{updated_at}) AS newest, "
        f"SUM({key_hash(dialect.key(primary_key))}) AS keys FROM ({model_sql}) AS c0"
    )
    snapshot_side = f"SELECT COUNT(*) AS n, SUM({key_hash('c1.key')}) AS keys FROM ({snap}) AS c1"
    counts = (
        f"SELECT cm.n AS {MODEL_ROWS}, cs.n AS {SNAPSHOT_ROWS}, cm.newest AS {MAX_UPDATED}, "
        f"cm.keys AS {model_keys}, cs.keys AS {snapshot_keys} "
        f"FROM ({model_side}) AS cm CROSS JOIN ({snapshot_side}) AS cs"
    )
    added = f"SUM(CASE WHEN x.{SNAPSHOT_KEY} IS NULL AND x.{FP} IS NOT NULL THEN {key_hash(f'x.{KEY}')} END) OVER ()"
    return (
        f"WITH syncer_window AS ({window}) "
        f"SELECT x.*, c.{MODEL_ROWS}, c.{SNAPSHOT_ROWS}, c.{MAX_UPDATED}, "
        f"c.{model_keys}, c.{snapshot_keys}, {added} AS {added_keys}, "
        f"{MODEL_ONLY_SQL}, 0 AS {SNAPSHOT_ONLY}, {MOST_KEY_ROWS_SQL} "
        f"FROM ({counts}) AS c LEFT JOIN ({keyed}) AS x ON 1 = 1 ORDER BY x.{KEY}"
    )


def spec_digest(fingerprint_prefix: str, model_sql: str, updated_at: str, updated_at_type: str | None = None) -> str:
    """What a watermark was read under: the mapping's fingerprint prefix, the model SQL, the column and
    its type (a TIMESTAMP turned TIMESTAMPTZ would read a zone-less watermark in the session's zone:
    hours of changes outside the window)."""
    text = "\x1f".join((fingerprint_prefix, model_sql, updated_at, updated_at_type or ""))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass
class Window:
    """One diff's watermark bookkeeping. `since`: the stored watermark when the window statement runs
    (None: the full statement); `read_max`, `read_at`: the highest updated_at the statement read, and
    when it started (set by the differ at its first row)."""

    sync: str
    digest: str
    since: dt.datetime | dt.date | None = None
    full_diff_at: dt.datetime | None = None
    read_max: dt.datetime | dt.date | None = None
    read_at: dt.datetime | None = None
    fell_back: bool = False  # the window statement ran and gave way to the full one
    column: str = "updated_at"  # model.updated_at, and the lookback: for the future-dated warning
    lookback: dt.timedelta = dt.timedelta(0)

    @classmethod
    def open(
        cls,
        state: StateStore,
        sync: str,
        digest: str,
        full_diff_every: dt.timedelta,
        snapshot_current: bool,
        lookback: dt.timedelta = dt.timedelta(0),
        full_diff: bool = False,
        column: str = "updated_at",
    ) -> Window:
        """The window to diff over, if every condition of the module docstring holds (else `since` None);
        `lookback` only words the log line: the rows read start at the watermark minus it. `full_diff`: the
        user asked for a full diff (`--full-diff`)."""
        window = cls(sync, digest, column=column, lookback=lookback)
        stored = state.diff_watermark(sync)
        why = "no watermark yet (or the last run left rows out of sync)"
        if stored is not None:
            value, spec, full_diff_at = stored
            if full_diff:
                why = "asked for (--full-diff)"
            elif spec != digest:
                why = "the mapping or model changed since the watermark was read"
            elif utcnow() - full_diff_at >= full_diff_every:
                why = f"the last full diff ran at {full_diff_at:%Y-%m-%d %H:%M:%S} UTC (full_diff_every)"
            elif not snapshot_current:
                why = "the warehouse snapshot was healed"
            else:
                window.since, window.full_diff_at = decode(value), full_diff_at
                start = (window.since - lookback).isoformat()
                log.info(
                    "sync %s: diffing the rows updated since %s (model.updated_at: the last run read up to %s, "
                    "minus updated_at_lookback)",
                    sync,
                    start,
                    value.partition(":")[2],
                )
                return window
        log.info("sync %s: full diff: %s", sync, why)
        return window

    def close(self, why: str) -> None:
        """Before the statement: the full one runs instead (`why` is logged)."""
        log.info("sync %s: full diff: %s", self.sync, why)
        self.since = None

    def start(self, read_max: Any) -> None:
        """The statement's first row arrived: what it read, and when the full diff was made."""
        if read_max is not None:
            encode(read_max)  # FatalError before anything is handed on when it is not a timestamp
        self.read_max, self.read_at = read_max, utcnow()
        self.warn_future_dated()

    def warn_future_dated(self) -> None:
        """Warn when the newest updated_at read is more than the lookback ahead of the read's start."""
        read_max = self.read_max
        if read_max is None:
            return
        distance = future_dated.ahead(read_max, self.read_at or utcnow())
        if distance > self.lookback:
            log.warning(future_dated.warning(self.sync, self.column, read_max, distance))

    def read(self, newest: Any) -> None:
        """A diff that streams the model (`columnar.window`) read rows whose highest updated_at is
        `newest` (None: none): the first call marks the read's start; `warn_future_dated` after the last."""
        if self.read_at is None:
            self.read_at = utcnow()
        if newest is not None and (self.read_max is None or _later(newest, self.read_max)):
            encode(newest)  # FatalError when it is not a timestamp
            self.read_max = newest

    def fall_back(self) -> None:
        """The window could not stand for the whole diff: the full statement runs instead."""
        log.info(
            "sync %s: full diff: the model's keys are not the snapshot's plus the window's new ones "
            "(a row was removed, re-keyed, duplicated or inserted with an older updated_at)",
            self.sync,
        )
        self.since, self.fell_back = None, True

    def record(self, state: StateStore, failed: int, unsent: int) -> None:
        """After a run's acknowledgements and snapshot merge (the table in the module docstring);
        `failed`: rows whose write failed (retryable); `unsent`: rows rejected or held out of sync."""
        if failed == 0 and unsent == 0 and self.read_max is not None:
            newest = future_dated.at_most(self.read_max, self.read_at or utcnow())  # never parked in the future
            if self.since is not None and _later(self.since, newest):
                newest = self.since  # the newest rows left the model: the window stays where it was
            full_diff_at = self.full_diff_at if self.since is not None else self.read_at
            state.set_diff_watermark(self.sync, encode(newest), self.digest, full_diff_at or utcnow())
        elif unsent == 0 and self.since is not None:
            return  # failed rows only: the window reads them again
        else:
            state.set_diff_watermark(self.sync, None)


def record_after_run(window: Window | None, state: StateStore, tally: Tally, failed: int, unsent: int) -> None:
    """After a run's acknowledgements (warehouse mode: and the snapshot merge): move the watermark
    (`Window.record`); rows held out of sync or deletes held back count as unsent. No window: nothing."""
    if window is None:
        return
    failpoints.hit("before_watermark_write")  # acknowledged (and merged), the watermark not moved
    held = sum(tally.out_of_sync.values()) + tally.held_deletes
    window.record(state, failed, unsent + held)


def _later(a: dt.datetime | dt.date, b: dt.datetime | dt.date) -> bool:
    """a > b; False when they cannot be compared (the column's type changed: the new value wins)."""
    try:
        return type(a) is type(b) and a > b  # type: ignore[operator]
    except TypeError:  # a zone-aware and a naive datetime
        return False
