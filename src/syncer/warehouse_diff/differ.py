"""The warehouse differ: one SQL statement returns only the rows that can need work.

    SELECT m.*, s.key FROM (model + key + fingerprint) AS m
    FULL JOIN (this sync's snapshot) AS s ON s.key = m.key
    WHERE m.key IS NULL OR s.key IS NULL OR s.fingerprint IS DISTINCT FROM m.fingerprint
       OR m.key IN (problem keys)

One hash join on the key: the model is scanned once, the fingerprint computed in SQL, and only
added, changed, removed and NULL-keyed rows leave the warehouse. Problem keys (duplicated keys,
colliding match values) are the ones the key checks already found (`KeyReport`), written into
the statement so their rows are returned whether or not they changed. A returned row with no
fingerprint is a snapshot key that left the model (removed); every other returned row goes
through the row path's own rules (`Differ._key`, `Differ._compare`: mapping, payload fingerprints,
held rejections). Rows not returned are unchanged: they are counted, never fetched. Python work and
memory are proportional to the returned rows. Every returned key is checked against `row_key`:
a key type whose SQL text differs from Python's (e.g. a FLOAT key) stops the run with a message.

In a run, every key a chunk of changes may write to state is noted in state's `snapshot_pending`
before the chunk is handed on (see `snapshot`), so a crash anywhere leaves the lag on record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from syncer.diff import CHUNK, Change, Differ
from syncer.errors import FatalError
from syncer.source import Source
from syncer.warehouse_diff.dialects import Dialect
from syncer.warehouse_diff.snapshot import Snapshot

KEY, FP, SNAPSHOT_KEY = "syncer_key__", "syncer_fp__", "syncer_snapshot_key__"


def plan_sql(
    dialect: Dialect,
    snapshot: Snapshot,
    sync: str,
    model_sql: str,
    primary_key: Sequence[str],
    inputs: Sequence[str],
    prefix: str,
    types: Mapping[str, str] | None = None,
    problem_keys: Iterable[str] = (),
) -> str:
    """The one statement (see the module docstring); `prefix` is a hex digest of the mapping spec,
    `types` the inputs' types (`dialects.column_types`), `problem_keys` keys whose rows always return."""
    fingerprint = dialect.fingerprint(prefix, inputs, types)
    model = f"SELECT m0.*, {dialect.key(primary_key)} AS {KEY}, {fingerprint} AS {FP} FROM ({model_sql}) AS m0"
    snap = f"SELECT key, fingerprint FROM {snapshot.table} WHERE sync = {dialect.literal(sync)}"
    where = [f"m.{KEY} IS NULL", "s.key IS NULL", f"s.fingerprint IS DISTINCT FROM m.{FP}"]
    problems = sorted(set(problem_keys))
    if problems:
        where.append(f"m.{KEY} IN ({', '.join(dialect.literal(k) for k in problems)})")
    return (
        f"SELECT m.*, s.key AS {SNAPSHOT_KEY} FROM ({model}) AS m FULL OUTER JOIN ({snap}) AS s "
        f"ON s.key = m.{KEY} WHERE {' OR '.join(where)}"
    )


class WarehouseDiffer(Differ):
    """`changes_from(source, sql, model_sql)`; then `merge(run_id)` after the run's acknowledgements."""

    counts_state = False  # removed records come back from the join: no count of local state (5M: 0.4 s)

    def __init__(self, *args: Any, snapshot: Snapshot, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snapshot = snapshot
        self.pending = 0  # keys noted in state's snapshot_pending by this run
        self._noted_refreshed: tuple[list[tuple[str, str]], int] = (self.refreshed, 0)

    def merge(self, run_id: int | None) -> int:
        """After the run: the pending keys, as state now has them, into the snapshot."""
        return self.snapshot.replay(self.sync, self.state, run_id)

    def changes_from(self, source: Source, sql: str, model_sql: str) -> Iterator[Change]:
        with source._query(f"SELECT COUNT(*) FROM ({model_sql}) AS c") as result:
            total = int(result.scalar_one())
        self.tally.source_rows = total
        returned, removed = 0, []
        chunk: list[tuple[str, dict[str, Any], str]] = []
        with source._query(sql, stream=True) as result:
            names = [_column_name(c) for c in result.keys()]
            model = [n for n in names if n not in (KEY, FP, SNAPSHOT_KEY)]
            for part in result.partitions(5000):
                for values in part:
                    row = dict(zip(names, values, strict=True))
                    if row[FP] is None:
                        removed.append(row[SNAPSHOT_KEY])
                        continue
                    returned += 1
                    keyed = self._keyed(row, model)
                    if keyed is not None:
                        chunk.append(keyed)
                    if len(chunk) >= CHUNK:
                        yield from self._noted(self._compare(chunk))
                        chunk = []
        yield from self._noted(self._compare(chunk))
        self.tally.unchanged += total - returned
        yield from self._removed_keys(sorted(removed))

    def _keyed(self, row: dict[str, Any], model: list[str]) -> tuple[str, dict[str, Any], str] | None:
        """The row path's own `_key` (NULL, non-canonical, duplicated keys, colliding match values are
        rejected there), then the warehouse's key checked against it and its fingerprint kept."""
        values = {c: row[c] for c in model}
        keyed = self._key(values)
        if keyed is None:
            return None
        key = keyed[0]
        if key != row[KEY]:
            raise FatalError(
                f'diff = "warehouse": the warehouse writes key {row[KEY]!r} where syncer writes {key!r}; '
                f"it needs integer or text primary-key columns ({', '.join(self.primary_key)}): "
                'use diff = "columnar" for this sync'
            )
        return key, values, str(row[FP])  # state keeps text; DuckDB's is an integer

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
        if self.max_removed is not None and len(keys) > self.max_removed:
            self.tally.removed = self.tally.held_deletes = len(keys)
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


def _column_name(name: str) -> str:
    return name.lower() if name.isupper() else name
