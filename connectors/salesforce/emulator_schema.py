"""The emulated org's metadata: field specs (what describe answers) and the standard object schemas.

Moved out of emulator_store.py so the records and the rules stay small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Error = dict[str, Any]


@dataclass
class FieldSpec:
    name: str
    type: str = "string"
    length: int = 0
    updateable: bool = True
    createable: bool = True
    external_id: bool = False
    unique: bool = False
    required: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "length": self.length,
            "updateable": self.updateable,
            "createable": self.createable,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.external_id or self.name == "Id",
            "nillable": not self.required,
            "filterable": True,
        }


def _s(name: str, length: int = 255, **kw: Any) -> FieldSpec:
    return FieldSpec(name, "string", length, **kw)


def _ro(name: str, kind: str) -> FieldSpec:
    return FieldSpec(name, kind, updateable=False, createable=False)


SCHEMAS: dict[str, tuple[str, list[FieldSpec]]] = {
    "Account": (
        "001",
        [
            _s("Name", required=True),
            _s("External_Id__c", external_id=True, unique=True),
            FieldSpec("PQL_Score__c", "double"),
            _s("PQL_Tier__c", 40),
            FieldSpec("Health_Score__c", "double"),
            _s("Top_Signal__c"),
            _s("Industry", 40),
            _s("Formula_Tier__c", 40, updateable=False, createable=False),
        ],
    ),
    "Contact": (
        "003",
        [
            _s("LastName", 80, required=True),
            FieldSpec("Email", "email", 80),
            _s("External_Id__c", external_id=True, unique=True),
            FieldSpec("AccountId", "reference", 18),
        ],
    ),
    "Task": (
        "00T",
        [
            _s("Subject"),
            FieldSpec("Description", "textarea", 32_000),
            FieldSpec("ActivityDate", "date"),
            _s("Priority", 40),
            _s("Status", 40),
            FieldSpec("WhatId", "reference", 18),
            FieldSpec("WhoId", "reference", 18),
            FieldSpec("OwnerId", "reference", 18),
            _ro("IsClosed", "boolean"),
            _ro("CompletedDateTime", "datetime"),
            _s("Syncer_Key__c", 80),
        ],
    ),
    "User": ("005", [_s("Email", 128), _s("Username", 80), _s("Name", 121), FieldSpec("IsActive", "boolean")]),
}


def err(code: str, message: str, fields: list[str] | None = None) -> Error:
    return {"statusCode": code, "message": message, "fields": fields or []}
