"""Diff: the mapped model against last-synced state -> added / changed / removed / unchanged.

Rows stream in; state is looked up a chunk at a time (an indexed IN query), so neither side is
held in memory. To find removed records without keeping every key, the diff keeps one 8-byte hash
per source key in a compact array; after the stream it walks state once and reports the keys whose
hash was not seen. (Two different keys sharing a 64-bit hash would hide one removal: about a 1 in
10^7 chance at a million rows.)
"""

from __future__ import annotations

import hashlib
import operator
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from syncer.identity import IdentityError, is_blank, key_text
from syncer.keycheck import KeyReport
from syncer.mapping import Mapper, RowRejected
from syncer.source import row_key
from syncer.state import Known, StateStore

Kind = Literal["added", "changed", "removed", "unchanged"]
CHUNK = 2000


@dataclass(frozen=True)
class Change:
    kind: Kind
    key: str
    fingerprint: str
    match_value: str | None
    fields: dict[str, Any]
    known: Known | None = None
    source_fp: str | None = None


@dataclass(frozen=True)
class BadRow:
    """A source row that can never be sent as it is: NULL or duplicate key, or a value that won't map."""

    key: str
    fingerprint: str
    reason: str


@dataclass
class Tally:
    """Counts of one diff. `out_of_sync` splits every row that is in the model but not in sync with the
    destination by reason: null_key, bad_key, duplicate_key, match_collision (syncer's own key checks),
    conversion (a value the mapping or the destination's type refuses), null_match, blank_match (an empty or
    whitespace-only match value: `identity.is_blank`), and destination_rejected (the destination refused it
    earlier and the row has not changed since)."""

    source_rows: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    held_rejected: int = 0  # rejected before with the same data: not re-sent until it changes
    held_deletes: int = 0  # removals not applied: more than the sync's max_delete_share left the model at once
    # records state keeps as departed: they left the model outside mirror mode and are still at the destination,
    # not sent, not live; a mirror run deletes them (syncer.departed). A plan: as the run would leave them
    departed: int = 0
    # rows that left the model in this diff outside mirror mode: their records stay at the destination (not
    # deleted, counted in `departed` too); in mirror mode such rows are `removed` (deleted)
    left_model: int = 0
    rekeyed: int = 0  # changed rows whose match value moved to another destination identity (syncer.rekeys)
    handed_over: int = 0  # records not deleted because a live row now holds their identity (syncer.rekeys)
    bad_rows: int = 0
    bad_samples: list[BadRow] = field(default_factory=list)
    out_of_sync: dict[str, int] = field(default_factory=dict)  # reason -> rows in the model not in sync
    # reason ("destination changed: address from X to Y") -> records planned again because state holds
    # them under another destination definition (syncer.destinations), counted in `changed` too
    redirected: dict[str, int] = field(default_factory=dict)

    def count_out_of_sync(self, reason: str) -> None:
        """One more model row the destination lacks, for `reason` (see OUT_OF_SYNC_REASONS)."""
        self.out_of_sync[reason] = self.out_of_sync.get(reason, 0) + 1

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}


class Replan(Exception):
    """A plan's stream saw a repeated key or match value and the exact key checks found a problem
    (syncer.columnar.key_repeats): what it yielded so far is void. `differ`, `changes`: the same
    plan again, with the exact checks' report."""

    def __init__(self, differ: Differ, changes: Iterator[Change]) -> None:
        super().__init__("plan again with the exact key checks")
        self.differ = differ
        self.changes = changes


def _key_hash(key: str) -> int:
    """64 bits of Python's own (SipHash) string hash: stable within the process, which is all it needs."""
    return hash(key) & 0xFFFF_FFFF_FFFF_FFFF


def _reason_fingerprint(reason: str) -> str:
    return "key-problem:" + hashlib.blake2b(reason.encode(), digest_size=8).hexdigest()


class PartialRow(dict[str, Any]):
    """Some columns of a source row: those its key and mapping read (`Differ.reads`), so a wide model's
    changed rows do not turn every column into Python values. `whole()` gives the row with every
    column, for the one use that needs them all: a rejected row's fingerprint (`_raw_fingerprint`)."""

    __slots__ = ("_at", "_rows")  # `partial_row` sets them (dict's own constructor: 0.2 µs a row less)
    _rows: Callable[[list[int]], list[dict[str, Any]]]
    _at: int

    def whole(self) -> dict[str, Any]:
        return self._rows([self._at])[0]


def partial_row(
    columns: Mapping[str, Any] | Iterable[tuple[str, Any]], rows: Callable[[list[int]], list[dict[str, Any]]], at: int
) -> PartialRow:
    """A PartialRow of `columns` (name -> value) whose whole row is `rows([at])[0]`."""
    row = PartialRow(columns)
    row._rows, row._at = rows, at
    return row


def _raw_fingerprint(row: dict[str, Any]) -> str:
    if isinstance(row, PartialRow):
        row = row.whole()
    return hashlib.blake2b(repr(sorted(row.items())).encode(), digest_size=16).hexdigest()


class Differ:
    """One pass over a model. Iterate `changes()`; `tally` and `bad` fill in as it goes."""

    counts_state: ClassVar[bool] = True  # `_removed` compares state's record count with the keys found

    def __init__(
        self,
        sync: str,
        primary_key: list[str],
        mapper: Mapper,
        state: StateStore,
        keys: KeyReport,
        insert_only: bool = False,
        full: bool = False,
        max_removed: int | None = None,
        remember_sources: bool = False,
        retry_rejected: bool = False,
        destination: str | None = None,
        redirected: Callable[[str | None], str] | None = None,
    ) -> None:
        self.sync = sync
        self.primary_key = primary_key
        self.mapper = mapper
        self.state = state
        self.keys = keys
        self.insert_only = insert_only
        self.full = full
        self.max_removed = max_removed
        # would this removal delete a record at the destination? (the runner's IdentityMoves.deletes: a
        # record a live row holds is handed over, one written elsewhere is forgotten; neither is a delete)
        self.deletes: Callable[[Known], bool] = lambda known: True
        self._pk_values = (
            operator.itemgetter(*primary_key) if len(primary_key) > 1 else (lambda row: (row[primary_key[0]],))
        )
        self.remember_sources = remember_sources  # a run records source fingerprints; a plan writes nothing
        self.reads = mapper.reads(primary_key)  # the columns a row to compare needs (None: all of them)
        self.refreshed: list[tuple[str, str]] = []  # (key, source fp) of records whose payload did not change
        self.tally = Tally()
        self.bad: list[BadRow] = []  # bad rows not already recorded with the same data
        self._seen = array("Q")
        self._found = 0  # source keys that state knows: if it equals what state held, nothing was removed
        # before this run writes anything; a differ that finds removals another way skips the count
        self._state_count = state.count_synced(sync) if self.counts_state else 0
        # the digest of the sync's destination definition (syncer.destinations); a record state holds
        # under another is planned again, whatever the mode. None: not checked (a differ built alone)
        self.destination = destination
        self.redirected = redirected or (lambda old: "destination changed")  # old digest -> the reason
        # rows rejected with the data they hold now (under this definition) wait for a change, unless retried
        # on request
        self._rejected = {} if retry_rejected else state.rejected_fingerprints(sync, destination)

    def changes(self, rows: Iterable[dict[str, Any]]) -> Iterator[Change]:
        """Yield every added, changed and (after the rows end) removed record, in stream order."""
        chunk: list[tuple[str, dict[str, Any], str]] = []
        for row in rows:
            self.tally.source_rows += 1
            keyed = self._key(row)
            if keyed is not None:
                chunk.append(keyed)
            if len(chunk) >= CHUNK:
                yield from self._compare(chunk)
                chunk = []
        yield from self._compare(chunk)
        yield from self._removed()

    def _key(self, row: dict[str, Any], fingerprint: bool = True) -> tuple[str, dict[str, Any], str] | None:
        """The row's canonical key and source fingerprint ("" with `fingerprint=False`: a differ that has
        its own, as warehouse mode's SQL one); NULL and duplicated keys, and match values that collide
        with another key's at the destination, are rejected here."""
        values = self._pk_values(row)
        if any(v is None for v in values):
            self._reject(
                "(null primary key)",
                None,
                reason_kind="null_key",
                reason=f"primary key {', '.join(self.primary_key)} is NULL",
            )
            return None
        try:
            key = row_key(values)
        except IdentityError as exc:
            self._reject(
                repr(values), None, reason_kind="bad_key", reason=f"primary key {', '.join(self.primary_key)}: {exc}"
            )
            return None
        self._seen.append(_key_hash(key))
        if key in self.keys.duplicate_keys:
            self._reject(
                key,
                None,
                reason_kind="duplicate_key",
                reason=f"duplicate primary key {key_text(key)!r}: several rows share it; none is sent",
            )
            return None
        collision = self.keys.match_collisions.get(key)
        if collision is not None:
            self._reject(key, None, collision, "match_collision", fingerprint=_reason_fingerprint(collision))
            return None
        return key, row, self.mapper.source_fingerprint(row) if fingerprint else ""

    def _map(self, key: str, row: dict[str, Any]) -> tuple[str, dict[str, Any], str] | None:
        """(match value, fields, payload fingerprint), or None when the row is rejected."""
        try:
            match_value, fields = self.mapper.map(row)
        except RowRejected as exc:
            self._reject(key, row, str(exc), "conversion")
            return None
        if match_value is None:
            self._reject(key, row, "match column is NULL: the destination record cannot be identified", "null_match")
            return None
        if is_blank(match_value):  # docs/input-contract.md: identifies nothing, as NULL
            column = self.mapper.match_column
            reason = f"match column {column!r} is blank ({match_value!r}): the destination record cannot be identified"
            self._reject(key, row, reason, "blank_match")
            return None
        return match_value, fields, self.mapper.fingerprint(match_value, fields)

    def _reject(
        self, key: str, row: dict[str, Any] | None, reason: str, reason_kind: str, fingerprint: str | None = None
    ) -> None:
        """Record a row that cannot be sent. Key problems get a fixed fingerprint (held until fixed;
        a match-value collision's names its group, so a changed group is reported again); mapping
        problems are fingerprinted by the row's data, so a corrected row goes out again."""
        self.tally.bad_rows += 1
        self.tally.count_out_of_sync(reason_kind)
        if fingerprint is None:
            fingerprint = _raw_fingerprint(row) if row is not None else "key-problem"
        bad = BadRow(key, fingerprint, reason)
        if len(self.tally.bad_samples) < 5:
            self.tally.bad_samples.append(bad)
        if self._rejected.get(key) != bad.fingerprint:
            self._rejected[key] = bad.fingerprint
            self.bad.append(bad)

    def _compare(self, chunk: list[tuple[str, dict[str, Any], str]]) -> Iterator[Change]:
        if not chunk:
            return
        known = self._lookup([c[0] for c in chunk])
        self._found += len(known)
        for key, row, source_fp in chunk:
            before = known.get(key)
            moved = self._moved(before)
            if before is not None and not moved and self.insert_only:
                self.tally.unchanged += 1  # inserted already, where it goes now: insert mode never updates
                if self.remember_sources and before.source_fp != source_fp:
                    self.refreshed.append((key, source_fp))  # so the fast paths skip it next time
                continue
            if before is not None and not moved and before.source_fp == source_fp and not self.full:
                self.tally.unchanged += 1  # same inputs, same mapping: same payload, no need to map it
                continue
            mapped = self._map(key, row)
            if mapped is None:
                continue
            match_value, fields, fingerprint = mapped
            if before is None:
                kind: Kind = "added"
            elif before.fingerprint == fingerprint and not self.full and not moved:
                self.tally.unchanged += 1
                if self.remember_sources:
                    self.refreshed.append((key, source_fp))
                continue
            else:
                kind = "changed"
            if self._rejected.get(key) == fingerprint and not self.full:
                self.tally.held_rejected += 1
                self.tally.count_out_of_sync("destination_rejected")
                continue
            setattr(self.tally, kind, getattr(self.tally, kind) + 1)
            if moved:
                assert before is not None
                reason = self.redirected(before.destination)
                self.tally.redirected[reason] = self.tally.redirected.get(reason, 0) + 1
            yield Change(kind, key, fingerprint, match_value, fields, before, source_fp)

    def _moved(self, before: Known | None) -> bool:
        """Was the record written under another destination definition than the sync's now?"""
        if before is None or self.destination is None or before.destination is None:
            return False  # None: recorded before migration 0014, taken as the current one
        return before.destination != self.destination

    def _lookup(self, keys: list[str]) -> dict[str, Known]:
        """What state holds for these keys (a differ with its own connection to state overrides it)."""
        return self.state.lookup(self.sync, keys)

    def holds_removals(self, removals: Iterable[Known]) -> bool:
        """The delete guard, counted before any removal is yielded (a mass removal is held back whole, never
        half-applied): True, with `tally.removed` and `tally.held_deletes` set, when more than `max_removed`
        of `removals` would delete a record (`deletes`). Called once the upserts have streamed, so `deletes`
        knows every identity a live row holds."""
        if self.max_removed is None:
            return False
        count = sum(1 for known in removals if self.deletes(known))
        if count <= self.max_removed:
            return False
        self.tally.removed = self.tally.held_deletes = count
        return True

    def _removed(self) -> Iterator[Change]:
        if self._found >= self._state_count:
            return  # every record state held when the diff began is still in the model: skip the walk
        seen = array("Q", sorted(self._seen))
        self._seen = array("Q")

        def gone() -> Iterator[tuple[str, Known]]:
            for key, known in self.state.iter_synced(self.sync):
                h = _key_hash(key)
                i = bisect_left(seen, h)
                if i >= len(seen) or seen[i] != h:
                    yield key, known

        if self.holds_removals(known for _, known in gone()):
            return
        for key, known in gone():
            self.tally.removed += 1
            yield Change("removed", key, known.fingerprint, known.match_value, {}, known)
