"""HubSpot's documented rules for property values, one checker per property `type`.

The emulator holds every value it is sent to these rules, so a connector that sends what HubSpot
refuses fails in the tests first. Each rule names the public HubSpot page it follows. Values
arrive as strings (HubSpot's model: `properties: {name: string}`); `""` clears a value of any type.

    check_value(definition, "2026-03-08T23:30:00Z") -> PropertyProblem("pql_date", "INVALID_DATE", ...)

| type        | accepted forms                                                    | error code                 |
|-------------|-------------------------------------------------------------------|----------------------------|
| number      | `-?digits[.digits]` (no exponent, nan, inf, `+`, spaces)          | INVALID_DECIMAL            |
| date        | `YYYY-MM-DD`, epoch ms at 00:00 UTC, ISO 8601 at 00:00 UTC        | INVALID_DATE               |
| datetime    | epoch ms, ISO 8601 with `Z`/offset, `YYYY-MM-DD`                  | INVALID_DATETIME           |
| bool        | `true` / `false`                                                  | INVALID_BOOLEAN            |
| enumeration | an option `value` (`;`-separated values when fieldType checkbox)  | INVALID_OPTION             |
| string      | at most 65,536 characters                                         | INVALID_STRING_LENGTH      |
| non-string  | no leading/trailing whitespace                                    | LEADING_TRAILING_WHITESPACE|
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

MAX_STRING = 65_536  # HubSpot Properties API: string property values hold up to 65,536 characters
DAY_MS = 86_400_000

# HubSpot "Properties" guide, table "Valid values for type field and compatible fieldType values"
FIELD_TYPES = {
    "string": "text",
    "number": "number",
    "date": "date",
    "datetime": "date",
    "bool": "booleancheckbox",
    "enumeration": "select",
}

NUMBER = re.compile(r"-?\d+(\.\d+)?")
EPOCH_MS = re.compile(r"-?\d{1,15}")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})")


@dataclass
class PropertyDef:
    """One property definition, answered by GET /crm/v3/properties/{object} like the real API."""

    name: str
    type: str = "string"  # string | number | enumeration | datetime | date | bool
    has_unique_value: bool = False
    read_only: bool = False
    options: list[str] = field(default_factory=list)  # enumeration option values
    field_type: str = ""  # defaults from FIELD_TYPES; "checkbox" makes an enumeration multi-valued

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown HubSpot property type {self.type!r}; one of {sorted(FIELD_TYPES)}")
        self.field_type = self.field_type or FIELD_TYPES[self.type]

    def describe(self, object_type: str) -> dict[str, Any]:
        label = self.name.replace("_", " ").title()
        return {
            "name": self.name,
            "label": label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": "",
            "groupName": f"{object_type[:-1]}information",
            "options": [
                {"label": value.replace("_", " ").title(), "value": value, "displayOrder": i, "hidden": False}
                for i, value in enumerate(self.options)
            ],
            "displayOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "hubspotDefined": not self.name.startswith(("syncer_", "pql_")),
            "formField": True,
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
            "archived": False,
            "modificationMetadata": {
                "archivable": True,
                "readOnlyDefinition": self.read_only,
                "readOnlyValue": self.read_only,
            },
        }


@dataclass
class PropertyProblem:
    """One invalid property value, in the shape HubSpot lists inside 'Property values were not valid'."""

    name: str
    error: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "isValid": False,
            "message": self.message,
            "error": self.error,
            "name": self.name,
            "localizedErrorMessage": self.message,
        }

    def detail(self) -> dict[str, Any]:
        """The same problem as one `errors[]` entry (HubSpot's ErrorDetail: message, code, in, context)."""
        return {"message": self.message, "code": self.error, "in": self.name, "context": {"propertyName": [self.name]}}


def problems_message(problems: list[PropertyProblem]) -> str:
    # HubSpot changelog "Property Validations Rules will be enforced for APIs" shows this exact message form
    return "Property values were not valid: " + json.dumps([p.as_json() for p in problems], separators=(",", ":"))


def _number(d: PropertyDef, text: str) -> PropertyProblem | None:
    # HubSpot Properties guide: number values are decimal strings; API-FACTS "Value formats": no nan/inf/exponent
    if NUMBER.fullmatch(text):
        return None
    return PropertyProblem(d.name, "INVALID_DECIMAL", f"{text} was not a valid number.")


def _date(d: PropertyDef, text: str) -> PropertyProblem | None:
    # HubSpot FAQ "How should timestamps be formatted": date properties must be midnight UTC, else an error
    if ISO_DATE.fullmatch(text):
        try:
            date.fromisoformat(text)
            return None
        except ValueError:
            return PropertyProblem(d.name, "INVALID_DATE", f"{text} is not a valid date.")
    at = _instant(text)
    if at is None:
        return PropertyProblem(d.name, "INVALID_DATE", f"{text} is not a valid date (YYYY-MM-DD or epoch ms).")
    if at.hour or at.minute or at.second or at.microsecond:
        clock = f"{at.hour}:{at.minute}:{at.second}.{at.microsecond // 1000}"
        return PropertyProblem(d.name, "INVALID_DATE", f"{text} is at {clock} UTC, not midnight!")
    return None


def _datetime(d: PropertyDef, text: str) -> PropertyProblem | None:
    # HubSpot Properties guide: datetime takes ISO 8601 strings or UNIX timestamps in milliseconds, in UTC
    if ISO_DATE.fullmatch(text) and _valid_date(text):
        return None
    if _instant(text) is None:
        return PropertyProblem(
            d.name, "INVALID_DATETIME", f"{text} is not a valid datetime (epoch ms or ISO 8601 with offset)."
        )
    return None


def _bool(d: PropertyDef, text: str) -> PropertyProblem | None:
    # HubSpot Properties guide: bool properties hold the option values true / false
    if text in ("true", "false"):
        return None
    return PropertyProblem(d.name, "INVALID_BOOLEAN", f"{text} was not a valid boolean (true or false).")


def _enumeration(d: PropertyDef, text: str) -> PropertyProblem | None:
    # HubSpot Properties guide: enumeration values are option values; multiple checkboxes are ';'-separated
    values = text.split(";") if d.field_type == "checkbox" else [text]
    bad = [v for v in values if v not in d.options]
    if not bad:
        return None
    return PropertyProblem(d.name, "INVALID_OPTION", f"{bad[0]} was not one of the allowed options: {d.options}")


def _string(d: PropertyDef, text: str) -> PropertyProblem | None:
    # HubSpot Properties API: string values are limited to 65,536 characters
    if len(text) <= MAX_STRING:
        return None
    return PropertyProblem(d.name, "INVALID_STRING_LENGTH", f"{d.name} is longer than {MAX_STRING} characters")


CHECKS: dict[str, Callable[[PropertyDef, str], PropertyProblem | None]] = {
    "number": _number,
    "date": _date,
    "datetime": _datetime,
    "bool": _bool,
    "enumeration": _enumeration,
    "string": _string,
}


def check_value(definition: PropertyDef, text: str) -> PropertyProblem | None:
    """The problem HubSpot reports for `text` as this property's value, or None when it is accepted."""
    if text == "":
        return None  # HubSpot CRM objects guide: an empty string clears a property value
    if definition.type != "string" and text != text.strip():
        # HubSpot changelog "Enhanced validations for non-string properties" (2025): no leading/trailing whitespace
        return PropertyProblem(
            definition.name, "LEADING_TRAILING_WHITESPACE", f'"{text}" includes leading or trailing whitespace.'
        )
    return CHECKS[definition.type](definition, text)


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _instant(text: str) -> datetime | None:
    """Epoch milliseconds or an ISO 8601 date-time with a zone, as a UTC datetime; None otherwise."""
    if EPOCH_MS.fullmatch(text):
        ms = int(text)
        return datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=(ms % 1000) * 1000)
    if ISO_DATETIME.fullmatch(text):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return None
    return None
