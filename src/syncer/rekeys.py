"""Destination identities that move between rows: a record is deleted only when no live row holds it.

A destination record's identity is its match value as the destination compares it
(`identity.match_comparison_key`: Salesforce external IDs, HubSpot unique properties). State
remembers, per primary key, the identity it last wrote and the record's id. Two moves need more
than "delete what left the model":

- **Handover.** A primary key leaves the model while another row (added, or changed to it, in this
  run or in an earlier one whose upsert state recorded) holds its identity: a re-keyed account.
  The upsert by match value writes that record, so the removed key's delete by record id would
  delete the live row's record (and leave state saying it is in sync). The removed key is
  forgotten instead; nothing is deleted.
- **Re-key.** A row's own match value changes (`SF-1` -> `SF-9`): the upsert by the new value
  writes another record, and the old one is no longer any row's. In mirror mode (the destination
  equals the model) the old record is deleted first, by its id, and the row is upserted only once
  that delete is acknowledged, so a crash between the two leaves state without the key (the next
  run adds it) and never an orphan state forgot. If a live row holds the old identity it is
  handed over instead. In the other modes the old record stays, as any record that leaves the
  model does; the count says how many moved (`Tally.rekeyed`).

Where the destination finds a record by syncer's key instead (`Connector.finds_by_match_value` False: a
webhook receiver applies `op` by `key`), the key is the identity: a match value there is a field like
any other, so nothing is handed over or re-keyed, and a key that left the model is deleted in mirror
mode even when a live row holds its match value (a handover there would leave the old key's record
beside the new one's).

A record's identity is (object, match field, value): when the sync's `match.field` changes, every
record state holds under the old field (its destination definition, syncer.destinations, says which)
is re-keyed though its value stays -- in mirror mode deleted by id and created under the new field,
never handed over (no live row upserts by the old field). Upsert mode is refused before it starts
unless each record already carries the new field (`SyncJob.refuse_duplicating_moves`).

The mirror re-keys count against the sync's delete guard (`max_delete_share`): more than it
allows holds them back whole, with their upserts, as a mass removal is (`Tally.held_deletes`).

Shapes: `IdentityMoves(casefold, mirror, tally, max_removed).now(changes)` yields the plan's changes
in the stream's order (removals after every upsert); then `forget` (handed-over keys to drop from
state without a write) and `deferred` (the re-keyed upserts, sent after the deletes they wait on are acknowledged:
`after_deletes(still_held)`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator

from syncer.diff import Change, Tally
from syncer.identity import match_comparison_key
from syncer.state import Known


class IdentityMoves:
    """One run's (or plan's) identity bookkeeping over its change stream."""

    def __init__(
        self,
        casefold: bool,
        mirror: bool,
        tally: Tally,
        max_removed: int | None,
        holders: Callable[[set[str]], dict[str, set[str]]] | None = None,
        refielded: set[str] | None = None,
        elsewhere: set[str] | None = None,
        by_key: bool = False,
    ) -> None:
        self.casefold = casefold
        self.by_key = by_key  # records are found by syncer's key (not `Connector.finds_by_match_value`)
        self.mirror = mirror
        self.tally = tally
        self.max_removed = max_removed
        self.holders = holders  # identity -> keys state holds it for (StateStore.match_holders)
        # digests of destination definitions (syncer.destinations) that matched records on another field:
        # a record state holds under one of them moves to a new identity even when its value stays
        self.refielded = refielded or set()
        # digests of definitions that wrote another destination or object: their records are not here, so
        # they move nothing here (a first write there) and a removed one is only forgotten
        self.elsewhere = elsewhere or set()
        self.forget: list[str] = []  # keys dropped from state without a destination write
        self.deferred: list[Change] = []  # mirror re-keys: upserted once their old record's delete is acked
        self._live: set[str] = set()  # identities this run upserts

    def renewed(self, tally: Tally) -> IdentityMoves:
        """The same bookkeeping, started afresh over a new tally (a plan that starts again: `Replan`)."""
        return IdentityMoves(
            self.casefold,
            self.mirror,
            tally,
            self.max_removed,
            self.holders,
            self.refielded,
            self.elsewhere,
            self.by_key,
        )

    def deletes(self, known: Known) -> bool:
        """Would this removed record be deleted at the destination? Not when it was written to another
        destination or object (only forgotten), nor in mirror mode when a row this run upserts holds its
        identity (handed over). The differ's delete guard asks (`Differ.deletes`) once the upserts have
        streamed, so every live identity is known; a holder an earlier run recorded is not (counted as a delete:
        the guard errs on holding back)."""
        if known.destination in self.elsewhere:
            return False
        return not (self.mirror and self._identity(known.match_value) in self._live)

    def _identity(self, value: str | None) -> str | None:
        return None if value is None else match_comparison_key(value, self.casefold)

    def now(self, changes: Iterable[Change]) -> Iterator[Change]:
        """The changes to send in this pass: upserts as they stream, then the deletes no live row's
        identity forbids. Removed records are held until the stream ends (every differ yields them
        last already; holding them makes the handover independent of that order)."""
        removed: list[Change] = []
        retired: list[Change] = []
        if self.by_key:  # the key is the identity: no move to make, removals still go last
            for change in changes:
                if change.kind == "removed":
                    removed.append(change)
                else:
                    yield change
            yield from self._removals(removed, retired)
            return
        mirror, live = self.mirror, self._live  # per change: only mirror mode deletes, so only it needs `live`
        for change in changes:
            kind = change.kind
            if kind == "removed":
                removed.append(change)
                continue
            if mirror:
                live.add(self._identity(change.match_value) or "")
            known = change.known
            if known is not None and known.destination in self.elsewhere:
                pass  # written to another destination: here it is a first write, no identity moves
            elif kind == "changed" and known is not None and known.destination in self.refielded:
                self.tally.rekeyed += 1  # (object, match field, value): the field moved
                if mirror:
                    retired.append(change)
                    continue
            elif kind == "changed" and known is not None and known.match_value != change.match_value:
                old = self._identity(known.match_value)
                if old is not None and old != self._identity(change.match_value):
                    self.tally.rekeyed += 1
                    if mirror:
                        retired.append(change)
                        continue
            yield change
        yield from self._removals(removed, retired)

    def _held_elsewhere(self, removed: list[Change], retired: list[Change]) -> None:
        """Add to the live identities those that a record state keeps is holding: a row whose upsert
        an earlier run acknowledged (a handover that spans runs: the old key's removal was held by
        the delete guard, or a crash came between the two). Records leaving their identity in this
        run (removed, re-keyed) hold nothing."""
        if self.by_key or not (self.mirror and self.holders and (removed or retired)):
            return
        leaving = {c.key for c in removed} | {c.key for c in retired}
        wanted = {self._identity(c.match_value) for c in removed}
        wanted |= {self._identity(c.known.match_value) for c in retired if c.known and not self._refielded(c)}
        wanted.discard(None)
        for identity, keys in self.holders({i for i in wanted if i is not None}).items():
            if keys - leaving:
                self._live.add(identity)

    def _removals(self, removed: list[Change], retired: list[Change]) -> Iterator[Change]:
        self._held_elsewhere(removed, retired)
        for change in removed:
            if change.known is not None and change.known.destination in self.elsewhere:
                self.forget.append(change.key)  # its record is at the other destination: nothing here to delete
            elif self.mirror and self._identity(change.match_value) in self._live:
                self.tally.handed_over += 1
                self.forget.append(change.key)
            else:
                yield change  # the runner deletes it in mirror mode, forgets it in the others
        moving = {
            c.key
            for c in retired
            if c.known and (self._refielded(c) or self._identity(c.known.match_value) not in self._live)
        }
        if self.max_removed is not None and len(moving) > self.max_removed:
            self.tally.held_deletes += len(moving)  # a mass re-key: held back whole, upserts too
            retired = [c for c in retired if c.key not in moving]
        for change in retired:
            known = change.known
            assert known is not None  # a re-key is a changed record: state knows it
            upsert = dataclasses.replace(change, kind="added", known=None)  # by match value, not the old id
            if change.key not in moving:
                self.tally.handed_over += 1  # a live row's upsert writes the old record: only state moves
                yield upsert
            else:
                self.deferred.append(upsert)
                yield Change("removed", change.key, known.fingerprint, known.match_value, {}, known)

    def _refielded(self, change: Change) -> bool:
        """Was the record matched on another field? Then no live row holds its old identity (every row
        upserts by the current field), so its old record is deleted, never handed over."""
        return change.known is not None and change.known.destination in self.refielded

    def after_deletes(self, still_held: Callable[[list[str]], set[str]]) -> Iterator[Change]:
        """The deferred re-key upserts whose old record's delete was acknowledged (state dropped the
        key). `still_held(keys)`: those of `keys` state still holds; their upserts wait for a run
        whose delete succeeds, so no record is ever orphaned."""
        held = still_held([c.key for c in self.deferred])
        for change in self.deferred:
            if change.key not in held:
                yield change
