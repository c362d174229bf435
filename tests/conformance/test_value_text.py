"""One exact text of a warehouse value on every path that makes text without a destination type
(evaluator finding 5): template substitutions on every connector, untyped fields (CRM task fields),
`cast = "str"` and `case`; and `cast` / `round` read text through Decimal, never a float.

A DECIMAL(38,2) of 17 integer digits, a float that Python writes with an exponent and a boolean go
through each connector's field types; each must arrive as syncer.value_text documents it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from syncer_connectors.email.connector import TEXT_FIELDS as EMAIL_FIELDS
from syncer_connectors.hubspot.batch import to_property_value
from syncer_connectors.hubspot.schema import field_type as hubspot_type
from syncer_connectors.salesforce.describe import field_type as salesforce_type
from syncer_connectors.slack.connector import TEXT_FIELDS as SLACK_FIELDS

from syncer.escaping import html_lines
from syncer.mapping import FieldSpec, Mapper, RowRejected
from syncer.value_text import text_form
from syncer.values import JSON, FieldType

# warehouse value -> its one text (syncer.value_text)
TEXTS: list[tuple[Any, str]] = [
    (Decimal("12345678901234567.89"), "12345678901234567.89"),  # a float keeps ~17 digits: ...568e+16
    (Decimal("1234567890123456789.0123456789"), "1234567890123456789.0123456789"),
    (Decimal("1E+2"), "100"),
    (Decimal("0.0000000001"), "0.0000000001"),
    (1e-07, "0.0000001"),  # str() gives 1e-07
    (1e300, "1" + "0" * 300),  # str() gives 1e+300
    (0.1 + 0.2, "0.30000000000000004"),  # shortest round-trip, not 0.3
    (12345678901234567891, "12345678901234567891"),
    (True, "true"),  # str() gives True
    (False, "false"),
    (dt.date(2026, 3, 8), "2026-03-08"),
    (dt.datetime(2026, 3, 8, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))), "2026-03-09T04:30:00.000Z"),
    (dt.datetime(2026, 3, 8, 23, 30), "2026-03-08T23:30:00"),
    (dt.time(23, 30), "23:30:00"),
    ("Acme", "Acme"),
]

# destination field types a template can fill, one per connector (plain text: no markup to escape here)
TEXT_TYPES: dict[str, FieldType | None] = {
    "hubspot string property": hubspot_type({"type": "string", "fieldType": "text"}),
    "salesforce text": salesforce_type({"type": "string", "length": 1300}),
    "webhook JSON": JSON,
    "slack text": SLACK_FIELDS["text"],
    "email subject": EMAIL_FIELDS["subject"],
    "email text": EMAIL_FIELDS["text"],
    "email html": EMAIL_FIELDS["html"],
    "CRM task field (untyped)": None,
}


def _map(spec: FieldSpec, t: FieldType | None, value: Any) -> Any:
    types = {} if t is None else {"f": t}
    return Mapper({"f": spec}, "k", "send", types=types).map({"k": "1", "v": value})[1]["f"]


@pytest.mark.parametrize("destination", list(TEXT_TYPES))
@pytest.mark.parametrize(("value", "text"), TEXTS, ids=[t for _, t in TEXTS])
def test_a_template_substitutes_the_exact_text_on_every_connector(value: Any, text: str, destination: str) -> None:
    assert _map(FieldSpec(template="v={v}."), TEXT_TYPES[destination], value) == f"v={text}."


@pytest.mark.parametrize(("value", "text"), TEXTS, ids=[t for _, t in TEXTS])
def test_an_untyped_field_carries_the_exact_text_to_the_wire_and_the_audit(value: Any, text: str) -> None:
    mapped = _map(FieldSpec(column="v"), None, value)
    if isinstance(value, bool | int | str):
        assert mapped == value  # JSON carries these exactly as they are
    else:
        assert mapped == text
    # the HubSpot task body (rich text) and every property value: the same text
    assert html_lines(to_property_value(mapped)) == text
    assert text_form(value) == text


@pytest.mark.parametrize(("value", "text"), TEXTS, ids=[t for _, t in TEXTS])
def test_cast_str_and_case_use_the_exact_text(value: Any, text: str) -> None:
    assert _map(FieldSpec(column="v", cast="str"), None, value) == text
    assert _map(FieldSpec(column="v", case="upper"), None, value) == text.upper()


@pytest.mark.parametrize(
    ("raw", "spec", "expected"),
    [
        ("12345678901234567891", {"cast": "int"}, 12345678901234567891),  # through a float: ...567000
        ("12345678901234567.125", {"round": 2}, "12345678901234567.13"),  # through a float: ...568
        (" 98765432109876543.5 ", {"cast": "int"}, 98765432109876544),
        ("-12345678901234567.125", {"round": 2}, "-12345678901234567.13"),  # half away from zero
        ("1E+3", {"round": 0}, 1000),
    ],
)
def test_cast_and_round_read_text_through_decimal(raw: str, spec: dict[str, Any], expected: Any) -> None:
    number = hubspot_type({"type": "number"})
    assert _map(FieldSpec(column="v", **spec), None, raw) == expected  # untyped: an int as it is, else exact text
    assert _map(FieldSpec(column="v", **spec), number, raw) == str(expected)


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ("{v:,.2f}", Decimal("12345678901234567.89"), "12,345,678,901,234,567.89"),  # a float: ...,568.00
        ("{v:d}", Decimal("12345678901234567891"), "12345678901234567891"),
        ("{v:%d %b %Y}", dt.date(2026, 3, 8), "08 Mar 2026"),
        ("{v:>6}", None, "      "),
    ],
)
def test_a_format_spec_formats_the_exact_value(template: str, value: Any, expected: str) -> None:
    assert _map(FieldSpec(template=template), None, value) == expected


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), Decimal("NaN"), b"\xff"])
@pytest.mark.parametrize("spec", [{"template": "x {v}"}, {"column": "v"}, {"column": "v", "cast": "str"}])
def test_a_value_without_exact_text_rejects_the_row_naming_the_field(bad: Any, spec: dict[str, Any]) -> None:
    with pytest.raises(RowRejected, match="field 'f'"):
        _map(FieldSpec(**spec), None, bad)
