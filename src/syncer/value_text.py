"""The one text form of a warehouse value, and mapping templates that substitute it.

Every path that turns a warehouse value into text without a destination type to convert it to
uses `text_form`: template substitutions (`"{name}: MRR {mrr}"`) on every connector, untyped
fields (CRM task fields, email fields), `cast = "str"` and `case`. It is the conversion table's
own text (syncer.values, a value into a text field), so a value reads the same whichever path
carried it, and no digit is lost on the way (API-FACTS "Decimal precision": keep Decimal exact):

    warehouse value                      text
    NULL                                 "" (empty)
    bool                                 true / false
    int, Decimal                         plain decimal, no exponent, no trailing zeros:
                                         12345678901234567.89, 100 (Decimal('1E+2')), 0.0000000001
    float                                its shortest round-trip decimal, no exponent:
                                         0.30000000000000004, 0.0000001 (1e-07), 1 followed by 300 zeros
    date, time                           ISO 8601: 2026-03-08, 23:30:00
    datetime with a time zone            the instant in UTC, ISO 8601: 2026-03-09T04:30:00.000Z
                                         (microseconds when it has them: values.iso_instant)
    datetime without one                 as the warehouse wrote it: 2026-03-08T23:30:00
    UUID                                 its canonical text
    bytes                                the text they hold when UTF-8

NaN, infinities, bytes that are not UTF-8 and values Python cannot hold (syncer.identity.
Unrepresentable) have no exact text: `text_form` raises `Refused` and the mapper rejects the row,
naming the field. A template field with a format spec (`{mrr:,.2f}`, `{due:%d %b}`) formats the
value itself instead: a Decimal stays a Decimal (an integral one becomes an int, so `:d` works),
never a float.
"""

from __future__ import annotations

import datetime as dt
import decimal
import string
from collections.abc import Callable, Mapping
from typing import Any

from syncer.identity import Unrepresentable
from syncer.values import FieldType, Refused, describe_value, to_string

TEXT = FieldType("string", "text")
_FORMATTER = string.Formatter()


def text_form(value: Any) -> str:
    """The exact text of `value` (table above); Refused("<value> <why>") when it has none."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, Unrepresentable):
        raise Refused(f"the warehouse value {value!r} cannot be read exactly; fix it in the model")
    try:
        return str(to_string(value, TEXT))
    except Refused as exc:
        raise Refused(f"{describe_value(value)} {exc}") from None


def _formatted(value: Any, spec: str) -> str:
    if value is None:
        value = ""
    elif isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC)  # `{ts:%H:%M}` reads the UTC instant, whatever the session's zone
    elif isinstance(value, decimal.Decimal) and value.is_finite() and value == value.to_integral_value():
        value = int(value)  # exact, and int takes every spec a number does (`:d`, `:,`, `:.2f`)
    return format(value, spec)


class Template:
    """A mapping template compiled once: `render(row) -> str`. `escape` (syncer.escaping) is applied
    to every substituted value, never to the template's own text. Raises Refused for a value with no
    exact text, ValueError for a template that names no column (`{}`) or a bad format spec."""

    def __init__(self, template: str, escape: Callable[[object], str] | None = None) -> None:
        self.pieces = list(_FORMATTER.parse(template))
        self.escape = escape

    def render(self, row: Mapping[str, Any]) -> str:
        out: list[str] = []
        for literal, name, spec, conversion in self.pieces:
            out.append(literal)
            if name is None:
                continue
            if not name:
                raise ValueError("a template names its columns, e.g. {name}; {} names none")
            value = row[name] if name in row else _FORMATTER.get_field(name, (), row)[0]
            if conversion == "r":
                value = repr(value)
            if spec and "{" in spec:
                spec = _FORMATTER.vformat(spec, (), {k: text_form(v) for k, v in row.items()})
            text = _formatted(value, spec) if spec else text_form(value)
            out.append(self.escape(text) if self.escape is not None else text)
        return "".join(out)
