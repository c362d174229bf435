"""Mapping: a source row -> the fields a destination receives, plus their fingerprint.

A field is a column, a constant or a template, followed by optional transforms applied in a fixed
order: time zone (`tz`) -> cast -> round -> date/time format -> case (syncer.field_dates: the zone the
user named decides the day a cast or a format takes; a combination where an option could never
apply is a configuration error). Then each value is converted
to the destination field's type by the one conversion table (syncer.values): a value the field
cannot take exactly rejects the row, naming the field. The fingerprint is a hash of exactly what
goes on the wire (object, match value and converted fields), so a mapping edit changes the
fingerprint of exactly the records whose sent values change, and the diff re-sends only those.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import operator
import string
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from syncer import field_dates
from syncer.escaping import FOR_MARKUP
from syncer.identity import IdentityError, Unrepresentable, canonical_identity
from syncer.value_text import Template, text_form
from syncer.values import FieldType, Refused, converter

Cast = Literal["str", "int", "float", "bool", "date", "datetime"]
NullPolicy = Literal["send", "skip"]


class RowRejected(ValueError):
    """This row cannot be mapped (e.g. a value does not cast); the reason names the field."""


class FieldSpec(BaseModel):
    """One destination field. Exactly one of column / const / template."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    column: str | None = None
    """Source column to read. Give exactly one of `column`, `const`, `template`."""
    const: str | int | float | bool | None = None
    """A constant value sent for every record."""
    template: str | None = None
    """A Python format string over the row's columns, e.g. `"{first} {last}"`. Each value is substituted as its one
    exact text (docs/input-contract.md, "Values as text"): DECIMAL and FLOAT in plain notation with every digit and no
    exponent, booleans `true`/`false`, timestamps with a zone in UTC; NULL as empty text. A format spec
    (`{mrr:,.2f}`) formats the exact value (a DECIMAL is never made a float). A value with no exact text (NaN,
    infinity) rejects the row, naming the field.
    """
    cast: Cast | None = None
    """Convert the value first: `int` rounds a fractional value half away from zero (2.5 -> 3, -2.5 -> -3, like SQL
    ROUND) and reads text as the exact number it spells (never through a float), `str` gives the value's exact
    text (as a template does), `float` a binary float (about 17 significant digits), `bool` accepts true/t/yes/y/1
    and false/f/no/n/0/empty, `date` keeps the day of a timestamp (in `tz` when the field has one, else the UTC day;
    ISO text is read as a date or timestamp), `datetime` makes a date its midnight (in `tz` when given). A value
    that does not convert rejects the row, naming the field.
    """
    round: int | None = None
    """Round to this many decimal places after the cast, half away from zero on the value's shortest decimal form, as
    SQL ROUND does (42.25 -> 42.3, 0.5 -> 1, -0.5 -> -1); exact through Decimal, never a float (text is read as the
    number it spells). `0` gives an integer.
    """
    case: Literal["lower", "upper"] | None = None
    """Lower- or upper-case the value, last (after cast, round and format: `%b` with `upper` gives `MAR`). Match
    values and field names are otherwise sent as written.
    """
    format: str | None = None
    """strftime pattern for a date or timestamp, e.g. `%Y-%m-%d`, applied after cast and round, in `tz` when given.
    Without it dates are sent in ISO 8601. ISO 8601 text (SQLite's dates) is read as a date or timestamp; on any
    other value the row is rejected. With a `cast` to `int`, `float` or `bool`, or with `round`, it is a configuration
    error (it could never apply). On a destination field that holds an instant (a HubSpot or Salesforce datetime, a
    task's due time) the pattern must keep the UTC offset (`%z`), else `plan`, `run` and `check` stop with a
    configuration error naming the field: text without an offset is read as UTC and the time would move.
    """
    tz: str | None = None
    """IANA time zone a timestamp is converted to first, before cast and format: the day `cast = "date"` or a
    `format` takes is the day in this zone. A naive timestamp is taken as UTC; a date is kept (a day has no
    instant); ISO 8601 text is read as a date or timestamp; a number or boolean rejects the row. With a `cast` to
    `str`, `int`, `float` or `bool`, or with `round`, it is a configuration error (it could never apply). Into a
    datetime field without `format` the instant is kept (sent in UTC)."""
    default: str | int | float | bool | None = None
    """Sent as written instead of a NULL, e.g. `default = "none"` (no cast, round, case or format is applied to it); the
    field's NULL policy then no longer applies.
    """
    null: NullPolicy | None = None
    """Per-field NULL policy (`send` clears, `skip` leaves the destination as is); overrides the mapping's
    `null_policy`.
    """

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [n for n in ("column", "template") if getattr(self, n) is not None]
        if "const" in self.model_fields_set:
            given.append("const")
        if len(given) != 1:
            raise ValueError("give exactly one of 'column', 'const' or 'template'")
        reasons = field_dates.conflicts(self.cast, self.round, self.format, self.tz)
        if reasons:
            raise ValueError("; ".join(reasons))
        return self

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                from syncer.config import _did_you_mean  # config reads mappings through this module

                meant = _did_you_mean(value, available_timezones())
                raise ValueError(f"unknown time zone {value!r}{meant} (use an IANA name like 'Europe/Berlin')") from exc
        return value

    @field_validator("template")
    @classmethod
    def _valid_template(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                list(string.Formatter().parse(value))
            except ValueError as exc:
                raise ValueError(f"bad template: {exc}") from exc
        return value

    def columns(self) -> list[str]:
        if self.column is not None:
            return [self.column]
        if self.template is not None:
            return [name for _, name, _, _ in string.Formatter().parse(self.template) if name]
        return []


def parse_field(value: str | dict[str, Any] | FieldSpec) -> FieldSpec:
    """`pql_score = "pql_score"` is shorthand for `{ column = "pql_score" }`."""
    if isinstance(value, FieldSpec):
        return value
    if isinstance(value, str):
        return FieldSpec(column=value)
    return FieldSpec.model_validate(value)


def _number_of(text: str) -> Decimal:
    """Text read as the exact number it spells (never through a float: '12345678901234567891' keeps
    every digit); ValueError when it spells none."""
    try:
        return Decimal(text.strip())
    except ArithmeticError:
        raise ValueError(f"not a number: {text!r}") from None


def _cast(value: Any, to: Cast, zone: str | None = None) -> Any:
    if to == "str":
        return text_form(value)
    if to == "int":
        number = _number_of(value) if isinstance(value, str) else value
        if isinstance(number, float | Decimal):
            return _round(number, 0)  # the same rule as `round = 0`
        return int(number)
    if to == "float":
        return float(value)
    if to == "bool":
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in {"true", "t", "yes", "y", "1"}:
                return True
            if lowered in {"false", "f", "no", "n", "0", ""}:
                return False
            raise ValueError(f"not a boolean: {value!r}")
        return bool(value)
    if to == "date":
        return field_dates.to_date(value)
    return field_dates.to_datetime(value, zone)


_WHOLE = (int, float)  # exact types `_round(value, 0)` answers without Decimal when whole and below 2**53
_EXACT = 2**53  # every integer below it in magnitude is a float exactly; repr gives its digits and ".0"


def _round(value: Any, places: int) -> Any:
    """Round half away from zero (as SQL ROUND does), exactly: through Decimal, never a float.

    Non-finite floats pass through unchanged so the conversion table can refuse them by name.
    """
    if places == 0 and type(value) in _WHOLE and -_EXACT < value < _EXACT and value == int(value):
        return int(value)  # what the Decimal path gives a whole number under 2**53: itself, as int
    if isinstance(value, float) and not math.isfinite(value):
        return value
    number = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    if not number.is_finite():
        return number
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return int(rounded) if places <= 0 else rounded


def _utc(value: Any) -> Any:
    """A zoned datetime as the same instant in UTC; anything else as it is. The driver hands a
    TIMESTAMPTZ over in the session's zone (DuckDB: the process's TZ; PostgreSQL: the server's or
    session's `timezone`), so every transform and text form starts from UTC, as the typed wire form
    does (syncer.values), and a restart under another TZ changes nothing."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return value


_SCALARS = (str, int, bool)  # exact as they are, in JSON and in every connector's text


def _plain(value: Any) -> Any:
    """An untyped field's value: text, whole numbers, true/false and lists/dicts (Slack blocks) as
    they are; every other value as its one exact text (syncer.value_text): a Decimal or float never
    passes through a float form, and NaN/inf reject the row."""
    if type(value) in _SCALARS or value is None or isinstance(value, list | dict):
        return value
    return text_form(value)


def compile_field(
    spec: FieldSpec, typed: bool = False, escape: Callable[[object], str] | None = None
) -> Callable[[Mapping[str, Any]], Any]:
    """Build the function that computes this field from a row (raises ValueError on bad data).

    `typed`: keep the value's own type (Decimal, date, datetime) for the conversion table;
    otherwise dates become ISO text and decimals numbers (fields no destination type describes).
    `escape`: the destination renders this field as markup (syncer.escaping.FOR_MARKUP): a column's
    value, and every value a template substitutes, is escaped; the template's own text is not.
    """
    if escape is not None:
        return _escaped(spec, typed, escape)
    if spec.column is not None:
        column = spec.column

        def read(row: Mapping[str, Any]) -> Any:
            return row[column]
    elif spec.template is not None:
        read = Template(spec.template).render
    else:
        constant = spec.const

        def read(row: Mapping[str, Any]) -> Any:
            return constant

    transforms = (spec.cast, spec.round, spec.case, spec.format, spec.tz)
    if spec.column is not None and all(t is None for t in transforms) and typed:
        column, default = spec.column, spec.default

        def take(row: Mapping[str, Any]) -> Any:  # typed: the conversion table formats it
            value = row[column]
            return default if value is None else value

        return take

    if spec.column is not None and all(t is None for t in transforms):
        column, default = spec.column, spec.default

        def copy(row: Mapping[str, Any]) -> Any:  # the common case, kept cheap: it runs per row per field
            value = row[column]
            if type(value) in _SCALARS:
                return value
            return default if value is None else _plain(value)

        return copy

    default, cast, places, case, fmt, tz = spec.default, spec.cast, spec.round, spec.case, spec.format, spec.tz
    zoned = fmt is not None or tz is not None

    def compute(row: Mapping[str, Any]) -> Any:
        value = _utc(read(row))
        if value is None:
            return default
        if tz is not None:  # first: the zone the user named decides the day a cast or format takes
            value = field_dates.in_zone(value, tz)
        if cast is not None:
            value = _cast(value, cast, tz)
        if places is not None:
            value = _round(value if isinstance(value, int | float | Decimal) else _number_of(str(value)), places)
        if zoned:
            value = field_dates.formatted(value, fmt, typed and case is None)  # case needs the text
        if case is not None:
            value = text_form(value).lower() if case == "lower" else text_form(value).upper()
        return value if typed else _plain(value)

    return compute


def _escaped(spec: FieldSpec, typed: bool, escape: Callable[[object], str]) -> Callable[[Mapping[str, Any]], Any]:
    if spec.template is not None:
        return Template(spec.template, escape).render
    inner = compile_field(spec, typed)
    if spec.column is None:
        return inner  # a constant is the author's own text

    def column(row: Mapping[str, Any]) -> Any:
        value = inner(row)
        return None if value is None else escape(text_form(value))

    return column


class Mapper:
    """Applies a sync's field mapping to rows, converts to the destination's types, fingerprints the result.

    `types`: destination field -> FieldType (from `Connector.field_types()`); a field without one
    is passed as mapped and formatted by its connector (e.g. task fields).
    """

    def __init__(
        self,
        fields: Mapping[str, FieldSpec],
        match_column: str,
        null_policy: NullPolicy = "skip",
        scope: str = "",
        types: Mapping[str, FieldType] | None = None,
        destination: str = "",
    ) -> None:
        types = types or {}
        self._specs = (dict(fields), match_column, null_policy, scope, destination)
        self._fields = [
            (
                name,
                compile_field(spec, name in types, _escape_for(types.get(name))),
                spec.null or null_policy,
                types.get(name),
                converter(name, types[name]) if name in types else None,
            )
            for name, spec in fields.items()
        ]
        self._match_column = match_column
        self._scope = scope  # e.g. "hubspot:companies:domain": a change of target re-sends everything
        used = sorted({match_column}.union(*(spec.columns() for spec in fields.values())))
        self._inputs = operator.itemgetter(*used) if len(used) > 1 else (lambda row: (row[used[0]],))
        spec = [scope, match_column, null_policy, {n: s.model_dump(mode="json") for n, s in fields.items()}]
        spec.append({n: t.describe() for n, t in sorted(types.items())})  # a destination type change re-maps
        if destination:  # where and how it writes (syncer.destinations): a change re-plans every record
            spec.append(destination)
        # any edit of the mapping changes every source fingerprint: the spec is hashed in first
        self._spec_hash = hashlib.blake2b(_ENCODER.encode(spec).encode(), digest_size=16)

    def instant_issues(self, instants: Mapping[str, str]) -> dict[str, str]:
        """Field -> why its `format` would move the instant, for the fields in `instants` (field -> the
        destination's name for it, `Connector.instant_fields`). A pattern without `%z` writes the wall
        clock without its UTC offset, and the destination reads that as UTC: `tz = "Europe/Berlin"`
        lands an hour off, `America/New_York` four or five. Such a field is a configuration error,
        found before anything is sent: the instant is kept or the mapping refused, never moved."""
        issues = {}
        for name, spec in self._specs[0].items():
            if name in instants and spec.format is not None and "%z" not in spec.format:
                zone = f" in {spec.tz}" if spec.tz else ""
                issues[name] = (
                    f"format {spec.format!r} writes the time{zone} without its UTC offset, but {instants[name]} "
                    "takes an instant and would read it as UTC (the time would move). Leave out `format`: the "
                    "instant is sent in ISO 8601 UTC (a `tz` alone keeps it), or add %z to the pattern"
                )
        return issues

    @property
    def match_column(self) -> str:
        """The model column holding the match value."""
        return self._match_column

    def reads(self, primary_key: list[str]) -> list[str] | None:
        """The columns `map` and `source_fingerprint` read, with the primary key's: a row holding only
        these maps as the whole row does. None when a field is a template: a template's row is every
        column (each value is made plain, or escaped, before the template picks its own)."""
        fields = self._specs[0].values()
        if any(spec.template is not None for spec in fields):
            return None
        return sorted({*primary_key, self._match_column, *(c for spec in fields for c in spec.columns())})

    def map(self, row: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """Return (match value, fields); raise RowRejected naming the field that failed."""
        out: dict[str, Any] = {}
        for name, compute, null, field_type, to_wire in self._fields:
            try:
                value = compute(row)
            except (ValueError, TypeError, ArithmeticError, OverflowError) as exc:
                raise RowRejected(f"field {name!r}: {exc}") from exc
            if type(value) is Unrepresentable:  # typed or not: no wire form is exact
                raise RowRejected(f"{name}: the warehouse value {value!r} cannot be read exactly; fix it in the model")
            if to_wire is not None and field_type is not None:
                try:
                    value = to_wire(value)
                except Refused as exc:
                    raise RowRejected(str(exc)) from None
                if value is None and null == "send" and not field_type.nillable:
                    raise RowRejected(f"{name}: NULL but {field_type.label} is required (not nillable)")
            if value is None and null == "skip":
                continue
            out[name] = value
        match = row.get(self._match_column)
        if match is None:
            return None, out
        try:
            return canonical_identity(match), out
        except IdentityError as exc:
            raise RowRejected(f"match column {self._match_column!r}: {exc}") from exc

    def computed(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Each field's value before conversion (fields whose transforms fail are left out)."""
        out = {}
        for name, compute, _null, _type, _to_wire in self._fields:
            try:
                out[name] = compute(row)
            except (ValueError, TypeError, ArithmeticError, OverflowError):
                continue
        return out

    def with_types(self, types: Mapping[str, FieldType]) -> Mapper:
        """The same mapping, converting each value to its destination field's type."""
        fields, match_column, null_policy, scope, destination = self._specs
        return Mapper(fields, match_column, null_policy, scope, types, destination)

    def source_fingerprint(self, row: Mapping[str, Any]) -> str:
        """A hash of the source values this mapping reads (and of the mapping itself): when it is the
        same as last time, the mapped payload is too, so the row needs no mapping at all."""
        digest = self._spec_hash.copy()
        digest.update(repr(self._inputs(row)).encode())
        return digest.hexdigest()

    def fingerprint(self, match_value: str | None, fields: Mapping[str, Any]) -> str:
        blob = _encode([self._scope, match_value, fields])
        return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()


def _escape_for(field_type: FieldType | None) -> Callable[[object], str] | None:
    return FOR_MARKUP[field_type.markup] if field_type is not None and field_type.markup else None


# one encoder, built once: json.dumps with options builds a new one per call
_ENCODER = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))


def _encoder() -> Callable[[Any], str]:
    """`_ENCODER.encode`, without the C encoder it builds on every call (measured: 1.6 -> 0.9 us for a
    three-field payload). The same C function with the same settings; no circular-reference check
    (a payload is built from warehouse values: no cycles), so nothing is shared between threads.
    Falls back to `_ENCODER.encode` where CPython has no C accelerator. Equal on every payload
    (tests/engine/test_mapping_paths.py)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    encode_items = make(None, str, json.encoder.encode_basestring_ascii, None, ":", ",", True, False, True)

    def encode(payload: Any) -> str:
        return "".join(encode_items(payload, 0))

    return encode


_encode = _encoder()
