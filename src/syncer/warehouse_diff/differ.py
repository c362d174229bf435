"""The warehouse differ: one SQL statement returns only the rows that can need work, and says
whether any primary key repeats.

    d: SELECT m.*, s.key FROM (model + key + fingerprint) AS m
       FULL JOIN (this sync's snapshot) AS s ON s.key = m.key
       WHERE m.key IS NULL OR s.key IS NULL OR s.fingerprint IS DISTINCT FROM m.fingerprint
          OR m.key IN (problem keys)
    SELECT d.*, rows of d's key, model rows, snapshot rows, model-only rows of d, snapshot-only
           rows of d (windows over d, counts in the same statement) ORDER BY key

One hash join on the key: the model is scanned once, the fingerprint computed in SQL, and only
added, changed, removed and NULL-keyed rows leave the warehouse. A returned row with no
fingerprint is a snapshot key that left the model (removed); every other returned row goes
through the row path's own rules (`Differ._key`, `Differ._compare`: mapping, payload fingerprints,
held rejections). Rows not returned are unchanged: they are counted, never fetched. Python work and
memory are proportional to the returned rows. They come sorted by key, the order of state's index:
each chunk's state lookup then reads neighbouring pages (1M rows, 20% changed: the lookups 1.2 s
instead of 3.7 s in hash order, 2.4 s in model order; measured under cProfile). Every returned key
is checked against `row_key`: a row whose key the warehouse writes unlike syncer (a DOUBLE key's
1e20) never joins its snapshot row, so it is diffed by syncer's key on every run and its snapshot
row is not taken for a removed one (`WarehouseDiffer._keyed`).

Duplicated keys without a GROUP BY over the model (`repeats`): snapshot keys are unique, so every
model row the join matched matched one snapshot row, and no snapshot key matched two model rows
exactly when (model rows - model-only rows) = (snapshot rows - snapshot-only rows); a repeated key
the snapshot lacks has all its rows returned (rows of its key > 1). Both are known at the first
row (the windows run over the returned rows only), before anything is handed on. When either says
a key repeats, the whole key check runs (`KeyReport`, as every other mode) and the statement runs
again with the problem keys (duplicated keys, colliding match values) written into it, so their
rows are returned and rejected whether or not they changed.

In a run, every key a chunk of changes may write to state is noted in state's `snapshot_pending`
before the chunk is handed on (see `snapshot`), so a crash anywhere leaves the lag on record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from syncer.columnar.state_columns import StateReader, known_records
from syncer.diff import CHUNK, Change, Differ
from syncer.identity import IdentityError
from syncer.keycheck import KeyReport
from syncer.source import Source, column_names, fetched, row_key
from syncer.state import Known
from syncer.warehouse_diff.dialects import Dialect
from syncer.warehouse_diff.snapshot import Snapshot

if TYPE_CHECKING:
    from syncer.warehouse_diff.watermark import Window

log = logging.getLogger("syncer.warehouse_diff")

KEY, FP, SNAPSHOT_KEY = "syncer_key__", "syncer_fp__", "syncer_snapshot_key__"
KEY_ROWS, MOST_KEY_ROWS = "syncer_key_rows__", "syncer_most_key_rows__"
MODEL_ROWS, SNAPSHOT_ROWS = "syncer_model_rows__", "syncer_snapshot_rows__"
MODEL_ONLY, SNAPSHOT_ONLY = "syncer_model_only__", "syncer_snapshot_only__"
MAX_UPDATED = "syncer_max_updated__"  # see `watermark`
KEY_SUMS = ("syncer_model_keys__", "syncer_snapshot_keys__", "syncer_added_keys__")  # see `watermark`
COUNTS = (MODEL_ROWS, SNAPSHOT_ROWS, MODEL_ONLY, SNAPSHOT_ONLY, MOST_KEY_ROWS)
OURS = frozenset({KEY, FP, SNAPSHOT_KEY, KEY_ROWS, MAX_UPDATED, *COUNTS, *KEY_SUMS})


@dataclass(frozen=True)
class Statement:
    """What a diff statement is made of (`plan_sql`, `watermark.window_sql`): `prefix` is a hex digest
    of the mapping spec and column types, `primary_key` and `inputs` quoted columns, `types` the inputs'
    types (`dialects.model_types`, None where the dialect does not hash by type), `updated_at` the quoted
    `model.updated_at` column or None."""

    dialect: Dialect
    snapshot: Snapshot
    sync: str
    model_sql: str
    primary_key: Sequence[str]
    inputs: Sequence[str]
    prefix: str
    types: Mapping[str, str] | None = None
    updated_at: str | None = None

    def keyed(self, rows_sql: str) -> str:
        """`rows_sql`'s rows with their key and source fingerprint, computed in SQL."""
        fingerprint = self.dialect.fingerprint(self.prefix, self.inputs, self.types)
        return (
            f"SELECT m0.*, {self.dialect.key(self.primary_key)} AS {KEY}, {fingerprint} AS {FP} FROM ({rows_sql}) AS m0"
        )

    def snapshot_rows(self) -> str:
        return f"SELECT key, fingerprint FROM {self.snapshot.table} WHERE sync = {self.dialect.literal(self.sync)}"


# over the returned rows: how many are model rows the snapshot lacks
MODEL_ONLY_SQL = (
    f"SUM(CASE WHEN x.{SNAPSHOT_KEY} IS NULL AND x.{FP} IS NOT NULL THEN 1 ELSE 0 END) OVER () AS {MODEL_ONLY}"
)
# over the returned rows (each with KEY_ROWS, how many returned rows share its key): the most of one key
MOST_KEY_ROWS_SQL = f"MAX(CASE WHEN x.{KEY} IS NULL THEN 1 ELSE x.{KEY_ROWS} END) OVER () AS {MOST_KEY_ROWS}"


def plan_sql(statement: Statement, problem_keys: Iterable[str] = ()) -> str:
    """The one statement (see the module docstring); `problem_keys`: keys whose rows always return.
    With `statement.updated_at`, the counts also carry its MAX (`watermark`). It returns at least one
    row: with nothing returned, one row of NULLs carries the counts."""
    dialect, model_sql, updated_at = statement.dialect, statement.model_sql, statement.updated_at
    model, snap = statement.keyed(model_sql), statement.snapshot_rows()
    where = [f"m.{KEY} IS NULL", "s.key IS NULL", f"s.fingerprint IS DISTINCT FROM m.{FP}"]
    problems = sorted(set(problem_keys))
    if problems:
        where.append(f"m.{KEY} IN ({', '.join(dialect.literal(k) for k in problems)})")
    diff = (
        f"SELECT m.*, s.key AS {SNAPSHOT_KEY} FROM ({model}) AS m FULL OUTER JOIN ({snap}) AS s "
        f"ON s.key = m.{KEY} WHERE {' OR '.join(where)}"
    )
    keyed = f"SELECT d.*, COUNT(*) OVER (PARTITION BY d.{KEY}) AS {KEY_ROWS} FROM ({diff}) AS d"
    counts = (
        f"SELECT (SELECT COUNT(*) FROM ({model_sql}) AS c0) AS {MODEL_ROWS}, "
        f"(SELECT COUNT(*) FROM ({snap}) AS c1) AS {SNAPSHOT_ROWS}"
    )
    newest = ""
    if updated_at is not None:
        counts += f", (SELECT MAX(c2.{updated_at}) FROM ({model_sql}) AS c2) AS {MAX_UPDATED}"
        newest = f"c.{MAX_UPDATED}, "
    return (
        f"SELECT x.*, c.{MODEL_ROWS}, c.{SNAPSHOT_ROWS}, {newest}{MODEL_ONLY_SQL}, "
        f"SUM(CASE WHEN x.{FP} IS NULL AND x.{SNAPSHOT_KEY} IS NOT NULL THEN 1 ELSE 0 END) OVER () "
        f"AS {SNAPSHOT_ONLY}, {MOST_KEY_ROWS_SQL} "
        f"FROM ({counts}) AS c LEFT JOIN ({keyed}) AS x ON 1 = 1 ORDER BY x.{KEY}"
    )


def repeats(model_rows: int, snapshot_rows: int, model_only: int, snapshot_only: int, most_key_rows: int) -> bool:
    """Does a primary key repeat in the model? From the statement's counts (module docstring): the
    model rows the join matched against the snapshot rows matched, and the most rows of a returned key."""
    return model_rows - model_only != snapshot_rows - snapshot_only or most_key_rows > 1


def window_complete(counts: Sequence[int], key_sums: Sequence[int] = (0, 0, 0)) -> bool:
    """May the window's rows stand for the whole diff? Only when the model's keys are exactly the
    snapshot's plus the window's new ones (`watermark`): snapshot rows + rows the snapshot lacks - model
    rows (= removed) is 0, and the same holds for the sums of their key hashes (`key_sums`: model,
    snapshot, window rows the snapshot lacks), so a removed key cannot be cancelled by a row inserted,
    duplicated or re-keyed outside the window (odds 2^-64); and no returned key repeats (MOST_KEY_ROWS).
    Those two imply no key repeats in the whole model: with the model's keys equal to the snapshot's
    (each once: its key is unique) plus the returned rows' new ones, a repeat can only be between
    returned rows."""
    model_rows, snapshot_rows, model_only, most_key_rows = counts[0], counts[1], counts[2], counts[4]  # COUNTS
    model_keys, snapshot_keys, added_keys = key_sums
    return (
        most_key_rows <= 1
        and snapshot_rows + model_only - model_rows == 0
        and snapshot_keys + added_keys - model_keys == 0
    )


class _Repeats(Exception):
    """The first row said a key repeats: nothing was handed on yet; run the whole key check."""


class _WindowIncomplete(Exception):
    """The window statement's first row said a key left the model or repeats: nothing was handed on
    yet; run the full statement (`watermark.window_complete`)."""


class WarehouseDiffer(Differ):
    """`changes_from(source, sql, model_sql)`; then `merge(run_id)` after the run's acknowledgements.
    `restate(keys)` gives the statement with a whole `KeyReport`'s problem keys in it, `whole_keys()`
    runs the whole key check (both set by `modes.warehouse_sql`)."""

    counts_state = False  # removed records come back from the join: no count of local state (5M: 0.4 s)

    def __init__(self, *args: Any, snapshot: Snapshot, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snapshot = snapshot
        self._reader: StateReader | None = None  # open while a statement's rows are read
        self.pending = 0  # keys noted in state's snapshot_pending by this run
        self._noted_refreshed: tuple[list[tuple[str, str]], int] = (self.refreshed, 0)
        self.restate: Callable[[KeyReport], str] | None = None
        self.whole_keys: Callable[[], KeyReport] | None = None
        self.model_keys: Callable[[], KeyReport] | None = None  # a window's keys checked only in it: the model's
        self.window: Window | None = None  # with `model.updated_at` (set by `modes.warehouse_sql`)
        self.healed = False  # a run healed the snapshot first: no window this time (`watermark`)
        self.rekeyed: set[str] = set()  # syncer's keys of rows whose warehouse key differs (`_keyed`)

    def merge(self, run_id: int | None) -> int:
        """After the run: the pending keys, as state now has them, into the snapshot."""
        return self.snapshot.replay(self.sync, self.state, run_id)

    def changes_from(self, source: Source, sql: str, model_sql: str = "") -> Iterator[Change]:
        """The changes `sql` (a `plan_sql` statement) returns; `model_sql` is not read (the
        statement counts the model itself) and stays for callers that pass it. A window statement
        (`watermark.window_sql`) whose counts say it cannot stand for the whole diff gives way to the
        full one (`restate` with the key report so far)."""
        try:
            try:
                yield from self._changes(source, sql, check=not self.keys.duplicates_checked)
            except _WindowIncomplete:
                assert self.window is not None and self.restate is not None, "set by modes.warehouse_sql"
                self.window.fall_back()
                if self.model_keys is not None:  # the full statement rejects every colliding match value
                    self.keys = self.model_keys()
                yield from self._changes(source, self.restate(self.keys), check=not self.keys.duplicates_checked)
        except _Repeats:
            assert self.restate is not None and self.whole_keys is not None, "set by modes.warehouse_sql"
            self.keys = self.whole_keys()
            yield from self._changes(source, self.restate(self.keys), check=False)

    def _lookup(self, keys: list[str]) -> dict[str, Known]:
        """State's records for a chunk of returned keys, through one raw sqlite3 connection when state is
        SQLite (`state_columns.known_records`: no SQLAlchemy row objects), else `StateStore.lookup`."""
        reader = self._reader
        found = known_records(reader, self.sync, keys) if reader is not None else None
        return self.state.lookup(self.sync, keys) if found is None else found

    def _changes(self, source: Source, sql: str, check: bool) -> Iterator[Change]:
        self._reader = StateReader(self.state)
        try:
            yield from self._changes_read(source, sql, check)
        finally:
            self._reader.close()
            self._reader = None

    def _changes_read(self, source: Source, sql: str, check: bool) -> Iterator[Change]:
        returned, removed, total = 0, [], 0
        self.rekeyed = set()
        chunk: list[tuple[str, dict[str, Any], str]] = []
        with source._query(sql, stream=True) as result:
            names = column_names(list(result.keys()), source.engine.dialect.name)
            at = {n: i for i, n in enumerate(names)}  # a row is a tuple: only the first becomes a dict
            model = [(n, at[n]) for n in names if n not in OURS]
            at_fp, at_key, at_snapshot = at[FP], at[KEY], at[SNAPSHOT_KEY]
            first = True
            for part in fetched(result, 5000):
                for values in part:
                    if first:
                        row = dict(zip(names, values, strict=True))
                        first, counts = False, [int(row[c] or 0) for c in COUNTS]
                        windowed = self.window is not None and self.window.since is not None
                        key_sums = [int(row.get(c) or 0) for c in KEY_SUMS]
                        if windowed and not window_complete(counts, key_sums):
                            raise _WindowIncomplete
                        if check and not windowed and repeats(*counts):
                            raise _Repeats
                        if self.window is not None:
                            self.window.start(row.get(MAX_UPDATED))
                        total = self.tally.source_rows = counts[0]
                    if values[at_fp] is None:
                        if values[at_snapshot] is not None:  # else the one row of NULLs: nothing returned
                            removed.append(values[at_snapshot])
                        continue
                    returned += 1
                    keyed = self._keyed({n: values[i] for n, i in model}, values[at_key], values[at_fp])
                    if keyed is not None:
                        chunk.append(keyed)
                    if len(chunk) >= CHUNK:
                        yield from self._noted(self._compare(chunk))
                        chunk = []
        yield from self._noted(self._compare(chunk))
        self.tally.unchanged += total - returned
        if self.rekeyed:
            log.warning(
                "sync %s: the warehouse writes %d key(s) of %s unlike syncer (e.g. %r): their rows are diffed "
                "outside the warehouse on every run; cast the key to text in the model's query, or use "
                'diff = "columnar" (`syncer check` names the column)',
                self.sync,
                len(self.rekeyed),
                ", ".join(self.primary_key),
                min(self.rekeyed),
            )
        yield from self._removed_keys(sorted(k for k in removed if k not in self.rekeyed))

    def _keyed(
        self, values: dict[str, Any], warehouse_key: Any, fingerprint: Any
    ) -> tuple[str, dict[str, Any], str] | None:
        """The row path's own `_key` of the model's columns (NULL, non-canonical, duplicated keys,
        colliding match values are rejected there) and the statement's fingerprint kept. A key the
        warehouse writes unlike syncer (a DOUBLE 1e20 as '1e+20', a char(3) 'a' without its padding,
        a timestamp with a space for the 'T') never joins its snapshot row: the row is returned on
        every run and diffed here by syncer's key, as the rows mode does, and its snapshot row (which
        the join returns as removed) is kept (`rekeyed`)."""
        keyed = self._key(values, fingerprint=False)  # the statement's fingerprint is the one kept
        key = keyed[0] if keyed is not None else self._own_key(values)
        if key is not None and key != warehouse_key:
            self.rekeyed.add(key)
        if keyed is None:
            return None
        return keyed[0], values, str(fingerprint)  # state keeps text; DuckDB's is an integer

    def _own_key(self, values: dict[str, Any]) -> str | None:
        """syncer's key of a row `_key` rejected (a repeated key still names its record), if it has one."""
        try:
            return row_key(self._pk_values(values))
        except IdentityError:
            return None

    def _noted(self, changes: Iterable[Change], also: Iterable[str] = ()) -> Iterator[Change]:
        """A chunk's changes, after a run has noted as pending their keys, the keys whose source
        fingerprint was refreshed since the last chunk, and `also`."""
        chunk = list(changes)  # at most CHUNK changes
        if self.remember_sources:
            if self.refreshed is not self._noted_refreshed[0]:  # the runner drained the list: a new one
                self._noted_refreshed = (self.refreshed, 0)
            fresh = self.refreshed[self._noted_refreshed[1] :]
            self._noted_refreshed = (self.refreshed, len(self.refreshed))
            keys = [c.key for c in chunk] + [k for k, _ in fresh] + list(also)
            self.state.add_snapshot_pending(self.sync, keys)
            self.pending += len(keys)
        yield from chunk

    def _removed_keys(self, keys: list[str]) -> Iterator[Change]:
        """Snapshot keys that left the model: removed if state knows them. The others (a snapshot row
        state no longer has) are noted as pending, so the merge deletes them from the snapshot."""
        chunks = range(0, len(keys), CHUNK)
        if self.holds_removals(k for i in chunks for k in self.state.lookup(self.sync, keys[i : i + CHUNK]).values()):
            return
        for i in range(0, len(keys), CHUNK):
            known = self.state.lookup(self.sync, keys[i : i + CHUNK])
            changes = []
            for key in keys[i : i + CHUNK]:
                if key in known:
                    self.tally.removed += 1
                    changes.append(
                        Change("removed", key, known[key].fingerprint, known[key].match_value, {}, known[key])
                    )
            yield from self._noted(changes, also=[k for k in keys[i : i + CHUNK] if k not in known])
