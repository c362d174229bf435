"""The mapper's per-row fast paths against the rules they stand for: random field specs, destination
types and rows go through `Mapper.map` / `Mapper.fingerprint` and through the general path written
out here the way syncer ran it before the fast paths (every transform read from the spec per value,
`_round` through Decimal, `values.convert` per value, `JSONEncoder.encode` per payload). Payloads,
fingerprints and rejection messages must be the same, byte for byte."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from syncer.field_dates import conflicts, formatted, in_zone
from syncer.mapping import (
    _ENCODER,
    FieldSpec,
    Mapper,
    RowRejected,
    _cast,
    _encode,
    _escape_for,
    _number_of,
    _plain,
    _round,
    compile_field,
)
from syncer.value_text import text_form
from syncer.values import JSON, FieldType, Refused, convert

TYPES = [
    None,
    JSON,
    FieldType("json", "JSON text", text_wire=True),
    FieldType("string", "text(6)", length=6, empty_is_null=True, nillable=False),
    FieldType("string", "HubSpot string", text_wire=True, length=65_536, markup="html"),
    FieldType("number", "double(8,2)", precision=8, scale=2),
    FieldType("integer", "int", text_wire=True),
    FieldType("date", "date"),
    FieldType("datetime", "datetime"),
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.floats(),
    st.floats(-1e6, 1e6).map(float.__round__).map(float),  # whole floats: `_round(value, 0)`'s fast path
    st.decimals(-(10**6), 10**6, places=3),
    st.sampled_from(["", "x", "Yes", "2.5", "-0.5", "2026-03-08", "2026-03-08 05:06:07", "<b>&"]),
    st.text(max_size=5),
    st.dates(dt.date(1990, 1, 1), dt.date(2040, 1, 1)),
    st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2040, 1, 1), timezones=st.sampled_from([None, dt.UTC])),
)
SPECS = st.builds(
    dict,
    column=st.sampled_from(["a", "b"]),
    cast=st.sampled_from([None, "str", "int", "float", "bool", "date", "datetime"]),
    round=st.sampled_from([None, None, -1, 0, 0, 2]),
    case=st.sampled_from([None, "lower", "upper"]),
    format=st.sampled_from([None, None, "%Y/%m/%d"]),
    tz=st.sampled_from([None, None, "Europe/Berlin"]),
    default=st.sampled_from([None, None, "none", 0, 1.5]),
    null=st.sampled_from([None, "send", "skip"]),
).filter(lambda spec: not conflicts(spec["cast"], spec["round"], spec["format"], spec["tz"]))  # else a config error
SPECS = SPECS.map(lambda spec: FieldSpec(**{k: v for k, v in spec.items() if v is not None}))


def general_round(value: Any, places: int) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return value
    number = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    if not number.is_finite():
        return number
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return int(rounded) if places <= 0 else rounded


def general_cast(value: Any, to: Any, zone: str | None) -> Any:
    if to == "int":  # the one cast that rounds
        number = _number_of(value) if isinstance(value, str) else value  # text: the number it spells, exactly
        return general_round(number, 0) if isinstance(number, float | Decimal) else int(number)
    return _cast(value, to, zone)


def general_field(spec: FieldSpec, typed: bool, escape: Any) -> Callable[[Mapping[str, Any]], Any]:
    transforms = (spec.cast, spec.round, spec.case, spec.format, spec.tz)
    if escape is not None or all(t is None for t in transforms):
        return compile_field(spec, typed, escape)  # no transform: the branches the fast paths did not touch

    def compute(row: Mapping[str, Any]) -> Any:
        value = row[spec.column or ""]
        if value is None:
            return spec.default
        if spec.tz is not None:  # first: the zone decides the day (syncer.field_dates)
            value = in_zone(value, spec.tz)
        if spec.cast is not None:
            value = general_cast(value, spec.cast, spec.tz)
        if spec.round is not None:
            number = value if isinstance(value, int | float | Decimal) else _number_of(str(value))
            value = general_round(number, spec.round)
        if spec.format is not None or spec.tz is not None:
            value = formatted(value, spec.format, typed and spec.case is None)
        if spec.case is not None:  # last, on the value's one exact text (syncer.value_text)
            value = text_form(value).lower() if spec.case == "lower" else text_form(value).upper()
        return value if typed else _plain(value)

    return compute


def general_map(
    fields: dict[str, FieldSpec], types: dict[str, FieldType], row: Mapping[str, Any]
) -> tuple[str | None, dict[str, Any]]:
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        field_type = types.get(name)
        try:
            value = general_field(spec, field_type is not None, _escape_for(field_type))(row)
        except (ValueError, TypeError, ArithmeticError, OverflowError) as exc:
            raise RowRejected(f"field {name!r}: {exc}") from exc
        null = spec.null or "skip"
        if field_type is not None:
            try:
                value = convert(name, value, field_type)
            except Refused as exc:
                raise RowRejected(str(exc)) from None
            if value is None and null == "send" and not field_type.nillable:
                raise RowRejected(f"{name}: NULL but {field_type.label} is required (not nillable)")
        if value is None and null == "skip":
            continue
        out[name] = value
    match = row["m"]
    return (None if match is None else str(match)), out


def general_fingerprint(scope: str, match_value: str | None, fields: Mapping[str, Any]) -> str:
    blob = _ENCODER.encode([scope, match_value, fields])
    return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()


def outcome(call: Callable[[], Any]) -> Any:
    try:
        result = call()
    except Exception as exc:  # RowRejected with its message, or whatever the general path raised
        return (type(exc), str(exc))
    return result, repr(result)  # repr: 1 and 1.0 and Decimal("1") are equal but sent differently


@settings(max_examples=600, deadline=None)
@given(
    specs=st.lists(SPECS, min_size=1, max_size=3),
    types=st.lists(st.sampled_from(TYPES), min_size=3, max_size=3),
    a=VALUES,
    b=VALUES,
    match=st.sampled_from([None, "m1", "M2"]),
)
def test_map_and_fingerprint_are_the_general_rule(
    specs: list[FieldSpec], types: list[FieldType | None], a: Any, b: Any, match: str | None
) -> None:
    fields = {f"f{i}": spec for i, spec in enumerate(specs)}
    typed = {name: t for name, t in zip(fields, types, strict=False) if t is not None}
    mapper = Mapper(fields, "m", scope="hook:accounts:m", types=typed)
    row = {"a": a, "b": b, "m": match}
    mapped = outcome(lambda: mapper.map(row))
    assert mapped == outcome(lambda: general_map(fields, typed, row))
    if not isinstance(mapped[0], type):
        match_value, payload = mapped[0]
        assert mapper.fingerprint(match_value, payload) == general_fingerprint("hook:accounts:m", match_value, payload)


@settings(max_examples=500, deadline=None)
@given(
    value=st.one_of(
        st.integers(-(2**70), 2**70),
        st.floats(),
        st.floats(-(2.0**54), 2.0**54).map(float.__round__).map(float),
        st.sampled_from([2.0**53 - 1, 2.0**53, -(2.0**53), 1e22, -0.0, 0.5, -2.5]),
        st.decimals(places=2, allow_nan=False),
    ),
    places=st.integers(-2, 3),
)
def test_round_of_a_whole_number_is_the_decimal_rule(value: Any, places: int) -> None:
    """`_round(value, 0)` answers whole ints and floats under 2**53 without Decimal: the same value
    and type as the Decimal rule (SQL ROUND half away from zero on the shortest decimal form)."""
    assert outcome(lambda: _round(value, places)) == outcome(lambda: general_round(value, places))


@settings(max_examples=300, deadline=None)
@given(
    payload=st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(),
            st.decimals(places=3, allow_nan=False),
            st.dates(),
        ),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
        max_leaves=8,
    )
)
def test_the_payload_encoder_is_json_encoder(payload: Any) -> None:
    """`mapping._encode` (the C encoder built once) writes exactly what `JSONEncoder.encode` writes."""
    assert _encode(["scope", "m", payload]) == _ENCODER.encode(["scope", "m", payload])
