"""CRM search as the emulator answers it: filterGroups (OR of ANDs), paging by `after`.

The limits a connector could trip over are enforced: at most 5 filter groups, 100 values per IN,
200 results per page.
"""

from __future__ import annotations

from typing import Any

from .emulator_store import CrmObject, CrmStore

MAX_GROUPS = 5
MAX_IN_VALUES = 100
MAX_PAGE = 200


def _matches(obj: CrmObject, flt: dict[str, Any]) -> bool:
    name, op = flt.get("propertyName"), flt.get("operator", "EQ")
    value: str | None = obj.id if name == "hs_object_id" else obj.properties.get(str(name))
    if op == "EQ":
        return value is not None and value == str(flt.get("value"))
    if op == "NEQ":
        return value != str(flt.get("value"))
    if op == "IN":
        return value is not None and value in [str(v) for v in flt.get("values", [])]
    if op == "NOT_IN":
        return value not in [str(v) for v in flt.get("values", [])]
    if op == "HAS_PROPERTY":
        return value is not None
    if op == "NOT_HAS_PROPERTY":
        return value is None
    raise ValueError(f"Unsupported operator {op}")


def search(store: CrmStore, object_type: str, body: Any) -> tuple[int, Any]:
    """Return (status, body): 200 with results and paging, or 400 with a message."""
    if not isinstance(body, dict):
        return 400, "Invalid search request"
    groups = body.get("filterGroups") or []
    if len(groups) > MAX_GROUPS:
        return 400, f"Too many filter groups: {len(groups)} > {MAX_GROUPS}"
    for group in groups:
        for flt in group.get("filters", []):
            if flt.get("operator") == "IN" and len(flt.get("values", [])) > MAX_IN_VALUES:
                return 400, f"Too many values for IN: {len(flt['values'])} > {MAX_IN_VALUES}"
    limit = int(body.get("limit") or 10)
    if limit > MAX_PAGE:
        return 400, f"limit must be at most {MAX_PAGE}"
    try:
        found = [
            o
            for o in store.live(object_type)
            if not groups or any(all(_matches(o, f) for f in g.get("filters", [])) for g in groups)
        ]
    except ValueError as exc:
        return 400, str(exc)
    found.sort(key=lambda o: int(o.id))
    start = int(body.get("after") or 0)
    page = found[start : start + limit]
    wanted = list(dict.fromkeys([*(body.get("properties") or []), "hs_createdate", "hs_lastmodifieddate"]))
    result: dict[str, Any] = {"total": len(found), "results": [o.view(wanted) for o in page]}
    if start + limit < len(found):
        result["paging"] = {"next": {"after": str(start + limit)}}
    return 200, result
