"""The typed value contract: one conversion table (value kind x destination type) for every connector.

A driver hands syncer a Python value (`kind_of` names its kind); the destination says what a field
takes (a `FieldType`, learned from the destination itself: HubSpot's property list, Salesforce's
describe, JSON for webhook/Slack). `convert` looks the pair up in `TABLE` and either returns the
value exactly as it goes on the wire or raises `Refused` with a reason naming the field, the value's
type and what the field takes. Nothing passes through a lossy form: a Decimal stays exact, a float
is written as its shortest round-trip decimal, and no number is ever written with an exponent.

Wire forms: a field with `text_wire` (HubSpot: every property value is a string) gets `str`; a JSON
destination (Salesforce, webhook, Slack) gets `None | bool | int | Decimal | str` (`to_json` writes
a Decimal as a plain JSON number). Rules and where they come from (../shared/API-FACTS.md, section
"Value formats and identity rules", and the vendor docs named there):

- numbers: finite only, plain decimal text (HubSpot: "no nan, inf or exponent form"; JSON, RFC 8259,
  has no NaN/Infinity). Salesforce double/currency/percent keep `scale` decimals and
  `precision - scale` integer digits (describe); more decimals would be rounded by Salesforce, so
  they are refused (add `round = N` to the mapping). Salesforce int: whole numbers only.
- negative zero (a float -0.0, or a Decimal '-0'): kept where the destination holds a sign of zero
  and sent as `-0.0` into JSON (RFC 8259 allows it; `-0.0`, not `-0`, which parsers read as the
  integer 0) and `-0` into text. HubSpot number properties ("a number value containing numeric
  digits", developers.hubspot.com/docs/api/crm/properties) and Salesforce number fields (fixed
  precision and scale, describe) hold decimals, which have no signed zero: 0 is the exact value
  there. The payload fingerprint is over these wire values, so in every diff mode a 0.0 -> -0.0 edit
  is a change for JSON and text fields and no change for CRM number fields.
- bool: true/false only; 0/1 or "yes" are refused (HubSpot `bool` properties take "true"/"false").
- date: HubSpot FAQ "How should timestamps be formatted": a date property takes midnight UTC only;
  sent as YYYY-MM-DD. A datetime at another time of day is refused. Salesforce date: the same.
- datetime: ISO 8601 in UTC with milliseconds, `...T23:30:00.000Z` (HubSpot and Salesforce both
  keep milliseconds). A naive datetime is taken as UTC (warehouse TIMESTAMP columns hold UTC).
  Into text and JSON (webhook, Slack) a zoned datetime keeps its microseconds when it has
  sub-millisecond digits (`iso_instant`): nothing there cuts them.
- strings: HubSpot string properties hold 65,536 characters; Salesforce text fields `length`
  (describe). Salesforce stores "" as null (REST), and Bulk 2.0 cannot say "" at all (an empty
  cell means "leave alone"), so for Salesforce "" is null and follows the mapping's null policy.
- email (Salesforce `email` fields): name@domain.tld (Salesforce Help 000384328), else refused as
  the service would (INVALID_EMAIL_ADDRESS). Salesforce `url` and `phone` fields are free text of
  their describe `length` (no format is enforced by the API), so only the length rule applies.
- enumeration / picklist: one of the field's option values (HubSpot `options[].value`, Salesforce
  active `picklistValues` of a restricted picklist); HubSpot multi-checkbox takes ';'-joined options.
- bytes: sent only when they are UTF-8 text; time of day only into text.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from syncer.field_dates import parse_when
from syncer.secrets import mask

Markup = Literal["slack", "html"]  # syncer.escaping.FOR_MARKUP
Base = Literal["string", "number", "integer", "bool", "date", "datetime", "enumeration", "json"]
KINDS = ("none", "bool", "int", "float", "decimal", "date", "datetime", "time", "str", "bytes")


class Refused(ValueError):
    """A value the destination field cannot take exactly; the message is the whole reason."""


@dataclass(frozen=True)
class FieldType:
    """What one destination field takes. `label` names it in reasons: "Salesforce double(18,2)"."""

    base: Base
    label: str
    text_wire: bool = False  # every value travels as a string (HubSpot)
    length: int | None = None  # characters
    precision: int | None = None  # total digits (Salesforce describe)
    scale: int | None = None  # digits after the point
    options: frozenset[str] | None = None  # allowed values; None = any
    multi: bool = False  # ';'-joined options (HubSpot checkbox enumeration)
    empty_is_null: bool = False  # "" means null at this destination (Salesforce)
    nillable: bool = True
    markup: Markup | None = None  # the destination renders this text: column values are escaped for it
    text_format: Literal["email"] | None = None  # the destination refuses text not of this form

    def describe(self) -> str:
        """A stable text of everything that changes what is sent (hashed into source fingerprints)."""
        opts = ",".join(sorted(self.options)) if self.options is not None else "*"
        parts = (self.label, self.base, self.text_wire, self.length, self.precision, self.scale, opts, self.multi)
        text = "|".join(map(str, (*parts, self.empty_is_null, self.nillable)))
        text = text if self.markup is None else f"{text}|markup={self.markup}"
        return text if self.text_format is None else f"{text}|format={self.text_format}"


JSON = FieldType("json", "JSON")


def kind_of(value: Any) -> str:
    """The value kind a driver returned, as the table's rows name it (UUID counts as str)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, str | uuid.UUID):
        return "str"
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes"
    return type(value).__name__


def describe_value(value: Any) -> str:
    """`float NaN`, `datetime 2026-03-08 23:30:00 (naive)`, `str 'abc'` (long text shortened). A UUID is
    shown as its text, a bytearray or memoryview as its bytes (their own repr has no length, or an address)."""
    kind = kind_of(value)
    if kind == "str" and not isinstance(value, str):
        value = str(value)  # uuid.UUID
    elif kind == "bytes" and not isinstance(value, bytes):
        value = bytes(value)
    if kind == "float" and not math.isfinite(value):
        return "float " + ("NaN" if math.isnan(value) else ("+inf" if value > 0 else "-inf"))
    if kind == "datetime":
        return f"datetime {value.isoformat(sep=' ')}" + (" (naive)" if value.tzinfo is None else "")
    if kind in ("str", "bytes"):
        size = len(value)
        if kind == "str":  # masked before the cut: a secret straddling it would keep its head
            value = mask(value)
        text = repr(value if len(value) <= 40 else value[:37] + ("..." if kind == "str" else b"..."))
        return f"{kind} of {size} chars {text}" if size > 40 else f"{kind} {text}"
    return f"{kind} {value}"


# -- numbers --------------------------------------------------------------------------------


def exact_number(value: Any, t: FieldType) -> Decimal:
    """int / finite float / finite Decimal / numeric str -> the exact Decimal; else Refused."""
    if isinstance(value, bool):
        raise Refused(f"is true/false, not a number; {t.label} takes numbers")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        number = Decimal(repr(value)) if math.isfinite(value) else None  # repr: shortest round-trip digits
    elif isinstance(value, Decimal):
        number = value if value.is_finite() else None
    else:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise Refused(f"is not a number {t.label} accepts") from None
        number = number if number.is_finite() else None
    if number is None:
        raise Refused(f"is not a number {t.label} accepts (finite numbers only)")
    return number


def is_negative_zero(number: Decimal) -> bool:
    """-0 / -0.0 (Decimal keeps the sign of a zero, as the float it came from did)."""
    return number.is_zero() and number.is_signed()


NEGATIVE_ZERO = Decimal("-0.0")  # the JSON wire form of a negative zero: to_json writes it as -0.0


def plain(number: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros: Decimal('1E+2') -> '100', 80.0 -> '80'."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _fits(number: Decimal, t: FieldType) -> Decimal:
    if t.scale is not None:
        decimals = max(0, -int(number.normalize().as_tuple().exponent)) if number else 0
        if decimals > t.scale:
            raise Refused(
                f"has {decimals} decimal places; {t.label} keeps {t.scale} (add round = {t.scale} to the mapping)"
            )
    if t.precision:
        integer_digits = len(plain(abs(number)).split(".")[0].lstrip("0"))
        allowed = t.precision - (t.scale or 0)
        if integer_digits > allowed:
            raise Refused(f"has {integer_digits} digits before the point; {t.label} holds {allowed}")
    return number


def _number_out(number: Decimal, t: FieldType) -> Any:
    if t.base == "json" and is_negative_zero(number):
        return "-0" if t.text_wire else NEGATIVE_ZERO  # JSON holds a signed zero; decimal fields do not
    text = plain(number)
    if t.text_wire:
        return text
    return int(text) if "." not in text else Decimal(text)


def to_number(value: Any, t: FieldType) -> Any:
    return _number_out(_fits(exact_number(value, t), t), t)


def to_integer(value: Any, t: FieldType) -> Any:
    number = exact_number(value, t)
    if number != number.to_integral_value():
        raise Refused(f"is not a whole number; {t.label} takes whole numbers (add round = 0 to the mapping)")
    return _number_out(_fits(number, t), t)


# -- text -----------------------------------------------------------------------------------


def _text(value: Any, t: FieldType) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(f"is not UTF-8 text; {t.label} takes text") from None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        number = exact_number(value, t)
        return "-0" if is_negative_zero(number) else plain(number)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return iso_instant(value)  # an instant: in UTC, whatever the session's time zone was
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()  # a naive datetime stays as the warehouse wrote it
    return str(value)


# Salesforce Help "Salesforce Email Address Format Technical Standards Validation" (000384328) and
# the knowledge article on email fields: local part = RFC 5322 atext and dots (not first or last),
# letters of any script (Email Address Internationalization); domain = letter/digit/hyphen labels
# joined by dots, at least two; otherwise the record fails with INVALID_EMAIL_ADDRESS.
EMAIL = re.compile(r"(?![.])[\w!#$%&'*+/=?^`{|}~.-]+(?<![.])@(?:[^\W_][\w-]*\.)+[^\W_]{2,}")


def to_string(value: Any, t: FieldType) -> Any:
    text = value if type(value) is str else _text(value, t)
    if t.length and len(text) > t.length:
        raise Refused(f"is {len(text)} characters; {t.label} holds {t.length}")
    if t.text_format == "email" and text and not EMAIL.fullmatch(text):
        raise Refused(f"is not an email address; {t.label} takes name@domain.tld only")
    return text


def to_option(value: Any, t: FieldType) -> Any:
    text = to_string(value, t)
    if not text or t.options is None:
        return text  # "" clears (HubSpot); Salesforce made it None above
    wanted = text.split(";") if t.multi else [text]
    unknown = [w for w in wanted if w not in t.options]
    if unknown:
        shown = ", ".join(sorted(t.options)[:10]) + (", ..." if len(t.options) > 10 else "")
        from syncer.config import _did_you_mean  # config reads values; only a refusal needs the hint

        meant = "".join(_did_you_mean(u, t.options) for u in unknown)
        raise Refused(f"is not one of the options of {t.label} ({shown}){meant}")
    return text


def to_bool(value: Any, t: FieldType) -> Any:
    if isinstance(value, bool):
        flag = value
    elif isinstance(value, str) and value.strip().lower() in ("true", "false"):
        flag = value.strip().lower() == "true"
    else:
        raise Refused(f"is not true/false; {t.label} takes true or false only")
    if t.text_wire:
        return "true" if flag else "false"
    return flag


# -- dates and times --------------------------------------------------------------------------


def _as_utc(value: dt.datetime) -> dt.datetime:
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _parse_when(value: str, t: FieldType) -> dt.date:
    try:
        return parse_when(value)
    except ValueError:
        raise Refused(f"is not an ISO 8601 date or datetime; {t.label} takes one") from None


def to_date(value: Any, t: FieldType) -> Any:
    if isinstance(value, str):
        value = _parse_when(value, t)
    if isinstance(value, dt.datetime):
        utc = _as_utc(value)
        if utc.time() != dt.time(0):
            raise Refused(f"is not at midnight UTC; {t.label} takes dates (midnight UTC) only")
        value = utc.date()
    if not isinstance(value, dt.date):
        raise Refused(f"is not a date; {t.label} takes dates")
    return value.isoformat()


def iso_instant(value: dt.datetime) -> str:
    """A zoned datetime as text: ISO 8601 in UTC with `Z`, milliseconds, or microseconds when the
    warehouse held sub-millisecond digits (text and JSON keep them; only datetime fields of HubSpot
    and Salesforce, which store milliseconds, are cut to their precision by `to_datetime`)."""
    spec = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
    return _as_utc(value).isoformat(timespec=spec).replace("+00:00", "Z")


def to_datetime(value: Any, t: FieldType) -> Any:
    if isinstance(value, str):
        value = _parse_when(value, t)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if not isinstance(value, dt.datetime):
        raise Refused(f"is not a date or datetime; {t.label} takes datetimes")
    return _as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- JSON -----------------------------------------------------------------------------------


def to_json_value(value: Any, t: FieldType) -> Any:
    kind = type(value)
    if kind is str:  # the common cases first (they run per row per field): what the branches below give
        return value
    if kind is int:
        return str(value) if t.text_wire else value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return _number_out(exact_number(value, t), t)
    if isinstance(value, list | tuple):
        return [to_json_value(v, t) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v, t) for k, v in value.items()}
    return _text(value, t)


def refuse(value: Any, t: FieldType) -> Any:
    raise Refused(f"cannot go into {t.label}")


Converter = Callable[[Any, FieldType], Any]
_NUMERIC = ("int", "float", "decimal", "str")
_TEXTUAL = ("bool", "int", "float", "decimal", "date", "datetime", "time", "str", "bytes")

# value kind x destination base -> converter. A missing cell refuses the value.
TABLE: dict[Base, dict[str, Converter]] = {
    "string": dict.fromkeys(_TEXTUAL, to_string),
    "enumeration": dict.fromkeys(("bool", "int", "decimal", "str"), to_option),
    "number": dict.fromkeys(_NUMERIC, to_number),
    "integer": dict.fromkeys(_NUMERIC, to_integer),
    "bool": dict.fromkeys(("bool", "str"), to_bool),
    "date": dict.fromkeys(("date", "datetime", "str"), to_date),
    "datetime": dict.fromkeys(("date", "datetime", "str"), to_datetime),
    "json": {**dict.fromkeys(_TEXTUAL, to_json_value), "list": to_json_value, "tuple": to_json_value},
}
TABLE["json"]["dict"] = to_json_value


_KIND_OF_TYPE: dict[type, str] = {}  # exact Python type -> kind, filled as drivers hand values over


def convert(name: str, value: Any, t: FieldType) -> Any:
    """The wire value of `value` for field `name` of type `t`; Refused("name: <value> <why>") if none."""
    if value is None or (value == "" and t.empty_is_null):
        return None
    kind = _KIND_OF_TYPE.get(type(value))
    if kind is None:
        kind = _KIND_OF_TYPE.setdefault(type(value), kind_of(value))
    converter = TABLE[t.base].get(kind, refuse)
    try:
        return converter(value, t)
    except Refused as exc:
        raise Refused(f"{name}: {describe_value(value)} {exc}") from None


def converter(name: str, t: FieldType) -> Callable[[Any], Any]:
    """`convert(name, value, t)` for one field, with what the table does to the common kinds worked
    out once instead of per value: NULL, and text into JSON or into free text within its length
    (and int, bool into JSON, unless it travels as text) come back as they are; every other value
    goes through `convert`. Equal to `convert` for every value (tests/conformance/test_field_types.py).
    """
    same: set[type] = {type(None)}
    text = t.base == "json" or (t.base == "string" and t.text_format is None)
    if t.base == "json":
        same |= {bool} if t.text_wire else {bool, int}
    limit = (t.length or None) if t.base == "string" else None  # to_string: a length of 0 is no limit
    empty_is_null = t.empty_is_null

    def run(value: Any) -> Any:
        kind = type(value)
        if kind is str:
            if text and (value or not empty_is_null) and (limit is None or len(value) <= limit):
                return value
        elif kind in same:
            return value
        return convert(name, value, t)

    return run


# -- JSON with exact numbers ----------------------------------------------------------------

_RAW = f"\x00{secrets.token_hex(6)}:"  # marks a Decimal inside json.dumps output; never in user data
_RAW_QUOTED = re.compile(r'"\\u0000' + _RAW[1:] + r'(-?[0-9.]+)"')


def _default(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        return _RAW + ("-0.0" if is_negative_zero(value) else plain(value))
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def to_json(payload: Any) -> str:
    """json.dumps that writes Decimal as an exact plain number and refuses NaN/Infinity."""
    text = json.dumps(payload, default=_default, allow_nan=False, separators=(",", ":"))
    return _RAW_QUOTED.sub(r"\1", text)
