"""The HubSpot emulator's CRM state: property definitions, objects, unique indexes, validation.

Kept apart from the HTTP routes so the rules HubSpot enforces on values (strings, numbers,
options, read-only, unique values) live in one place and read like a checklist.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .emulator_rules import PropertyDef, PropertyProblem, check_value, problems_message

__all__ = ["CrmObject", "CrmStore", "PropertyDef", "PropertyProblem", "problems_message"]

STANDARD_PROPERTIES: dict[str, list[tuple[str, str, bool]]] = {
    # object -> (name, type, hasUniqueValue); hs_object_id is added to every object.
    "companies": [("name", "string", False), ("domain", "string", False), ("description", "string", False)],
    "contacts": [("email", "string", False), ("firstname", "string", False), ("lastname", "string", False)],
    "tasks": [
        ("hs_timestamp", "datetime", False),
        ("hs_task_subject", "string", False),
        ("hs_task_body", "string", False),
        ("hs_task_status", "enumeration", False),
        ("hs_task_priority", "enumeration", False),
        ("hs_task_type", "enumeration", False),
        ("hubspot_owner_id", "enumeration", False),
        ("hs_task_completion_date", "datetime", False),
    ],
}
OPTIONS = {
    "hs_task_status": ["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"],
    "hs_task_priority": ["LOW", "MEDIUM", "HIGH", "NONE"],
    "hs_task_type": ["TODO", "CALL", "EMAIL", "LINKED_IN", "MEETING"],
}
READ_ONLY = {"hs_object_id", "hs_lastmodifieddate", "hs_createdate", "hs_task_completion_date"}


@dataclass
class CrmObject:
    id: str
    properties: dict[str, str]
    created_at: str
    updated_at: str
    archived: bool = False

    def view(self, wanted: list[str] | None = None) -> dict[str, Any]:
        props = self.properties if wanted is None else {k: self.properties.get(k) for k in wanted}
        return {
            "id": self.id,
            "properties": {**props, "hs_object_id": self.id},
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": self.archived,
        }


@dataclass
class CrmStore:
    """Objects by type and id, with HubSpot's property rules. Callers hold the emulator lock."""

    clock_iso: Any = None  # callable returning the current time as an ISO string
    properties: dict[str, dict[str, PropertyDef]] = field(default_factory=dict)
    objects: dict[str, dict[str, CrmObject]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    _unique: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for object_type, defs in STANDARD_PROPERTIES.items():
            self.objects.setdefault(object_type, {})
            self.properties.setdefault(object_type, {"hs_object_id": PropertyDef("hs_object_id", "number", True, True)})
            for name, kind, unique in defs:
                self.define(object_type, name, kind, unique, read_only=name in READ_ONLY)
            self.define(object_type, "hs_lastmodifieddate", "datetime", read_only=True)
            self.define(object_type, "hs_createdate", "datetime", read_only=True)

    def define(
        self,
        object_type: str,
        name: str,
        kind: str = "string",
        unique: bool = False,
        read_only: bool = False,
        options: list[str] | None = None,
        field_type: str = "",
    ) -> None:
        """Create (or replace) a property definition; `options` are an enumeration's option values."""
        options = list(options if options is not None else OPTIONS.get(name, []))
        definition = PropertyDef(name, kind, unique, read_only, options, field_type)
        self.properties.setdefault(object_type, {})[name] = definition
        self.objects.setdefault(object_type, {})
        self._unique.pop((object_type, name), None)  # rebuilt on next use

    def now(self) -> str:
        return str(self.clock_iso()) if self.clock_iso else datetime.now(UTC).isoformat()

    # -- lookups -------------------------------------------------------------------------------

    def live(self, object_type: str) -> list[CrmObject]:
        return [o for o in self.objects[object_type].values() if not o.archived]

    def find(self, object_type: str, prop: str, value: str) -> CrmObject | None:
        if prop in ("hs_object_id", "id"):
            found = self.objects[object_type].get(value)
            return found if found and not found.archived else None
        if self.is_unique(object_type, prop):
            object_id = self._index(object_type, prop).get(self.key(prop, value))
            return self.objects[object_type][object_id] if object_id else None
        for obj in self.live(object_type):
            stored = obj.properties.get(prop)
            if stored is not None and self.key(prop, stored) == self.key(prop, value):
                return obj
        return None

    def _index(self, object_type: str, prop: str) -> dict[str, str]:
        """Value -> id for a unique property, so lookups stay O(1) at benchmark sizes."""
        key = (object_type, prop)
        if key not in self._unique:
            self._unique[key] = {
                self.key(prop, o.properties[prop]): o.id for o in self.live(object_type) if prop in o.properties
            }
        return self._unique[key]

    def archive(self, object_type: str, obj: CrmObject) -> None:
        obj.archived = True
        for (indexed_type, prop), index in self._unique.items():
            if indexed_type == object_type and prop in obj.properties:
                index.pop(self.key(prop, obj.properties[prop]), None)

    @staticmethod
    def key(prop: str, value: str) -> str:
        """How HubSpot compares values of a unique property: contact email case-insensitively, others exactly."""
        return value.lower() if prop == "email" else value

    def is_unique(self, object_type: str, prop: str) -> bool:
        definition = self.properties[object_type].get(prop)
        return definition is not None and (definition.has_unique_value or (object_type, prop) == ("contacts", "email"))

    # -- validation and writes -----------------------------------------------------------------

    def validate(self, object_type: str, values: Any, self_id: str | None = None) -> list[PropertyProblem]:
        if not isinstance(values, dict):
            return [PropertyProblem("properties", "INVALID_INPUT", "properties must be an object")]
        problems: list[PropertyProblem] = []
        for name, value in values.items():
            problem = self._check_value(object_type, name, value, self_id)
            if problem:
                problems.append(problem)
        return problems

    def _check_value(self, object_type: str, name: str, value: Any, self_id: str | None) -> PropertyProblem | None:
        definition = self.properties[object_type].get(name)
        if definition is None:  # HubSpot CRM objects guide: unknown property names fail the input
            return PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
        if definition.read_only:  # HubSpot Properties API: modificationMetadata.readOnlyValue means not settable
            return PropertyProblem(
                name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'
            )
        if value is None or isinstance(value, dict | list):
            return PropertyProblem(name, "INVALID_VALUE", f"{json.dumps(value)} is not a valid value for {name}")
        text = to_text(value)
        if (problem := check_value(definition, text)) is not None:
            return problem
        if text == "":
            return None
        if self.is_unique(object_type, name):
            # HubSpot Properties guide "hasUniqueValue": no two records share the value (email: case-insensitive)
            other = self.find(object_type, name, text)
            if other is not None and other.id != self_id:
                return PropertyProblem(
                    name, "DUPLICATE_VALUE", f"{text} already has that value on {object_type[:-1]} {other.id}"
                )
        return None

    def create(self, object_type: str, values: dict[str, Any]) -> CrmObject:
        now = self.now()
        obj = CrmObject(str(next(self._ids)), {}, now, now)
        obj.properties["hs_createdate"] = now
        self.objects[object_type][obj.id] = obj
        self.apply(object_type, obj, values)
        return obj

    def apply(self, object_type: str, obj: CrmObject, values: dict[str, Any]) -> None:
        now = self.now()
        for name, value in values.items():
            text = to_text(value)
            index = self._unique.get((object_type, name))
            if index is not None and name in obj.properties:
                index.pop(self.key(name, obj.properties[name]), None)
            if text == "":
                obj.properties.pop(name, None)
            else:
                obj.properties[name] = text
                if index is not None:
                    index[self.key(name, text)] = obj.id
        if object_type == "tasks" and "hs_task_status" in values:
            if obj.properties.get("hs_task_status") == "COMPLETED":
                obj.properties.setdefault("hs_task_completion_date", now)
            else:
                obj.properties.pop("hs_task_completion_date", None)
        obj.properties["hs_lastmodifieddate"] = now
        obj.updated_at = now


def to_text(value: Any) -> str:
    """HubSpot stores every property value as a string; JSON numbers and booleans are coerced."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
