"""Salesforce's documented rules for field values, as the emulated org applies them.

Two stages, as in the real service:

1. **Deserialization** (`parse_json`, `deserialize`): the request body is JSON read by a strict
   parser and each value is converted to the field's type. A failure here is not a record
   error: REST and sObject Collections answer the whole request `400 [{"errorCode":
   "JSON_PARSER_ERROR", "message": ...}]` (nothing is written); Bulk API 2.0 fails that row with
   `INVALID_TYPE_ON_FIELD_IN_RECORD`.
2. **Field rules** (`field_errors`): per record, `{statusCode, message, fields}` errors —
   STRING_TOO_LONG, INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, NUMBER_OUTSIDE_VALID_RANGE,
   INVALID_EMAIL_ADDRESS (an `email` field whose text is not name@domain.tld).

| field type                | takes                                         | refused with                       |
|---------------------------|-----------------------------------------------|------------------------------------|
| double, currency, percent | JSON number or numeric string; rounded to scale | JSON_PARSER_ERROR; NUMBER_OUTSIDE_... |
| int                       | JSON integer or integer string                | JSON_PARSER_ERROR; NUMBER_OUTSIDE_... |
| boolean                   | true / false (or the strings)                 | JSON_PARSER_ERROR                  |
| date                      | `YYYY-MM-DD`                                  | JSON_PARSER_ERROR                  |
| datetime                  | ISO 8601 date-time                            | JSON_PARSER_ERROR                  |
| text, picklist, reference | strings (numbers and booleans as their text)  | STRING_TOO_LONG; INVALID_OR_NULL_... |
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from syncer.emulator import InvalidJson, strict_json

from .emulator_schema import NUMERIC, Error, FieldSpec, err

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?")
# the org's own reading of an address (kept apart from syncer.values.EMAIL, so each checks the other):
# local part of atext characters and dots, not starting or ending with a dot; dotted domain of letters,
# digits and hyphens (any script: Email Address Internationalization)
EMAIL = re.compile(
    r"[^\s@.\"(),:;<>\[\]\\](?:[^\s@\"(),:;<>\[\]\\]*[^\s@.\"(),:;<>\[\]\\])?@[^\W_][\w-]*(?:\.[^\W_][\w-]*)+"
)
JACKSON_VALUE = "expected a valid value (number, String, array, object, 'true', 'false' or 'null')"


class ParseError(Exception):
    """The body (or one value in it) cannot be read as the field's type; `str(exc)` is Salesforce's message."""


def parse_json(body: bytes) -> Any:
    """The body as JSON, read as strictly as Salesforce's parser: NaN and Infinity are not JSON.

    Salesforce REST API "Status Codes and Error Responses": 400 when the JSON body contains an error;
    RFC 8259 has no NaN/Infinity literals, so `{"Score__c": NaN}` fails the whole request.
    """
    try:
        return strict_json(body)
    except InvalidJson as exc:
        where = f"at [line:{exc.line}, column:{exc.column}]"
        if exc.token:
            first = exc.token[0]
            raise ParseError(f"Unexpected character ('{first}' (code {ord(first)})): {JACKSON_VALUE} {where}") from exc
        raise ParseError(f"Unexpected character: {exc} {where}") from exc


def deserialize(spec: FieldSpec, value: Any) -> Any:
    """`value` as the field stores it; `""` and null are null. Raises ParseError when it is not of the type."""
    if value is None or value == "":
        return None  # REST API guide: an empty string in JSON clears the field (stored as null)
    kind = spec.type
    if kind in NUMERIC:
        return _number(spec, value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _cannot("boolean", value)
    if kind == "date":
        if isinstance(value, str) and ISO_DATE.fullmatch(value) and _valid(date.fromisoformat, value):
            return value
        raise _cannot("date", value)  # Bulk API 2.0 "Valid Date Format in Records": date is YYYY-MM-DD
    if kind == "datetime":
        if isinstance(value, str) and ISO_DATETIME.fullmatch(value):
            return value
        raise _cannot("datetime", value)
    if isinstance(value, dict | list):
        raise _cannot("String", value)
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def field_errors(spec: FieldSpec, label: str, value: Any) -> list[Error]:
    """Record-level errors for one deserialized value (value is already of the field's type)."""
    if value is None:
        return []
    if spec.type in NUMERIC:
        # Apex/API StatusCode NUMBER_OUTSIDE_VALID_RANGE: more integer digits than precision - scale
        digits = len(str(abs(int(Decimal(str(value))))).lstrip("0"))
        if digits > spec.precision - spec.scale:
            shown = float(value) if spec.type != "int" else value
            return [
                err(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"{label}: value outside of valid range on numeric field: {shown}",
                    [spec.name],
                )
            ]
        return []
    if spec.restricted and value not in spec.picklist:
        # Object Reference "API Field Properties", Restricted picklist: unapproved values can't be loaded
        return [
            err(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{label}: bad value for restricted picklist field: {value}",
                [spec.name],
            )
        ]
    if spec.type == "email" and isinstance(value, str) and not EMAIL.fullmatch(value):
        # Salesforce Help 000384328 "Email Address Format Technical Standards Validation"; INVALID_EMAIL_ADDRESS
        return [err("INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", [spec.name])]
    if spec.length and isinstance(value, str) and len(value) > spec.length:
        # describe `length`: "the maximum size of the field in Unicode characters"; StatusCode STRING_TOO_LONG
        message = f"{label}: data value too large: {value[:40]} (max length={spec.length})"
        return [err("STRING_TOO_LONG", message, [spec.name])]
    return []


def _number(spec: FieldSpec, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _cannot("double" if spec.type != "int" else "int", value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _cannot("double", value) from None
    if not number.is_finite():
        raise _cannot("double", value)
    if spec.type == "int":
        if number != number.to_integral_value():
            raise _cannot("int", value)
        return int(number)
    # Salesforce Help "Custom Field Types", Number: values with more decimal places than the scale are rounded
    rounded = number.quantize(Decimal(1).scaleb(-spec.scale), rounding=ROUND_HALF_UP)
    return value if isinstance(value, int) else float(rounded)  # a JSON integer is kept as sent


def _cannot(kind: str, value: Any) -> ParseError:
    token = "VALUE_STRING" if isinstance(value, str) else "VALUE_TRUE" if value is True else "VALUE_NUMBER"
    return ParseError(
        f"Cannot deserialize instance of {kind} from {token} value {value} "
        "or request may be missing a required field at [line:1, column:1]"
    )


def _valid(parse: Any, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True
