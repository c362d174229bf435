"""CRM tasks: exactly one HubSpot task per Record.key, across crashes and lost answers.

HubSpot has no idempotency key for creates, so every task carries a deterministic key in a custom
property (`task_key_property`, default `syncer_key`): "syncer-" + the first 40 hex digits of
sha256(Record.key). Hashing keeps the value lowercase and short, whatever the key looks like, so
search IN filters match it exactly. Before creating, the batch's keys are looked up and only the
missing tasks are created; existing ones are acknowledged with their id and left untouched (an AE
may have edited or completed them). The lookup uses `batch/read` by the key property when that
property is unique (read-after-write consistent, and HubSpot then refuses a duplicate), and the
search endpoint otherwise (see README: search lags creates by seconds).

Record.fields for a task: subject (required), body, due_at (datetime / date / ISO string / epoch
ms; default now), priority (low/medium/high), type (default TODO), owner_id or owner_email, and
company (the company's value of `destination.match_field`; default Record.match_value).

`raise_priority` (alert escalation) finds the tasks by the same key and sets `hs_task_priority`
with `batch/update` by task id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from syncer.connector import Destination, Record, Result
from syncer.escaping import html_lines, one_line
from syncer.identity import key_text
from syncer.owner_email import owner_lookup_email

from .api import HubSpotApi
from .batch import map_results, to_property_value, trace_id

TASKS = "/crm/v3/objects/tasks"
TASK_TO_COMPANY = 192  # HUBSPOT_DEFINED association type id, task -> company
PRIORITY_PROPERTIES = ["hs_task_priority", "hs_task_status"]
STATUS_PROPERTIES = ["hs_task_status", "hs_task_completion_date", "hs_lastmodifieddate", "hs_task_subject"]
PRIORITIES = {"LOW": "LOW", "MEDIUM": "MEDIUM", "NORMAL": "MEDIUM", "HIGH": "HIGH"}


def task_key(key: str) -> str:
    return "syncer-" + hashlib.sha256(key.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class TaskStatus:
    """Where a task stands in HubSpot, for alert suppression: open, or completed and when."""

    key: str
    task_id: str
    state: Literal["open", "completed"]
    status: str
    completed_at: datetime | None
    updated_at: datetime | None


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class TaskWriter:
    def __init__(self, api: HubSpotApi, destination: Destination, key_property: str) -> None:
        self.api = api
        self.destination = destination
        self.key_property = key_property
        self._owners: dict[str, str | None] = {}
        self._key_unique: bool | None = None

    # -- lookups ------------------------------------------------------------------------------

    def find(self, keys: Sequence[str], properties: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
        """Task key value -> the task (oldest wins if duplicates predate us)."""
        values = list(dict.fromkeys(task_key(k) for k in keys))
        wanted = list(dict.fromkeys([self.key_property, *properties]))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(values), 100):
            chunk = values[start : start + 100]
            for task in self._read(chunk, wanted) if self.key_is_unique() else self._search(chunk, wanted):
                value = (task.get("properties") or {}).get(self.key_property)
                if value and (value not in found or int(task["id"]) < int(found[value]["id"])):
                    found[value] = task
        return found

    def key_is_unique(self) -> bool:
        if self._key_unique is None:
            body = self.api.json("GET", f"/crm/v3/properties/tasks/{self.key_property}", "read task key property")
            self._key_unique = bool(body.get("hasUniqueValue"))
        return self._key_unique

    def _read(self, values: list[str], wanted: list[str]) -> list[dict[str, Any]]:
        body = self.api.json(
            "POST",
            f"{TASKS}/batch/read",
            "read tasks by key",
            json={"inputs": [{"id": v} for v in values], "idProperty": self.key_property, "properties": wanted},
        )
        return list(body.get("results") or [])

    def _search(self, values: list[str], wanted: list[str]) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            query: dict[str, Any] = {
                "filterGroups": [
                    {"filters": [{"propertyName": self.key_property, "operator": "IN", "values": values}]}
                ],
                "properties": wanted,
                "limit": 100,
            }
            if after:
                query["after"] = after
            body = self.api.json("POST", f"{TASKS}/search", "search tasks by key", json=query, search=True)
            tasks.extend(body.get("results") or [])
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return tasks

    def owner_id(self, email: str) -> str | None:
        """The owner id of `email` (`syncer.owner_email`: trimmed, any case), None when no owner has it."""
        folded = owner_lookup_email(email)
        if folded is None:
            return None
        if folded not in self._owners:
            body = self.api.json("GET", "/crm/v3/owners", "look up owner", params={"email": folded, "limit": "1"})
            results = body.get("results") or []
            self._owners[folded] = str(results[0]["id"]) if results else None
        return self._owners[folded]

    def company_ids(self, values: Sequence[str]) -> dict[str, str]:
        if not values:
            return {}
        prop = self.destination.match_field
        body = self.api.json(
            "POST",
            "/crm/v3/objects/companies/batch/read",
            f"read companies by {prop}",
            json={"inputs": [{"id": v} for v in dict.fromkeys(values)], "idProperty": prop, "properties": [prop]},
        )
        return {
            str(r["properties"][prop]): str(r["id"])
            for r in body.get("results") or []
            if (r.get("properties") or {}).get(prop) is not None
        }

    # -- writes -------------------------------------------------------------------------------

    def write(self, records: Sequence[Record]) -> list[Result]:
        existing = self.find([r.key for r in records])
        results: dict[str, Result] = {
            r.key: Result.existed(r, str(existing[task_key(r.key)]["id"]))
            for r in records
            if task_key(r.key) in existing
        }
        missing = [r for r in records if r.key not in results]
        companies = self.company_ids([c for r in missing if (c := self._company(r))])
        creatable: list[tuple[Record, dict[str, Any]]] = []
        for record in missing:
            built = self._input(record, companies)
            if isinstance(built, str):
                results[record.key] = Result.rejected(record, built)
            else:
                creatable.append((record, built))
        if creatable:
            inputs = [{**item, "objectWriteTraceId": trace_id(i)} for i, (_, item) in enumerate(creatable)]
            body = self.api.json("POST", f"{TASKS}/batch/create", "create tasks", json={"inputs": inputs})
            created = [r for r, _ in creatable]
            for result in map_results(created, body, None, "create tasks"):
                duplicate = result.status == "rejected" and "already has that value" in (result.reason or "")
                results[result.key] = Result(result.key, "failed", None, result.reason) if duplicate else result
        return [results[r.key] for r in records]

    def _company(self, record: Record) -> str | None:
        value = record.fields.get("company", record.match_value)
        return None if value in (None, "") else str(value)

    def _input(self, record: Record, companies: dict[str, str]) -> dict[str, Any] | str:
        """The batch/create input for one task, or the reason it cannot be created."""
        fields = record.fields
        if not fields.get("subject"):
            return "task has no subject"
        company = self._company(record)
        if company is None:
            return "task has no company to attach to"
        if company not in companies:
            return f"companies has no record with {self.destination.match_field}={company!r}"
        priority = str(fields.get("priority") or "MEDIUM").upper()
        props = {
            self.key_property: task_key(record.key),
            # the subject is a one-line title; the notes are rich text (HTML) in HubSpot: escaped
            "hs_task_subject": one_line(to_property_value(fields["subject"])),
            "hs_task_body": html_lines(to_property_value(fields["body"])) if fields.get("body") is not None else "",
            "hs_timestamp": to_property_value(fields.get("due_at") or datetime.now(UTC)),
            "hs_task_priority": PRIORITIES.get(priority, priority),
            "hs_task_type": str(fields.get("type") or "TODO").upper(),
            "hs_task_status": "NOT_STARTED",
        }
        owner = fields.get("owner_id")
        email = owner_lookup_email(fields.get("owner_email"))
        if not owner and email is not None:
            owner = self.owner_id(email)
            if owner is None:  # a task without hubspot_owner_id is unassigned: not the owner the row named
                return (
                    f"owner_email {fields['owner_email']!r}: no HubSpot owner has email {email!r} (trimmed, "
                    "compared case-insensitively); without an owner HubSpot would leave the task unassigned, so it "
                    "is not created"
                )
        if owner:
            props["hubspot_owner_id"] = str(owner)
        association = {
            "to": {"id": companies[company]},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_COMPANY}],
        }
        return {"properties": props, "associations": [association]}

    def archive(self, records: Sequence[Record]) -> list[Result]:
        unknown = [r.key for r in records if r.dest_id is None]
        found = self.find(unknown) if unknown else {}
        targets = {r.key: r.dest_id or str(found.get(task_key(r.key), {}).get("id") or "") or None for r in records}
        inputs = [{"id": i} for i in dict.fromkeys(t for t in targets.values() if t)]
        if inputs:
            self.api.request("POST", f"{TASKS}/batch/archive", "archive tasks", json={"inputs": inputs})
        return [Result.ok(r, targets[r.key]) for r in records]

    def raise_priority(self, keys: Sequence[str], priority: str) -> list[Result]:
        """Set `hs_task_priority` on the tasks of these Record.keys; one Result per distinct key.

        Already at that priority, or COMPLETED (worked: an escalation is moot and a completed task
        is history): ok without a write. No task: rejected. A transient per-input error: failed.
        """
        word = priority.strip().upper()
        value = PRIORITIES.get(word, word)
        unique = list(dict.fromkeys(keys))
        found = self.find(unique, PRIORITY_PROPERTIES)
        results: dict[str, Result] = {}
        targets: list[Record] = []
        for key in unique:
            task = found.get(task_key(key))
            props = (task or {}).get("properties") or {}
            if task is None:
                reason = f"no task with {self.key_property}={task_key(key)!r} (key {key_text(key)!r})"
                results[key] = Result(key, "rejected", None, reason)
            elif props.get("hs_task_status") == "COMPLETED" or props.get("hs_task_priority") == value:
                results[key] = Result(key, "ok", str(task["id"]))
            else:  # a Record only to reuse map_results: dest_id is the task id
                targets.append(Record(key, "update", {}, "", "", dest_id=str(task["id"])))
        for start in range(0, len(targets), 100):
            chunk = targets[start : start + 100]
            inputs = [
                {"id": r.dest_id, "properties": {"hs_task_priority": value}, "objectWriteTraceId": trace_id(i)}
                for i, r in enumerate(chunk)
            ]
            body = self.api.json("POST", f"{TASKS}/batch/update", "raise task priority", json={"inputs": inputs})
            results |= {r.key: r for r in map_results(chunk, body, None, "raise task priority")}
        return [results[k] for k in unique]

    def status(self, keys: Sequence[str]) -> dict[str, TaskStatus]:
        found = self.find(keys, STATUS_PROPERTIES)
        statuses: dict[str, TaskStatus] = {}
        for key in keys:
            task = found.get(task_key(key))
            if task is None:
                continue
            props = task.get("properties") or {}
            status = str(props.get("hs_task_status") or "NOT_STARTED")
            done = status == "COMPLETED"
            updated = parse_time(props.get("hs_lastmodifieddate"))
            completed = (parse_time(props.get("hs_task_completion_date")) or updated) if done else None
            statuses[key] = TaskStatus(
                key, str(task["id"]), "completed" if done else "open", status, completed, updated
            )
        return statuses
