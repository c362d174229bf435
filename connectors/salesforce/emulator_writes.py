"""Record writes of the emulated org: create, update, upsert by external ID, with real error shapes.

Shared by the collections endpoints and Bulk 2.0 jobs, so both enforce the same rules:
field validation, unique values (DUPLICATE_VALUE), several matches (DUPLICATE_EXTERNAL_ID).
"""

from __future__ import annotations

import contextlib
from typing import Any

from .emulator_store import Store, err


def coerce(store: Store, obj: str, values: dict[str, Any]) -> dict[str, Any]:
    """CSV cells arrive as text; store numbers and booleans as the JSON API would."""
    specs = store.objects[obj].fields
    out = {}
    for name, value in values.items():
        kind = specs[name].type if name in specs else "string"
        if isinstance(value, str) and kind in ("double", "int"):
            with contextlib.suppress(ValueError):
                value = float(value) if kind == "double" else int(value)
        elif isinstance(value, str) and kind == "boolean":
            value = value.lower() == "true"
        out[name] = value
    return out


def unique_clash(store: Store, obj: str, values: dict[str, Any], own_id: str | None) -> list[dict[str, Any]]:
    sobject = store.objects[obj]
    for spec in sobject.fields.values():
        if spec.unique and values.get(spec.name) not in (None, ""):
            others = [i for i in sobject.find(spec.name, values[spec.name]) if i != own_id]
            if others:
                msg = f"duplicate value found: {spec.name} duplicates value on record with id: {others[0]}"
                return [err("DUPLICATE_VALUE", msg, [spec.name])]
    return []


def create_one(store: Store, obj: str, values: dict[str, Any]) -> dict[str, Any]:
    sobject = store.objects[obj]
    values = coerce(store, obj, values)
    errors = sobject.validate(values, creating=True) or unique_clash(store, obj, values, None)
    if errors:
        return {"id": None, "success": False, "errors": errors}
    new_id = store.new_id(obj)
    row = {"Id": new_id, **values}
    if obj == "Task":
        row.setdefault("Status", "Not Started")
        row.update(IsClosed=row["Status"] == "Completed", CompletedDateTime=None)
    sobject.put(new_id, row)
    return {"id": new_id, "success": True, "errors": [], "created": True}


def update_one(store: Store, obj: str, row_id: str, values: dict[str, Any]) -> dict[str, Any]:
    sobject = store.objects[obj]
    values = coerce(store, obj, values)
    errors = sobject.validate(values, creating=False) or unique_clash(store, obj, values, row_id)
    if errors:
        return {"id": row_id, "success": False, "errors": errors}
    sobject.put(row_id, values)
    return {"id": row_id, "success": True, "errors": [], "created": False}


def upsert_one(store: Store, obj: str, ext: str, values: dict[str, Any]) -> dict[str, Any]:
    matches = store.objects[obj].find(ext, values.get(ext))
    if len(matches) > 1:
        message = f"{obj}: more than one record found for external id field: {matches}"
        return {"id": None, "success": False, "errors": [err("DUPLICATE_EXTERNAL_ID", message, [ext])]}
    if matches:
        return update_one(store, obj, matches[0], values)
    return create_one(store, obj, values)
