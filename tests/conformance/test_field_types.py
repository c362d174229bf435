"""What each destination's own schema says a field takes -> FieldType: HubSpot property definitions
and Salesforce describe entries, one row per shape, and the rule each one implies."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from syncer_connectors.hubspot.schema import field_type as hubspot_type
from syncer_connectors.salesforce.describe import field_type as salesforce_type

from syncer.values import (
    FieldType,
    Refused,
    _number_out,
    _text,
    convert,
    converter,
    exact_number,
    to_json,
    to_json_value,
)

OPTIONS = [{"label": "Hot", "value": "hot"}, {"label": "Warm", "value": "warm"}]


@pytest.mark.parametrize(
    ("definition", "value", "sent"),
    [
        ({"type": "string", "fieldType": "text"}, 80.0, "80"),
        ({"type": "number", "fieldType": "number"}, Decimal("1E+3"), "1000"),
        ({"type": "bool", "fieldType": "booleancheckbox"}, True, "true"),
        ({"type": "enumeration", "fieldType": "booleancheckbox", "options": []}, False, "false"),
        ({"type": "enumeration", "fieldType": "select", "options": OPTIONS}, "warm", "warm"),
        ({"type": "enumeration", "fieldType": "checkbox", "options": OPTIONS}, "hot;warm", "hot;warm"),
        ({"type": "enumeration", "fieldType": "select", "options": OPTIONS}, "", ""),  # "" clears
        ({"type": "phone_number", "fieldType": "phonenumber"}, "+1 555", "+1 555"),
        ({"type": "date", "fieldType": "date"}, "2026-03-08", "2026-03-08"),
    ],
)
def test_hubspot_property_definitions(definition: dict[str, Any], value: Any, sent: str) -> None:
    assert convert("p", value, hubspot_type(definition)) == sent


@pytest.mark.parametrize(
    ("definition", "value", "why"),
    [
        ({"type": "enumeration", "fieldType": "select", "options": OPTIONS}, "cold", "not one of the options"),
        ({"type": "enumeration", "fieldType": "checkbox", "options": OPTIONS}, "hot;cold", "not one of the options"),
        ({"type": "bool", "fieldType": "booleancheckbox"}, 1, "cannot go into HubSpot bool property"),
        ({"type": "string", "fieldType": "text"}, "x" * 65_537, "65536"),
        ({"type": "number", "fieldType": "number"}, "1e-07x", "is not a number"),
    ],
)
def test_hubspot_property_definitions_refuse(definition: dict[str, Any], value: Any, why: str) -> None:
    with pytest.raises(Refused, match=why):
        convert("p", value, hubspot_type(definition))


@pytest.mark.parametrize(
    ("describe", "value", "sent"),
    [
        ({"type": "string", "length": 5}, "abcde", "abcde"),
        ({"type": "string", "length": 5}, "", None),  # Salesforce stores "" as null
        ({"type": "picklist", "restrictedPicklist": False, "picklistValues": [{"value": "a"}]}, "zz", "zz"),
        ({"type": "picklist", "picklistValues": [{"value": "a"}, {"value": "b", "active": False}]}, "a", "a"),
        ({"type": "multipicklist", "picklistValues": [{"value": "a"}, {"value": "b"}]}, "a;b", "a;b"),
        ({"type": "double", "precision": 18, "scale": 2}, 55.5, Decimal("55.5")),
        ({"type": "currency", "precision": 18, "scale": 2}, Decimal("12345678901234567.0"), None),
        ({"type": "int", "digits": 9}, 80.0, 80),
        ({"type": "boolean"}, "TRUE", True),
        ({"type": "datetime"}, "2026-03-08T23:30:00+01:00", "2026-03-08T22:30:00.000Z"),
        ({"type": "address"}, "anything", "anything"),  # no rule known: sent as JSON
    ],
)
def test_salesforce_describe(describe: dict[str, Any], value: Any, sent: Any) -> None:
    field_type = salesforce_type(describe)
    if sent is None and value != "":
        with pytest.raises(Refused, match="digits before the point"):
            convert("F__c", value, field_type)
        return
    assert convert("F__c", value, field_type) == sent


def test_salesforce_inactive_picklist_value_is_refused() -> None:
    field_type = salesforce_type(
        {"type": "picklist", "picklistValues": [{"value": "a"}, {"value": "b", "active": False}]}
    )
    with pytest.raises(Refused, match="not one of the options"):
        convert("F__c", "b", field_type)


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        ({"n": Decimal("12345678901234567890.12")}, '{"n":12345678901234567890.12}'),
        ({"n": Decimal("1E-7")}, '{"n":0.0000001}'),
        ({"n": [Decimal("-0.0"), 1, True, None]}, '{"n":[-0.0,1,true,null]}'),  # JSON keeps a signed zero
        ({"s": "\x00looks like a marker 1.5"}, '{"s":"\\u0000looks like a marker 1.5"}'),
    ],
)
def test_to_json_writes_exact_plain_numbers(payload: dict[str, Any], text: str) -> None:
    assert to_json(payload) == text


def test_to_json_refuses_non_finite_floats() -> None:
    with pytest.raises(ValueError, match="Out of range"):
        to_json({"n": float("nan")})


def test_describe_of_the_type_changes_with_every_rule() -> None:
    base = FieldType("number", "Salesforce double(18,2)", precision=18, scale=2)
    variants = [
        FieldType("number", "Salesforce double(18,2)", precision=18, scale=3),
        FieldType("number", "Salesforce double(18,2)", precision=17, scale=2),
        FieldType("string", "Salesforce double(18,2)", precision=18, scale=2),
        FieldType("number", "Salesforce double(18,2)", precision=18, scale=2, empty_is_null=True),
    ]
    assert len({base.describe(), *(v.describe() for v in variants)}) == 5


@pytest.mark.parametrize(
    ("value", "sent"),
    [(80.0, "80"), (Decimal("12.50"), "12.5"), ("<!channel> hi", "<!channel> hi"), (float("nan"), None)],
)
def test_slack_message_text_is_text(value: Any, sent: str | None) -> None:
    from syncer_connectors.slack.connector import TEXT_FIELDS

    if sent is None:
        with pytest.raises(Refused, match="text: float NaN"):
            convert("text", value, TEXT_FIELDS["text"])
    else:
        assert convert("text", value, TEXT_FIELDS["text"]) == sent
    with pytest.raises(Refused, match="40000"):
        convert("text", "x" * 40_001, TEXT_FIELDS["text"])


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.text(), st.integers(min_value=-(10**40), max_value=10**40)), wire=st.booleans())
def test_json_fast_paths_are_the_general_rule(value: Any, wire: bool) -> None:
    """`to_json_value` answers str and int before its general branches (they run per row per field):
    the answer is exactly what those branches give (text as `_text`, numbers as `_number_out`)."""
    t = FieldType("json", "JSON value", text_wire=wire)
    general = _text(value, t) if isinstance(value, str) else _number_out(exact_number(value, t), t)
    sent = to_json_value(value, t)
    assert sent == general and type(sent) is type(general)


# every shape of field type the connectors build, the ones `converter` answers itself and the others
FIELD_TYPES = [
    FieldType("json", "JSON"),
    FieldType("json", "JSON text", text_wire=True),
    FieldType("json", "JSON, empty is null", empty_is_null=True),
    FieldType("string", "text"),
    FieldType("string", "text(3)", length=3),
    FieldType("string", "text(0)", length=0),
    FieldType("string", "Salesforce string(5)", length=5, empty_is_null=True, nillable=False),
    FieldType("string", "email", length=20, empty_is_null=True, text_format="email"),
    FieldType("string", "HubSpot string", text_wire=True, length=65_536, markup="html"),
    FieldType("enumeration", "select", options=frozenset({"a", "b"})),
    FieldType("enumeration", "checkbox", options=frozenset({"a", "b"}), multi=True, text_wire=True),
    FieldType("number", "double(6,2)", precision=6, scale=2, empty_is_null=True),
    FieldType("number", "HubSpot number", text_wire=True),
    FieldType("integer", "int(4)", precision=4),
    FieldType("bool", "bool"),
    FieldType("bool", "HubSpot bool", text_wire=True),
    FieldType("date", "date"),
    FieldType("datetime", "datetime", empty_is_null=True),
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["", "a", "b", "a;b", "x@y.io", "2026-03-08", "12.50", "true", "ab"]),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=-5))])),
    st.times(),
    st.binary(max_size=6),
    st.lists(st.integers(-5, 5), max_size=3),
    st.builds(uuid.UUID, st.uuids().map(str)),
)


def _outcome(call: Any) -> Any:
    try:
        value = call()
    except Exception as exc:  # Refused, or anything else convert raises: the fast path must raise it too
        return (type(exc), str(exc))
    return (type(value), value)


@settings(max_examples=1500, deadline=None)
@given(value=VALUES, field_type=st.sampled_from(FIELD_TYPES))
def test_the_per_field_converter_is_convert(value: Any, field_type: FieldType) -> None:
    """`converter(name, t)` answers NULL, text and (into JSON) whole numbers and booleans itself, the
    way the table does per value: every value, into every shape of field, gives what `convert` gives
    (value and its type, or the same refusal, word for word)."""
    fast = _outcome(lambda: converter("f", field_type)(value))
    assert fast == _outcome(lambda: convert("f", value, field_type))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (uuid.UUID("e3e70682-c209-4cac-629f-6fbed82c07cd"), "str 'e3e70682-c209-4cac-629f-6fbed82c07cd'"),
        (memoryview(b"x" * 50), "bytes of 50 chars b'" + "x" * 37 + "...'"),
        (bytearray(b"ab"), "bytes b'ab'"),
    ],
)
def test_a_refused_uuid_or_buffer_is_named_not_a_crash(value: Any, shown: str) -> None:
    """A UUID (psycopg's uuid columns) or a memoryview refused by a field is named in the reason like
    the text or bytes it stands for (it raised TypeError inside the reason, stopping the whole sync)."""
    with pytest.raises(Refused) as refused:
        convert("f", value, FieldType("number", "number"))
    assert str(refused.value).startswith(f"f: {shown} ")
