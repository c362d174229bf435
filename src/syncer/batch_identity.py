"""The engine's last guard against two records for one destination identity, applied to every batch
the runner sends (and so to every half `Connector.send`'s split retry sends). Only the sync path,
and only for objects whose match value identifies the record: a task's names the account it
attaches to (`Connector.parent_match_objects`), which many tasks share on purpose.

The warehouse check (syncer.keycheck) compares match values as the model's column holds them, in
SQL. This guard compares the match values as they go on the wire (`Record.match_value`, canonical),
with the destination's own comparison (`Connector.match_casefold()`, syncer.identity
`match_comparison_key`). Records that collide are one destination record: sent together, HubSpot
answers the whole batch 400 and the split retry then lets the last one win; Salesforce answers
DUPLICATE_VALUE. So none of them is sent, and each is rejected naming the others' keys, with the
wording of the warehouse check.

Within a run the guard also remembers which record key each identity was sent for: a later batch
holding another record for an identity already written this run is rejected (the earlier one was
sent), never merged into it. Deletes address records by destination id and are not checked.

Shapes: `IdentityGuard.admit(batch) -> (to_send, rejected)`; `rejected` are `Result.rejected`;
`IdentityGuard.send(connector, batch)` -> one Result per record of `batch`, in order.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from syncer.identity import key_text, match_comparison_key

if TYPE_CHECKING:
    from syncer.connector import Connector, Record, Result

NAMED_KEYS = 10  # as syncer.keycheck


def _named(keys: list[str], values: dict[str, str]) -> str:
    named = ", ".join(f"{key_text(k)!r} ({values[k]!r})" for k in keys[:NAMED_KEYS])
    return named + (f" and {len(keys) - NAMED_KEYS} more" if len(keys) > NAMED_KEYS else "")


class IdentityGuard:
    """Per connector (one per run): admits at most one record key per destination identity."""

    def __init__(self, field: str, casefold: bool) -> None:
        self.field = field  # the destination's match field, for reasons
        self.casefold = casefold
        self.how = "case-insensitively" if casefold else "exactly"
        self.sent: dict[str, str] = {}  # comparison key -> the record key sent for it this run
        self.lock = threading.Lock()  # batches are sent from several threads (max_concurrency)

    def send(self, connector: Connector, batch: Sequence[Record]) -> list[Result]:
        """`connector.send` of the admitted records; the refused ones answered `rejected`, unsent."""
        admitted, refused = self.admit(batch)
        results = {r.key: r for r in (connector.send(admitted) if admitted else [])}
        results.update((r.key, r) for r in refused)
        return [results[r.key] for r in batch]

    def admit(self, batch: Sequence[Record]) -> tuple[list[Record], list[Result]]:
        with self.lock:
            return self._admit(batch)

    def _admit(self, batch: Sequence[Record]) -> tuple[list[Record], list[Result]]:
        from syncer.connector import Result

        groups: dict[str, list[Record]] = {}
        for record in batch:
            if record.op != "delete" and record.match_value is not None:
                groups.setdefault(match_comparison_key(record.match_value, self.casefold), []).append(record)
        refused: dict[str, str] = {}  # record key -> reason
        for identity, members in groups.items():
            values = {r.key: r.match_value or "" for r in members}
            earlier = self.sent.get(identity)
            if earlier is not None and earlier not in values:
                for r in members:
                    refused[r.key] = (
                        f"duplicate match value {r.match_value!r} -> {self.field} (the destination compares it "
                        f"{self.how}): already sent in this run for key {earlier!r}; not sent, so it does not "
                        "overwrite that record"
                    )
                continue
            keys = sorted(values)
            if len(keys) < 2:
                continue
            for key in keys:
                refused[key] = (
                    f"duplicate match value {values[key]!r} -> {self.field} (the destination compares it "
                    f"{self.how}): shared with key(s) {_named([k for k in keys if k != key], values)}; "
                    "they would be one destination record, so none of them is sent"
                )
        to_send = [r for r in batch if r.key not in refused]
        for record in to_send:
            if record.op != "delete" and record.match_value is not None:
                self.sent[match_comparison_key(record.match_value, self.casefold)] = record.key
        return to_send, [Result.rejected(r, refused[r.key]) for r in batch if r.key in refused]
