"""Building HubSpot batch inputs and reading their 200/207 answers back onto our records.

Each input carries `objectWriteTraceId` = its position in the batch. That is HubSpot's documented
way to enable multi-status (207) answers, and every per-input error names it in
`context.objectWriteTraceId`, so an error maps to exactly one record. Results also carry the
trace id (and the id property's value, our fallback). An input HubSpot answers neither way is
reported `failed`, so it is retried rather than silently counted as delivered.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from syncer.connector import Record, Result
from syncer.non_finite import READABLE
from syncer.values import plain

# per-input error categories that are worth retrying as they are; everything else is a rejection
TRANSIENT_CATEGORIES = frozenset({"RATE_LIMITS", "INTERNAL_ERROR", "TIMEOUT", "SERVICE_UNAVAILABLE", "LOCKED"})


def to_property_value(value: Any) -> str:
    """HubSpot property values are strings. None becomes "" which HubSpot documents as 'clear'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value  # mapped fields arrive converted (syncer.values): already the wire text
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        return READABLE  # only untyped (task) fields get here, read by people; typed ones were refused before
    if isinstance(value, int | float | Decimal):
        return plain(Decimal(repr(value)) if isinstance(value, float) else Decimal(value))
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return ";".join(to_property_value(v) for v in value)  # multi-select values are ';'-joined
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def properties_of(record: Record) -> dict[str, str]:
    return {name: to_property_value(value) for name, value in record.fields.items()}


def trace_id(index: int) -> str:
    return str(index)


def map_results(
    records: Sequence[Record], body: dict[str, Any], id_property: str | None = None, what: str = "write"
) -> list[Result]:
    """One Result per record, in order, from a batch answer's `results[]` and `errors[]`."""
    by_trace = {trace_id(i): r for i, r in enumerate(records)}
    by_value = {r.match_value: r for r in records if r.match_value is not None}
    by_dest = {r.dest_id: r for r in records if r.dest_id is not None}
    found: dict[str, Result] = {}
    for item in body.get("results") or []:
        record = by_trace.get(str(item.get("objectWriteTraceId")))
        if record is None and id_property:
            record = by_value.get(str((item.get("properties") or {}).get(id_property)))
        if record is None:
            record = by_dest.get(str(item.get("id")))
        if record is not None:
            found[record.key] = Result.ok(record, str(item["id"]))
    for error in body.get("errors") or []:
        context = error.get("context") or {}
        targets = [by_trace[t] for t in context.get("objectWriteTraceId") or [] if t in by_trace]
        if not targets:
            ids = context.get("ids") or []
            targets = [r for i in ids for r in (by_value.get(i), by_dest.get(i)) if r is not None]
        for record in targets:
            found[record.key] = error_result(record, error)
    missing = f"{what}: HubSpot answered neither a result nor an error for this input"
    return [found.get(r.key) or Result.failed(r, missing) for r in records]


def error_result(record: Record, error: dict[str, Any]) -> Result:
    """HubSpot's own category and message as the reason; transient categories are retried."""
    category = str(error.get("category") or "ERROR")
    reason = f"{category}: {error.get('message') or 'no message'}"
    if category in TRANSIENT_CATEGORIES:
        return Result.failed(record, reason)
    return Result.rejected(record, reason)
