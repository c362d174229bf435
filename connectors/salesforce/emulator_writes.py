"""Record writes of the emulated org: create, update, upsert by external ID, with real error shapes.

Shared by the collections endpoints and Bulk 2.0 jobs, so both enforce the same rules:
field validation (emulator_rules), unique values and repeated external IDs in one call
(DUPLICATE_VALUE), several matches (DUPLICATE_EXTERNAL_ID).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .emulator_rules import ParseError, deserialize
from .emulator_store import Store, err


def coerce(store: Store, obj: str, values: dict[str, Any]) -> dict[str, Any]:
    """Values as the org stores them (see emulator_rules.deserialize); raises ParseError. Unknown
    fields pass through so validation can name them (INVALID_FIELD)."""
    specs = store.objects[obj].fields
    return {name: deserialize(specs[name], v) if name in specs else v for name, v in values.items()}


def unreadable(store: Store, obj: str, values: dict[str, Any]) -> str | None:
    """Salesforce's JSON_PARSER_ERROR message when a value can't be read as its field's type."""
    try:
        coerce(store, obj, values)
    except ParseError as exc:
        return str(exc)
    return None


def duplicate_external_ids(store: Store, obj: str, ext: str, batch: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Positions in one upsert call whose external ID repeats (under the field's comparison), each
    with its DUPLICATE_VALUE error. Apex/DML upsert docs and salesforce.stackexchange q/104048:
    "Duplicate external id specified: ABC123"; those records fail, the others proceed."""
    sobject = store.objects[obj]
    keys = [sobject.key(ext, v[ext]) if v.get(ext) not in (None, "") else None for v in batch]
    seen = Counter(k for k in keys if k is not None)
    return {
        i: err("DUPLICATE_VALUE", f"Duplicate external id specified: {batch[i][ext]}", [ext])
        for i, k in enumerate(keys)
        if k is not None and seen[k] > 1
    }


def unique_clash(store: Store, obj: str, values: dict[str, Any], own_id: str | None) -> list[dict[str, Any]]:
    sobject = store.objects[obj]
    for spec in sobject.fields.values():
        if spec.unique and values.get(spec.name) not in (None, ""):
            others = [i for i in sobject.find(spec.name, values[spec.name]) if i != own_id]
            if others:
                msg = f"duplicate value found: {spec.name} duplicates value on record with id: {others[0]}"
                return [err("DUPLICATE_VALUE", msg, [spec.name])]
    return []


def _type_error(exc: ParseError, row_id: str | None) -> dict[str, Any]:
    """Bulk API 2.0's row error for a cell that is not of the field's type (JSON paths never get here)."""
    return {"id": row_id, "success": False, "errors": [err("INVALID_TYPE_ON_FIELD_IN_RECORD", str(exc))]}


def create_one(store: Store, obj: str, values: dict[str, Any]) -> dict[str, Any]:
    sobject = store.objects[obj]
    try:
        values = coerce(store, obj, values)
    except ParseError as exc:
        return _type_error(exc, None)
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
    try:
        values = coerce(store, obj, values)
    except ParseError as exc:
        return _type_error(exc, row_id)
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
