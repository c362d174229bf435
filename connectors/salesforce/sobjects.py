"""Field sync through sObject Collections: upsert, update-only, insert-only and delete, 200 a call.

Every call sends `allOrNone: false`, so one bad record never holds back the other 199; the
per-record results come back in request order and become one `Result` each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Literal

from syncer.connector import Destination, Record, Result
from syncer.identity import match_comparison_key

from .client import SalesforceClient

COLLECTION_CAP = 200
# record-level codes that may clear on their own: report `failed` so the runner retries them
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_RUNNING_TOO_LONG", "SERVER_UNAVAILABLE"})
# deleting what is already gone is success: the delete may have landed before a lost reply
GONE_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})


def chunks(batch: Sequence[Record], size: int = COLLECTION_CAP) -> list[Sequence[Record]]:
    return [batch[i : i + size] for i in range(0, len(batch), size)]


def jsonable(value: Any) -> Any:
    """Salesforce wants ISO dates and plain numbers in JSON. Mapped fields arrive converted already
    (syncer.values); this covers task fields. A Decimal stays exact: the client writes it with
    syncer.values.to_json."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def item_outcome(item: dict[str, Any]) -> tuple[Literal["ok", "rejected", "failed"], str | None]:
    """One collections result item -> (status, the service's own `statusCode: message`)."""
    if item.get("success"):
        return "ok", None
    errors = item.get("errors") or []
    reason = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors) or "UNKNOWN: no detail"
    if any(e.get("statusCode") in TRANSIENT_CODES for e in errors):
        return "failed", reason
    return "rejected", reason


def item_result(record: Record, item: dict[str, Any]) -> Result:
    """One collections result item -> Result."""
    status, reason = item_outcome(item)
    if status == "ok":
        return Result.ok(record, item.get("id"))
    return Result(record.key, status, record.dest_id, reason)


class SObjectWriter:
    """Writes field-sync batches for one destination object with sObject Collections."""

    def __init__(
        self, client: SalesforceClient, destination: Destination, casefold: Callable[[], bool] = lambda: True
    ) -> None:
        self.client = client
        self.obj = destination.object
        self.match = destination.match_field
        self.casefold = casefold  # the match field compares case-insensitively (describe `caseSensitive`)

    def _k(self, value: object) -> str:
        """How Salesforce compares this match value: SOQL finds 'sf-1' for 'SF-1' either way, so a
        case-sensitive external ID must be joined exactly, a case-insensitive one folded."""
        return match_comparison_key(str(value), self.casefold())

    def body(self, record: Record, extra: dict[str, Any]) -> dict[str, Any]:
        fields = {k: jsonable(v) for k, v in record.fields.items() if k not in ("Id", self.match)}
        return {"attributes": {"type": self.obj}, **fields, **extra}

    def upsert(self, batch: Sequence[Record]) -> list[Result]:
        results: list[Result] = []
        for chunk in chunks(batch):
            records = [self.body(r, {self.match: r.match_value}) for r in chunk]
            items = self.client.json(
                "PATCH",
                f"composite/sobjects/{self.obj}/{self.match}",
                f"upsert {self.obj}",
                json={"allOrNone": False, "records": records},
            )
            results += [item_result(r, item) for r, item in zip(chunk, items, strict=True)]
        return results

    def existing_ids(self, batch: Sequence[Record]) -> dict[str, str]:
        """Match value (as the field compares it, see `_k`) -> Id of the records that exist."""
        rows = self.client.query_in(
            f"Id, {self.match}", self.obj, self.match, [str(r.match_value) for r in batch], f"lookup {self.obj}"
        )
        found: dict[str, str] = {}
        for row in rows:
            found.setdefault(self._k(row[self.match]), str(row["Id"]))
        return found

    def update(self, batch: Sequence[Record]) -> list[Result]:
        """Update-only: look the Ids up first and PATCH by Id, so a missing record is never created."""
        results: dict[str, Result] = {}
        for chunk in chunks(batch):
            found = self.existing_ids(chunk)
            present = [r for r in chunk if self._k(r.match_value) in found]
            for r in chunk:
                if r not in present:
                    results[r.key] = Result.rejected(
                        r, f"NOT_FOUND: no {self.obj} with {self.match} = {r.match_value!r} (mode update never creates)"
                    )
            if present:
                records = [self.body(r, {"id": found[self._k(r.match_value)]}) for r in present]
                items = self.client.json(
                    "PATCH", "composite/sobjects", f"update {self.obj}", json={"allOrNone": False, "records": records}
                )
                for r, item in zip(present, items, strict=True):
                    results[r.key] = item_result(r, item)
        return [results[r.key] for r in batch]

    def insert(self, batch: Sequence[Record]) -> list[Result]:
        """Create-only: records that already exist are acknowledged with their Id, left alone, and audited
        as such (`Result.existed`)."""
        results: dict[str, Result] = {}
        for chunk in chunks(batch):
            found = self.existing_ids(chunk)
            missing = []
            for r in chunk:
                if self._k(r.match_value) in found:
                    results[r.key] = Result.existed(r, found[self._k(r.match_value)])
                else:
                    missing.append(r)
            if missing:
                records = [self.body(r, {self.match: r.match_value}) for r in missing]
                items = self.client.json(
                    "POST", "composite/sobjects", f"insert {self.obj}", json={"allOrNone": False, "records": records}
                )
                for r, item in zip(missing, items, strict=True):
                    results[r.key] = item_result(r, item)
        return [results[r.key] for r in batch]

    def delete(self, batch: Sequence[Record]) -> list[Result]:
        """Delete by Id (looked up by match value when the state has none); already gone is ok."""
        results: dict[str, Result] = {}
        for chunk in chunks(batch):
            unknown = [r for r in chunk if not r.dest_id and r.match_value is not None]
            found = self.existing_ids(unknown) if unknown else {}
            targets: list[tuple[Record, str]] = []
            for r in chunk:
                dest_id = r.dest_id or found.get(self._k(r.match_value))
                if dest_id:
                    targets.append((r, dest_id))
                else:
                    results[r.key] = Result.ok(r)
            if targets:
                items = self.client.json(
                    "DELETE",
                    "composite/sobjects",
                    f"delete {self.obj}",
                    params={"ids": ",".join(i for _, i in targets), "allOrNone": "false"},
                )
                for (r, dest_id), item in zip(targets, items, strict=True):
                    codes = {e.get("statusCode") for e in item.get("errors") or []}
                    gone = not item.get("success") and codes and codes <= GONE_CODES
                    results[r.key] = Result.ok(r, dest_id) if gone else item_result(r, item)
        return [results[r.key] for r in batch]
