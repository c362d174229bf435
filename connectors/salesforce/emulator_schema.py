"""The emulated org's metadata: field specs (what describe answers) and the standard object schemas.

Moved out of emulator_store.py so the records and the rules stay small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Error = dict[str, Any]


NUMERIC = frozenset({"double", "currency", "percent", "int"})
TEXT = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "reference", "id"})
SOAP_TYPES = {
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "id": "tns:ID",
    "reference": "tns:ID",
}


@dataclass
class FieldSpec:
    """One field of an sObject, described the way `GET /sobjects/{Obj}/describe` describes it.

    `precision`/`scale` bound numbers (digits in all / after the point), `length` bounds text,
    `picklist` lists the values of a picklist (`restricted`: nothing else is accepted), and
    `case_sensitive` says whether an external ID compares case-sensitively (default: not).
    """

    name: str
    type: str = "string"
    length: int = 0
    updateable: bool = True
    createable: bool = True
    external_id: bool = False
    unique: bool = False
    required: bool = False
    precision: int = 0
    scale: int = 0
    picklist: list[str] = field(default_factory=list)
    restricted: bool = False
    case_sensitive: bool = False

    def __post_init__(self) -> None:
        if self.type in ("double", "currency", "percent") and not self.precision:
            self.precision, self.scale = 18, 2  # Setup's default for a custom Number field is (18, 0); ours keeps 2
        if self.type == "int" and not self.precision:
            self.precision = 9

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.name.removesuffix("__c").replace("_", " "),
            "type": self.type,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length if self.type in TEXT else 0,
            "byteLength": self.length * 3 if self.type in TEXT else 0,
            "precision": self.precision if self.type in NUMERIC - {"int"} else 0,
            "scale": self.scale if self.type in NUMERIC - {"int"} else 0,
            "digits": self.precision if self.type == "int" else 0,
            "updateable": self.updateable,
            "createable": self.createable,
            "externalId": self.external_id,
            "unique": self.unique,
            "caseSensitive": self.case_sensitive,
            "idLookup": self.external_id or self.name == "Id",
            "nillable": not self.required and self.type != "boolean" and self.name != "Id",
            "defaultedOnCreate": self.type == "boolean" or self.name == "Id",
            "custom": self.name.endswith("__c"),
            "calculated": not self.updateable and not self.createable and self.name.endswith("__c"),
            "filterable": True,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v} for v in self.picklist
            ],
            "restrictedPicklist": self.restricted,
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
            FieldSpec("Plan__c", "picklist", 255, picklist=["Free", "Starter", "Pro", "Enterprise"], restricted=True),
            FieldSpec("Employees__c", "double", precision=8, scale=0),
            FieldSpec("Health_Score__c", "double"),
            _s("Top_Signal__c"),
            FieldSpec("Industry", "picklist", 40, picklist=["Software", "Retail", "Banking", "Other"]),
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
            FieldSpec("Priority", "picklist", 40, picklist=["High", "Normal", "Low"]),
            FieldSpec("Status", "picklist", 40, picklist=["Not Started", "In Progress", "Completed", "Deferred"]),
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
