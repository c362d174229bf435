"""Salesforce describe metadata -> what each mapped field takes (syncer.values.FieldType).

From `GET sobjects/{Obj}/describe` (REST guide "sObject Describe"): `type`, `length` (characters),
`precision`/`scale` (double, currency, percent), `digits` (int), `picklistValues` +
`restrictedPicklist`, `nillable`. Salesforce stores "" as null, and Bulk API 2.0 cannot express ""
at all (an empty CSV cell leaves the field alone), so "" is null for every type and follows the
mapping's null policy on both paths (API-FACTS "Salesforce empty vs null").
"""

from __future__ import annotations

from typing import Any

from syncer.values import JSON, FieldType, Markup

TEXT = frozenset({"string", "textarea", "email", "url", "phone", "id", "reference", "encryptedstring", "combobox"})
NUMBER = frozenset({"double", "currency", "percent"})
INTEGER = frozenset({"int", "long"})
SIMPLE = {"boolean": "bool", "date": "date", "datetime": "datetime", "time": "string"}


def field_type(spec: dict[str, Any]) -> FieldType:
    """One describe `fields[]` entry -> FieldType (unknown types, e.g. address, pass as JSON)."""
    kind = str(spec.get("type") or "string")
    nillable = bool(spec.get("nillable", True))
    if kind in TEXT or kind in ("picklist", "multipicklist"):
        length = int(spec.get("length") or 0) or None
        label = f"Salesforce {kind}" + (f"({length})" if length else "")
        if kind in ("picklist", "multipicklist"):
            active = [str(p["value"]) for p in spec.get("picklistValues") or [] if p.get("active", True)]
            restricted = spec.get("restrictedPicklist", True) and active
            options = frozenset(active) if restricted else None
            multi = kind == "multipicklist"
            return FieldType(
                "enumeration", label, length=length, options=options, multi=multi, empty_is_null=True, nillable=nillable
            )
        if kind == "email":  # INVALID_EMAIL_ADDRESS otherwise (syncer.values.EMAIL)
            return FieldType("string", label, length=length, empty_is_null=True, nillable=nillable, text_format="email")
        # describe `htmlFormatted`: a rich text area, shown as HTML, so mapped values are HTML-escaped
        markup: Markup | None = "html" if spec.get("htmlFormatted") else None
        return FieldType("string", label, length=length, empty_is_null=True, nillable=nillable, markup=markup)
    if kind in NUMBER:
        precision, scale = int(spec.get("precision") or 0) or None, spec.get("scale")
        label = f"Salesforce {kind}" + (f"({precision},{scale})" if precision else "")
        scale = None if scale is None else int(scale)
        return FieldType("number", label, precision=precision, scale=scale, empty_is_null=True, nillable=nillable)
    if kind in INTEGER:
        digits = int(spec.get("digits") or 0) or None
        return FieldType("integer", f"Salesforce {kind}", precision=digits, empty_is_null=True, nillable=nillable)
    if kind in SIMPLE:
        base = SIMPLE[kind]
        return FieldType(base, f"Salesforce {kind}", empty_is_null=True, nillable=nillable)  # type: ignore[arg-type]
    return JSON


def field_types(described: dict[str, dict[str, Any]], mapped: dict[str, str]) -> dict[str, FieldType]:
    """Mapped field -> FieldType, for the fields describe lists (check() reports the others)."""
    return {name: field_type(described[name]) for name in mapped if name in described}
