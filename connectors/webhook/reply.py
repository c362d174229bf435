"""What a receiver's 2xx reply says about each record of the batch (README.md "Response").

The contract: an empty body, a body that is not JSON, or a JSON object without `results` acknowledges every
record; `results` lists outcomes by `key`, each `status` "ok" (the default), "rejected" or "failed", and a
record it does not mention is ok. A reply that breaks the contract acknowledges nothing, because taking it as
success loses the records the receiver refused (seen: `"status": "error"` counted as delivered, never retried):

| reply | outcome |
|---|---|
| an HTML document (`<!doctype html`, `<html`): a proxy, login or error page, not the receiver | every record failed |
| a JSON array | every record failed: per-record results go in `{"results": [...]}` |
| `results` neither a list nor null | every record failed |
| an item that is not an object with a `key`, names a key not in the batch, or names one twice | every record failed |
| a `status` other than ok / rejected / failed (any case) | that record failed |

Failed this way, a record is not retried within the run (the receiver would read it the same way); it stays
unacknowledged, so the next run sends it again (`Result.later`), and the run reports it with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from syncer.connector import Record, Result

STATUSES = ("ok", "rejected", "failed")
_HTML = (b"<!doctype html", b"<html")


def results(batch: Sequence[Record], response: httpx.Response) -> list[Result]:
    """One Result per record of `batch`, in order, from the receiver's 2xx `response`."""
    items, problem = _items(response)
    if problem is None:
        by_key, problem = _by_key(batch, items)
    if problem is not None:
        reason = f"the receiver's reply breaks the webhook contract ({problem}): not acknowledged, sent again next run"
        return [Result(r.key, "failed", r.dest_id, reason, later=True) for r in batch]
    return [_outcome(record, by_key.get(record.key, {})) for record in batch]


def _items(response: httpx.Response) -> tuple[list[Any], str | None]:
    """The reply's `results` items ([] when it reports none), or why it cannot be read."""
    body = response.content.lstrip()
    if body[:14].lower().startswith(_HTML):
        return [], "an HTML page answered, not the receiver: is a proxy or login page in front of it?"
    try:
        reply = response.json() if body else None
    except ValueError:
        return [], None  # plain text ("OK"): any 2xx acknowledges the batch
    if isinstance(reply, list):
        return [], 'a JSON array; per-record results go in {"results": [...]}'
    items = reply.get("results") if isinstance(reply, dict) else None
    if items is None:
        return [], None
    if not isinstance(items, list):
        return [], f"`results` is a {type(items).__name__}, not a list"
    return items, None


def _by_key(batch: Sequence[Record], items: list[Any]) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The items by the key they name, or why they cannot be matched to this batch's records."""
    keys = {record.key for record in batch}
    by_key: dict[str, dict[str, Any]] = {}
    for at, item in enumerate(items):
        if not isinstance(item, dict) or item.get("key") is None:
            return {}, f"results[{at}] is not an object with a key"
        key = str(item["key"])
        if key not in keys:
            return {}, f"results[{at}] names key {key[:80]!r}, which is not in this batch"
        if key in by_key:
            return {}, f"results[{at}] names key {key[:80]!r} a second time"
        by_key[key] = item
    return by_key, None


def _outcome(record: Record, item: dict[str, Any]) -> Result:
    """The Result the item reports for `record` ({}: not mentioned, ok)."""
    status = item.get("status", "ok")
    word = status.strip().lower() if isinstance(status, str) else None
    dest_id = str(item["id"]) if item.get("id") is not None else None
    reason = str(item.get("error") or "")
    if word == "rejected":
        return Result.rejected(record, reason or "rejected by the receiver")
    if word == "failed":
        return Result.failed(record, reason or "receiver asked for a retry")
    if word != "ok":
        shown = repr(status)[:60]
        text = f"the receiver answered status {shown}, none of {', '.join(STATUSES)}: not acknowledged, sent again"
        return Result(record.key, "failed", record.dest_id, f"{text} ({reason})" if reason else text, later=True)
    if item.get("existed") and record.op == "insert":
        return Result.existed(record, dest_id)
    return Result.ok(record, dest_id)
