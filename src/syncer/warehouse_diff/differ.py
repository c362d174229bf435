"""The warehouse differ: one SQL statement returns only the rows that can need work.

    WITH m AS (model + key + fingerprint), d AS (duplicated keys), s AS (this sync's snapshot)
    SELECT m.*, s.key FROM m FULL JOIN s ON s.key = m.key
    WHERE m.key IS NULL OR s.key IS NULL OR s.fingerprint <> m.fingerprint OR m.key IN d

A returned row with no fingerprint is a snapshot key that left the model (removed); every other
returned row is a model row that is new, changed, NULL-keyed or duplicated, and goes through the
row path's own rules (`Differ._reject`, `Differ._compare`: mapping, payload fingerprints, held
rejections). Rows not returned are unchanged: they are counted, never fetched. Python work and
memory are proportional to the returned rows. Every returned key is checked against `row_key`:
a key type whose SQL text differs from Python's (e.g. a FLOAT key) stops the run with a message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
) -> str:
    """The one statement (see the module docstring); `prefix` is a hex digest of the mapping spec."""
    sync_literal = "'" + sync.replace("'", "''") + "'"
    return (
        f"WITH m AS (SELECT m0.*, {dialect.key(primary_key)} AS {KEY}, {dialect.fingerprint(prefix, inputs)} AS {FP} "
        f"FROM ({model_sql}) AS m0), "
        f"d AS (SELECT {KEY} FROM m GROUP BY {KEY} HAVING COUNT(*) > 1), "
        f"s AS (SELECT key, fingerprint FROM {snapshot.table} WHERE sync = {sync_literal}) "
        f"SELECT m.*, s.key AS {SNAPSHOT_KEY} FROM m FULL OUTER JOIN s ON s.key = m.{KEY} "
        f"WHERE m.{KEY} IS NULL OR s.key IS NULL OR s.fingerprint <> m.{FP} OR m.{KEY} IN (SELECT {KEY} FROM d)"
    )


class WarehouseDiffer(Differ):
    """`changes_from(source, sql, model_sql)`; then `merge(run_id)` after the run's acknowledgements."""

    def __init__(self, *args: Any, snapshot: Snapshot, **kwargs: Any) -> None:
        self.touched: set[str] = set()  # keys whose state this run may change: merged afterwards
        self._refreshed: list[tuple[str, str]] = []
        super().__init__(*args, **kwargs)
        self.snapshot = snapshot

    @property  # type: ignore[override]
    def refreshed(self) -> list[tuple[str, str]]:
        return self._refreshed

    @refreshed.setter
    def refreshed(self, value: list[tuple[str, str]]) -> None:  # the runner drains it: remember the keys
        self.touched.update(k for k, _ in self._refreshed)
        self._refreshed = value

    def merge(self, run_id: int | None) -> int:
        self.touched.update(k for k, _ in self._refreshed)
        return self.snapshot.merge(self.sync, self.state, self.touched, run_id)

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
                        yield from self._track(self._compare(chunk))
                        chunk = []
        yield from self._track(self._compare(chunk))
        self.tally.unchanged += total - returned
        yield from self._track(self._removed_keys(sorted(removed)))

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
        return key, values, row[FP]

    def _track(self, changes: Iterator[Change]) -> Iterator[Change]:
        for change in changes:
            self.touched.add(change.key)
            yield change

    def _removed_keys(self, keys: list[str]) -> Iterator[Change]:
        if self.max_removed is not None and len(keys) > self.max_removed:
            self.tally.removed = self.tally.held_deletes = len(keys)
            return
        for i in range(0, len(keys), CHUNK):
            known = self.state.lookup(self.sync, keys[i : i + CHUNK])
            for key in keys[i : i + CHUNK]:
                if key in known:
                    self.tally.removed += 1
                    yield Change("removed", key, known[key].fingerprint, known[key].match_value, {}, known[key])


def _column_name(name: str) -> str:
    return name.lower() if name.isupper() else name
