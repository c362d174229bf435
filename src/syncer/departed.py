"""Records that left the model outside mirror mode: still at the destination, so never forgotten.

A sync in `upsert`, `update` or `insert` mode does not delete: when a row leaves the model its record
stays at the destination. State used to drop it, so a later switch to `mirror` deleted nothing and the
record stayed for good, unreported. Now such a record moves to `departed_records` (StateStore.depart):

- not sent again and not counted as live (the diffs read `synced_records` only);
- a row that comes back is matched to its record: sent as "changed" with its destination id, or, with
  the same payload (or in insert mode, where a record is never sent twice), put back without a call;
- a mirror run first puts every departed record back (`restore_all`), so its diff deletes those still
  out of the model through the delete guard (`max_delete_share`, `--allow-deletes`) like any removal;
- `plan`, `run` and `syncer status` say how many remain (`Tally.departed`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from syncer.diff import Change, Tally
from syncer.state import Known, StateStore

DEPARTED_REASON = "left the model; mode {mode} does not delete, so the record stays at the destination"


class Departed:
    """The sync's departed records for one plan or run: `returning` matches rows that came back."""

    def __init__(self, state: StateStore, sync: str, insert_only: bool) -> None:
        self.state, self.sync, self.insert_only = state, sync, insert_only
        self.known: dict[str, Known] = state.departed_records(sync) if state.count_departed(sync) else {}
        self.back: list[str] = []  # came back with the payload the destination holds: restored, not sent

    def returning(self, changes: Iterator[Change], tally: Tally) -> Iterator[Change]:
        """`changes`, where an "added" row whose key is a departed record is that record's row again:
        "changed" (sent, with its destination id), or "unchanged" when the destination holds its payload."""
        for change in changes:
            before = self.known.pop(change.key, None) if change.kind == "added" and self.known else None
            if before is None:
                yield change
                continue
            tally.added -= 1
            if self.insert_only or before.fingerprint == change.fingerprint:
                tally.unchanged += 1
                self.back.append(change.key)
                continue
            tally.changed += 1
            yield replace(change, kind="changed", known=before)

    def restore_back(self) -> None:
        """Put back the records whose row returned unchanged (a run; a plan writes nothing)."""
        if self.back:
            self.state.restore_departed(self.sync, self.back)
            self.back = []

    def remaining(self) -> int:
        """Departed records whose row did not come back in this diff."""
        return len(self.known)


def restore_all(state: StateStore, sync: str) -> int:
    """Before a mirror run's diff: every departed record back among the synced ones, so the diff deletes
    those whose row is still out of the model (under the delete guard) and keeps those that came back."""
    return len(state.restore_departed(sync)) if state.count_departed(sync) else 0
