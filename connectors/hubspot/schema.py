"""`check()` for HubSpot: do the mapped properties exist, is the match property unique and writable.

Problems name the mapping key the RevOps engineer wrote (destination.fields maps a HubSpot
property to it), e.g. "fields.pql_score: companies has no property 'pql_scor' (did you mean
'pql_score'?)", so the fix is obvious from the message alone.
"""

from __future__ import annotations

import difflib
from typing import Any

from syncer.config import _did_you_mean
from syncer.connector import Destination, check_problem
from syncer.errors import SyncerError
from syncer.values import FieldType

from .api import HubSpotApi

FIELD_OBJECTS = ("companies", "contacts")
TASK_FIELDS = frozenset({"subject", "body", "due_at", "priority", "type", "owner_id", "owner_email", "company"})


def properties(api: HubSpotApi, object_type: str) -> dict[str, dict[str, Any]]:
    body = api.json("GET", f"/crm/v3/properties/{object_type}", f"read {object_type} properties")
    return {str(p["name"]): p for p in body.get("results") or []}


MAX_STRING = 65_536  # HubSpot: string property values hold at most 65,536 characters
BASES = {"number": "number", "date": "date", "datetime": "datetime", "bool": "bool", "enumeration": "enumeration"}


def field_type(prop: dict[str, Any]) -> FieldType:
    """A HubSpot property definition (GET /crm/v3/properties/{object}) -> what it takes.

    type string/phone_number/... -> text of at most 65,536 chars; number, date (midnight UTC),
    datetime, bool; enumeration -> one of `options[].value` (`checkbox` fieldType: ';'-joined;
    `booleancheckbox`: true/false). Every value travels as a string (API-FACTS "HubSpot CRM v3").
    """
    kind, widget = str(prop.get("type") or "string"), str(prop.get("fieldType") or "")
    base = "bool" if widget == "booleancheckbox" else BASES.get(kind, "string")
    label = f"HubSpot {kind} property"
    if base == "enumeration":
        values = [str(o["value"]) for o in prop.get("options") or [] if "value" in o]
        options = frozenset(values) if values else None
        return FieldType("enumeration", label, text_wire=True, options=options, multi=widget == "checkbox")
    if base == "string" and widget == "html":  # properties guide: fieldType "html" is rich text, shown as HTML
        return FieldType("string", f"{label} (rich text)", text_wire=True, length=MAX_STRING, markup="html")
    return FieldType(base, label, text_wire=True, length=MAX_STRING if base == "string" else None)  # type: ignore[arg-type]


def field_types(known: dict[str, dict[str, Any]], destination: Destination) -> dict[str, FieldType]:
    """Mapped property -> FieldType, for the properties that exist (check() reports the others)."""
    return {name: field_type(known[name]) for name in destination.fields if name in known}


def _missing(object_type: str, name: str, known: dict[str, dict[str, Any]]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{object_type} has no property '{name}'{hint}"


def _check_unique(object_type: str, name: str, known: dict[str, dict[str, Any]], key: str) -> list[str]:
    if name not in known:
        return [f"{key}: {_missing(object_type, name, known)}"]
    unique = (
        known[name].get("hasUniqueValue") or (object_type, name) in {("contacts", "email")} or name == "hs_object_id"
    )
    if not unique:
        return [
            f"{key}: {object_type} property '{name}' is not unique (hasUniqueValue is false); "
            "HubSpot can only match records by a unique property"
        ]
    return []


def check_destination(api: HubSpotApi, destination: Destination, task_key_property: str) -> list[str]:
    try:
        if destination.object == "tasks":
            return _check_tasks(api, destination, task_key_property)
        if destination.object not in FIELD_OBJECTS:
            return [f"object: HubSpot connector writes companies, contacts or tasks, not '{destination.object}'"]
        return _check_fields(api, destination)
    except SyncerError as exc:  # auth failures, unreachable API: report, don't crash `syncer check`
        return [check_problem(exc, f"hubspot: {exc}")]


def _check_fields(api: HubSpotApi, destination: Destination) -> list[str]:
    known = properties(api, destination.object)
    problems = _check_unique(destination.object, destination.match_field, known, "match_field")
    for dest_field, mapping_key in destination.fields.items():
        if dest_field not in known:
            problems.append(f"{mapping_key}: {_missing(destination.object, dest_field, known)}")
        elif (known[dest_field].get("modificationMetadata") or {}).get("readOnlyValue"):
            problems.append(f"{mapping_key}: {destination.object} property '{dest_field}' is read-only")
    return problems


def _check_tasks(api: HubSpotApi, destination: Destination, task_key_property: str) -> list[str]:
    problems = [
        f"{key}: task field '{name}' is not one of {sorted(TASK_FIELDS)}{_did_you_mean(name, TASK_FIELDS)}"
        for name, key in destination.fields.items()
        if name not in TASK_FIELDS
    ]
    tasks = properties(api, "tasks")
    if task_key_property not in tasks:
        problems.append(
            f"task_key_property: tasks has no property '{task_key_property}'; create a single-line "
            "text property with that name on tasks (see the connector README)"
        )
    companies = properties(api, "companies")
    problems += _check_unique("companies", destination.match_field, companies, "match_field")
    return problems
