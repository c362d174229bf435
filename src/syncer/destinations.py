"""Where and how a sync writes: the destination definition state remembers with every record.

A record is "already sent" only where it was sent. Its payload fingerprint says WHAT was written;
this definition says WHERE and HOW, and state keeps its digest per record (`synced_records.destination`,
`rejected_records.destination`; migration 0014):

    key          what it is                                   example
    connector    the connector's type                         "hubspot"
    address      its non-secret address (`Connector.addresses`: base URL, instance URL, webhook URL),
                 normalised (`normal_address`) and shown as scheme://host:port with only a digest
                 of its path (`shown_address`)                "https://api.hubapi.com:443"
    address_fp   a digest of the whole normalised address
    object       the destination object                       "companies"
    op           what a record's write does (`connector.WRITE_OP[mode]`): insert, update, upsert
                 (mirror and upsert both upsert: switching between them re-sends nothing)
    match_field  the field records are matched on; None in insert mode, where nothing is
                 matched (a task's match value names its parent)

Tokens, passwords and other credentials are not in it: a rotated token -- in a header, or in the URL's user
info or query -- reaches the same destination and re-sends nothing; the URL's path, which may be the secret
itself (Slack incoming webhooks), is kept and shown only as a digest. The connector's NAME is not in it
either: renaming it moves nothing. A record whose stored digest differs from the sync's current one is planned
again (`syncer.diff.Differ`) and sent, whatever the mode: a changed address or object is a new destination (an
insert-only destination -- tasks, Slack, email -- gets its records there once); a changed `op` re-plans every
record (insert -> upsert updates what insert mode left alone; update -> upsert releases NOT_FOUND rejections);
a changed match field is an identity move (syncer.rekeys). A NULL digest (a record written before 0014) is
taken as the current definition (`StateStore.adopt_destination`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from syncer.connector import WRITE_OP
from syncer.identity import identity_text
from syncer.secrets import mask

if TYPE_CHECKING:
    from syncer.state import StateStore

LABELS = {
    "connector": "connector",
    "address": "address",
    "object": "object",
    "op": "write (mode)",
    "match_field": "match field",
}


DEFAULT_PORTS = {"http": 80, "https": 443}
UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")  # RFC 3986 §2.3
_PERCENT_ENCODED = re.compile(r"%([0-9A-Fa-f]{2})")


def normal_percent(text: str) -> str:
    """`text` (a URL's path or query) with its percent-encodings normalised, RFC 3986 §6.2.2.1 and §6.2.2.2:
    the hex digits upper-cased ("%2f" -> "%2F") and an encoded unreserved character decoded ("%7E" -> "~",
    "%41" -> "A"). A reserved or other character stays encoded: "%2F" is not "/" (it does not separate
    segments), "%3F" is not "?"."""

    def one(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in UNRESERVED else f"%{match.group(1).upper()}"

    return _PERCENT_ENCODED.sub(one, text) if "%" in text else text


def normal_address(value: str, percent: bool = True) -> str:
    """The address a URL names, as two spellings of it compare equal (RFC 3986 §6.2.2, syntax- and
    scheme-based normalisation): scheme and host lower-cased, the scheme's default port made explicit,
    user info, query and fragment dropped (they carry credentials, not a place), the path's percent-encodings
    normalised (`normal_percent`: "%7e" and "~" are one address, "%2F" and "/" are not) and without its
    trailing slash. "HTTP://u:pw@Hooks.Example.com/x/?token=1#f" -> "http://hooks.example.com:80/x".
    Text that is not a URL with a host is returned stripped. `percent=False`: the path's percent-encodings as
    written (the form releases before leftovers4 compared; `DestinationDefinition.earlier`)."""
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError:  # a port that is no number: compare the text as written
        port = None
    if not parts.scheme or not parts.hostname:
        return value.strip()
    scheme = parts.scheme.lower()
    port = port or DEFAULT_PORTS.get(scheme)
    host = parts.hostname  # urlsplit lower-cases it
    netloc = f"[{host}]" if ":" in host else host
    return urlunsplit(
        (
            scheme,
            f"{netloc}:{port}" if port else netloc,
            (normal_percent(parts.path) if percent else parts.path).rstrip("/"),
            "",
            "",
        )
    )


def shown_address(normal: str) -> str:
    """What output and state show of a `normal_address`: scheme://host:port, and for a path only its digest
    ("https://hooks.slack.com:443/<path 3fa1c2d9e0b4>"): a path may be the secret (Slack incoming webhooks
    /services/T…/B…/XXXX), and the digest still tells two paths apart."""
    parts = urlsplit(normal)
    if not parts.scheme or not parts.netloc:
        return normal
    base = f"{parts.scheme}://{parts.netloc}"
    if not parts.path:
        return base
    return f"{base}/<path {hashlib.blake2b(parts.path.encode(), digest_size=6).hexdigest()}>"


def is_shown(address: str) -> bool:
    """Is this definition `address` in `shown_address` form already (an explicit port, a path only as its digest)?"""
    for text in address.split():
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            return False
        if not parts.scheme or port is None or not re.fullmatch(r"(/<path [0-9a-f]{12}>)?", parts.path):
            return False
    return bool(address)


def legacy_address(connector: str, shown: str) -> list[str]:
    """The addresses (`Connector.addresses`) behind the `address` a definition of migration 0014 showed: its
    display form of every address setting, space-separated (Salesforce: instance_url, login_url, domain --
    the first one set is the org; a bare domain value is https://{domain}.salesforce.com). Migration 0016."""
    first = (shown.split() or [""])[0]
    if is_shown(shown):
        return []  # not 0014's: already this module's form (the caller keeps it)
    if connector == "salesforce" and first and "://" not in first:
        return [f"https://{first}.salesforce.com"]
    return [first] if connector == "salesforce" else shown.split()


@dataclass(frozen=True)
class DestinationDefinition:
    """One sync's destination definition (see the module docstring); `digest` is what state keeps."""

    connector: str
    address: str
    address_fp: str
    object: str
    op: str
    match_field: str | None

    @classmethod
    def of(
        cls,
        connector_type: str,
        addresses: list[str],
        object_name: str,
        mode: str,
        match_field: str,
        percent: bool = True,
    ) -> DestinationDefinition:
        """The definition of a sync writing `object_name` in `mode` through a connector of
        `connector_type` whose address settings hold `addresses` (in `address_settings` order)."""
        normal = [normal_address(a, percent) for a in addresses]
        shown = " ".join(shown_address(a) for a in normal if a)
        op = WRITE_OP[mode]
        return cls(
            connector_type,
            shown,
            hashlib.blake2b("\x1f".join(normal).encode(), digest_size=8).hexdigest(),
            object_name,
            op,
            None if op == "insert" else match_field,
        )

    def as_json(self) -> str:
        return json.dumps(vars(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DestinationDefinition:
        return cls(**json.loads(text))

    @property
    def digest(self) -> str:
        return hashlib.blake2b(self.as_json().encode(), digest_size=16).hexdigest()

    def same_place(self, other: DestinationDefinition) -> bool:
        """Do both write the same object of the same destination (only the write or match field may differ)?"""
        return (self.connector, self.address_fp, self.object) == (other.connector, other.address_fp, other.object)

    def changes_since(self, old: DestinationDefinition | None) -> str:
        """Why a record written under `old` is planned again: "destination changed: address from X to Y"."""
        if old is None:
            return "destination changed (its earlier definition is unknown)"
        moved = []
        for name, label in LABELS.items():
            before, now = getattr(old, name), getattr(self, name)
            if before != now:
                moved.append(f"{label} from {_shown(before)} to {_shown(now)}")
        if not moved and old.address_fp != self.address_fp:
            moved.append("address")
        return mask("destination changed: " + "; ".join(moved or ["definition"]))


def _shown(value: str | None) -> str:
    return "(none)" if value is None else repr(value)


class SyncDestination:
    """One sync's current definition against what state holds (a `SyncJob` opens one)."""

    def __init__(
        self,
        state: StateStore,
        sync: str,
        definition: DestinationDefinition,
        by_match_value: bool = True,
        earlier: str | None = None,
    ) -> None:
        self.state = state
        # the digest the previous release gave this very definition (its path's percent-encodings as written):
        # records state holds under it were written here, and `adopt` takes them as written under this one
        self.earlier = earlier if earlier != definition.digest else None
        self.by_match_value = by_match_value  # `Connector.finds_by_match_value`
        self.sync = sync
        self.definition = definition
        self.digest = definition.digest
        self._known: dict[str, DestinationDefinition] | None = None
        self._reasons: dict[str | None, str] = {}

    def known(self) -> dict[str, DestinationDefinition]:
        """digest -> definition of every definition the sync has written under (read once)."""
        if self._known is None:
            found = self.state.destination_definitions(self.sync)
            self._known = {d: DestinationDefinition.from_json(text) for d, text in found.items()}
        return self._known

    @property
    def compared(self) -> str:
        """The digest state's records are compared with: this definition's, or until the first run after the
        upgrade the `earlier` one it replaces (a plan then says what that run does: `adopt` moves them)."""
        known = self.known()
        return self.earlier if self.earlier in known and self.digest not in known else self.digest

    def adopt(self) -> None:
        """A run writes under the current definition (`StateStore.adopt_destination`)."""
        earlier = [self.earlier] if self.earlier else []
        self.state.adopt_destination(self.sync, self.digest, self.definition.as_json(), earlier)
        self._known = None

    def reason(self, old: str | None) -> str:
        """Why a record state holds under digest `old` is planned again (`Differ.redirected`)."""
        if old not in self._reasons:
            self._reasons[old] = self.definition.changes_since(self.known().get(old or ""))
        return self._reasons[old]

    def field_moves(self) -> set[str]:
        """Digests of the definitions that wrote this object of this destination matched on another field:
        their records move to another identity (object, match field, value) -- syncer.rekeys."""
        now = self.definition
        if not self.by_match_value:
            return set()  # records are found by syncer's key: a new match field moves no identity
        return {
            digest
            for digest, old in self.known().items()
            if digest != self.digest
            and old.same_place(now)
            and None not in (old.match_field, now.match_field)
            and old.match_field != now.match_field
        }

    def elsewhere(self) -> set[str]:
        """Digests of the definitions that wrote another destination or object (address, object or connector
        type differ): their records are not here, so their record ids mean nothing here and a row that left
        the model has nothing here to delete."""
        here = {self.digest, self.compared}
        return {d for d, old in self.known().items() if d not in here and not old.same_place(self.definition)}

    def duplicating_moves(self, moved: set[str]) -> tuple[int, str | None, str | None]:
        """(how many, one key, the old field) of the records written under `moved` whose acknowledged payload
        does not carry the current match field with their match value: an upsert by that field finds no
        record holding the value and creates a second one (HubSpot batch upsert by idProperty; Salesforce
        upsert by external ID)."""
        field = self.definition.match_field
        missing, example = 0, None
        for key, match_value, payload in self.state.payloads_under(self.sync, sorted(moved)):
            value = payload.get(field or "")
            if value is None or identity_text(value) != match_value:
                missing += 1
                example = example or key
        olds = sorted({d.match_field or "" for g, d in self.known().items() if g in moved})
        return missing, example, ", ".join(olds) or None
