"""Canonical identities: one string per record, whatever the warehouse driver returns.

A record's identity is its primary key (the state key) and its match value (what the destination
matches records on). Drivers hand the same value back as different Python objects: an integer key
is `1` from psycopg, `Decimal('1')` or `Decimal('1.00')` from a NUMERIC column, `1.0` from a
DOUBLE, `'1'` from a text column in SQLite. `canonical_identity` maps each of them to one string,
so a key never changes spelling when the driver, the column type or the warehouse does.

The canonical form (also in docs/input-contract.md, "Record identities"):

    value                           canonical string               example
    str                             unchanged (exact: no trim,     ' Acme' -> ' Acme'
                                    no case folding, no Unicode
                                    normalisation)
    int, and any integral number    decimal digits, '-' sign       1, 1.0, Decimal('1.00') -> '1'
    (float, Decimal)                                               Decimal('1E+2') -> '100'
    other finite float / Decimal    plain decimal notation, no     Decimal('1.50') -> '1.5'
                                    exponent, no trailing zeros    1e-07 -> '0.0000001'
    bool                            'true' / 'false'
    uuid.UUID                       lower-case, hyphenated         'a0ee...-...'
    date                            ISO 8601 'YYYY-MM-DD'          '2026-03-08'
    datetime without a zone         ISO 8601, 'T', no zone         '2026-03-08T23:30:00'
    datetime with a zone            converted to UTC, 'Z' suffix   '2026-03-08T22:30:00Z'
    time                            ISO 8601                       '23:30:00'
    bytes, bytearray, memoryview    lower-case hex                 b'\\x01\\xab' -> '01ab'
    anything else                   str(value)

Refused (IdentityError): None, NaN and infinities. A match value whose canonical string is blank
(empty, or only whitespace as `str.strip` sees it: spaces, tabs, newlines, NO-BREAK SPACE...)
identifies nothing either (`is_blank`): the diff rejects its row, the collision checks skip it.
A composite key is its parts' canonical strings joined by U+001F (the unit separator), in
primary-key order: the stored form, never shown. People see and type a key in one form (`key_text`,
`typed_keys`; README "Record keys"): a one-column key as it is (`A1`), a composite key as a JSON array
of its parts in primary-key order (`["A1","escalate"]`; numbers may be typed bare: `[1,"escalate"]`).

Strings are kept exact on purpose: trimming or case-folding here would merge records the
destination keeps apart. Where the destination itself compares match values more loosely (e.g.
Salesforce external IDs are case-insensitive), `match_comparison_key` gives the form it compares,
which the duplicate-match-value check uses; the canonical string is still what is sent.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

KEY_SEPARATOR = "\x1f"


class IdentityError(ValueError):
    """The value cannot identify a record (NULL, NaN or infinite)."""


class Unrepresentable:
    """A warehouse value Python has no form for (PostgreSQL 'infinity' and BC dates, timetz 24:00,
    years past 9999), as the driver spelled it: what the reader hands over instead of stopping the
    whole sync, so the mapper rejects that row with the reason (`values.convert`) and no key is
    made of it (`canonical_identity`)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"{self.text!r} (no Python form)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unrepresentable) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("Unrepresentable", self.text))


def canonical_identity(value: Any) -> str:
    """The one canonical string of a primary-key or match value (see the module docstring)."""
    if isinstance(value, str):
        return value
    if value is None:
        raise IdentityError("NULL cannot identify a record")
    if isinstance(value, Unrepresentable):
        raise IdentityError(f"{value!r} cannot identify a record")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise IdentityError(f"{value!r} cannot identify a record")
        return _plain_decimal(Decimal(repr(value)))  # repr: the shortest string that round-trips
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise IdentityError(f"{value!r} cannot identify a record")
        return _plain_decimal(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def identity_text(value: Any) -> str:
    """`canonical_identity`, except that a value with no identity (NULL, NaN) comes back as
    str(value) instead of raising: for joins across tables where such a row simply matches nothing."""
    try:
        return canonical_identity(value)
    except IdentityError:
        return str(value)


def composite_identity(values: Sequence[Any]) -> str:
    """The state key of a row: one canonical value, or the parts joined by U+001F."""
    if len(values) == 1:
        return canonical_identity(values[0])
    return KEY_SEPARATOR.join(canonical_identity(v) for v in values)


def key_text(key: str) -> str:
    """A stored key as people see it (every table, --json, preview, reason, message): a one-column key
    unchanged; a composite key (parts joined by U+001F, which a terminal shows as nothing) as the JSON array
    of its parts, `"A1\x1fescalate"` -> `["A1","escalate"]`, what `typed_keys` reads back."""
    if KEY_SEPARATOR not in key:
        return key
    return json.dumps(key.split(KEY_SEPARATOR), ensure_ascii=False, separators=(",", ":"))


def typed_keys(text: str) -> tuple[str, ...]:
    """The stored keys a key typed by a person may mean (`forget KEY`, `audit --key KEY`), most likely first:
    a JSON array of two or more parts (strings, numbers, booleans: `["A1","escalate"]`, `[1,"x"]`) is a
    composite key, its parts canonical as `composite_identity` makes them; the text itself always too (a
    one-column key, which could itself look like an array, or a key pasted with its raw U+001F)."""
    if text.startswith("["):
        try:
            parts = json.loads(text)
        except ValueError:
            parts = None
        if isinstance(parts, list) and len(parts) > 1 and all(isinstance(p, str | int | float) for p in parts):
            try:
                composite = composite_identity(parts)
            except IdentityError:  # NaN: identifies nothing
                return (text,)
            return (composite, text) if composite != text else (text,)
    return (text,)


def is_blank(canonical: str) -> bool:
    """A canonical match value that identifies no record: empty or only whitespace (`str.strip`'s,
    the same in every diff mode). Salesforce stores '' as NULL (API-FACTS "Salesforce empty vs null"),
    so an upsert by it creates a record every time; HubSpot refuses it; neither should see it."""
    return not canonical.strip()


def match_comparison_key(canonical: str, casefold: bool) -> str:
    """The form in which a destination compares match values: the canonical string itself, or
    lower-cased when the destination compares case-insensitively (Salesforce external IDs unless
    defined case sensitive; HubSpot unique property values). `str.lower` rather than `casefold`,
    so it agrees with SQL LOWER() used for the same check in the warehouse."""
    return canonical.lower() if casefold else canonical


def _plain_decimal(value: Decimal) -> str:
    """A finite decimal in plain notation: integral values as integers, others without exponent
    or trailing zeros. -0 is 0."""
    if value == value.to_integral_value():
        return str(int(value))
    text = format(value.normalize(), "f")
    return text
