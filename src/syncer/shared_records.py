"""Two syncs of one project that address the same destination records: refused unless declared (finding F10).

Each sync keeps its own state: what IT sent to each record. Two syncs whose records are the same destination
records therefore each believe their own value is there, and neither hears of the other's writes:

- a `mirror` sync deletes a record when its row leaves ITS model, although the other sync's model still has it;
  the other sync's state still holds the record, so it plans "unchanged" and never sends it again (data loss);
- two syncs writing the same field: the last writer wins, silently, and each state claims its own value;
- an `insert` sync never touches a record that exists: the second sync's values never arrive.

Two syncs address the same records when they write one place (connector type and `Connector.addresses`, as
`syncer.destinations` normalises them), one object (case-insensitive: Salesforce `Account` and `account` are
one), and identify records the same way (`record_identity`):

    connector finds records by          identity                           e.g.
    match value (CRM upsert)            the match field (case-insensitive)   HubSpot companies by product_account_id
    syncer's record key (webhook)       the record key                      webhook receiver applying `op` by `key`

Message destinations (`Connector.recipient_fields`: Slack, email) are not records, and tasks (the parent-match
objects) are keyed by sync and project (`SyncJob.record_key_scope`): neither ever collides.

Such a pair is allowed only when both syncs upsert or update and write disjoint fields (the match field aside:
both write the match value that found the record) to a destination that sets the fields a write carries (not a
webhook receiver, which replaces the record by key: `Connector.upsert_replaces_record`): each field then has one
writer and no sync deletes. Anything
else is one ConfigIssue on the later sync's mapping, naming both files, what collides and the fixes, unless a
mapping declares the sharing with `shares_records_with = ["other"]` (docs/reference/mapping.md): the user then
states that the two models' keys never overlap (for instance one region each), which syncer cannot check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING

from syncer import registry
from syncer.destinations import normal_address
from syncer.errors import ConfigIssue

if TYPE_CHECKING:
    from syncer.config import ConnectorEntry, SyncConfig

WRITES_FIELDS = frozenset({"upsert", "update"})  # modes that neither delete nor skip an existing record


@dataclass(frozen=True)
class RecordPlace:
    """Where and by what one sync's records are found: two syncs with equal places address the same records.
    `shown`: how a message names it ("hubspot companies by match field product_account_id")."""

    connector: str
    replaces: bool  # `Connector.upsert_replaces_record`
    addresses: tuple[str, ...]
    object: str
    identity: str
    shown: str = field(compare=False)


def record_place(sync: SyncConfig, entry: ConnectorEntry) -> RecordPlace | None:
    """`sync`'s RecordPlace; None for a message destination (Slack, email), a task object (its records are keyed
    by sync and project) or a connector not installed."""
    if entry.type not in registry.available():
        return None
    cls = registry.load(entry.type)
    if cls.recipient_fields or not cls.address_settings:
        return None
    addresses = tuple(sorted(normal_address(a) for a in cls.addresses(entry.settings)))
    identity = cls.record_identity(sync.object, sync.match.field)
    if identity is None:
        return None
    shown = f"{entry.type} {sync.object} by {identity}"
    return RecordPlace(
        entry.type, cls.upsert_replaces_record, addresses, sync.object.casefold(), identity.casefold(), shown
    )


def shared_record_issues(
    syncs: Mapping[str, SyncConfig], files: Mapping[str, str], connectors: Mapping[str, ConnectorEntry]
) -> list[ConfigIssue]:
    """One ConfigIssue per pair of syncs that address the same records in a way that loses data (see the module
    docstring), on the later sync's mapping file; and one per `shares_records_with` naming no sync."""
    issues: list[ConfigIssue] = []
    places: dict[str, RecordPlace] = {}
    for name, sync in syncs.items():
        for other in sync.shares_records_with:
            if other not in syncs or other == name:
                why = "names this sync itself" if other == name else "names no sync of this project"
                issues.append(ConfigIssue(files[name], "shares_records_with", f"{other!r} {why}"))
        entry = connectors.get(sync.connector)
        place = record_place(sync, entry) if entry is not None else None
        if place is not None:
            places[name] = place
    for first, second in combinations(sorted(places), 2):
        a, b = syncs[first], syncs[second]
        if places[first] != places[second] or first in b.shares_records_with or second in a.shares_records_with:
            continue
        harm = _harm(a, b, places[first].replaces)
        if harm:
            issues.append(_issue(a, b, files[first], files[second], places[first], harm))
    return issues


def _harm(a: SyncConfig, b: SyncConfig, replaces: bool) -> str | None:
    """What goes wrong when `a` and `b` write the same records; None when nothing does."""
    for sync, other in ((a, b), (b, a)):
        if sync.mode == "mirror":
            return (
                f"{sync.name} is mode mirror: a row leaving {sync.name}'s model deletes the record although "
                f"{other.name}'s model still has it, and {other.name} never sends it again"
            )
    for sync in (a, b):
        if sync.mode not in WRITES_FIELDS:
            return (
                f"{sync.name} is mode {sync.mode}: it never writes a record that exists, so whichever sync comes "
                f"second never gets its values there"
            )
    if replaces:
        return "the destination replaces a whole record by key: each sync's write drops the other's fields"
    match = {a.match.field.casefold()}
    common = sorted({f.casefold() for f in a.fields} & {f.casefold() for f in b.fields} - match)
    if common:
        return (
            f"both write {', '.join(common)}: the last run wins, silently, and each sync's state claims its own value"
        )
    return None


def _issue(a: SyncConfig, b: SyncConfig, file_a: str, file_b: str, place: RecordPlace, harm: str) -> ConfigIssue:
    return ConfigIssue(
        file_b,
        "match.field",
        f"sync {b.name!r} writes the same records as sync {a.name!r} ({file_a}, key match.field): {place.shown}, "
        f"at the same address; {harm}. Fix: merge them into one sync, give them different objects or match fields, "
        f"make both upsert with disjoint fields, or, when their models never share a key, declare it with "
        f'`shares_records_with = ["{a.name}"]` in {file_b} (docs/reference/mapping.md)',
    )
