"""CRM follow-up tasks: exactly one Task per Record.key, even across crashes and lost replies.

Salesforce has no idempotency key for creates, and whether a custom Activity field can be a
unique external ID is not something to rely on. So every task carries a deterministic key in a
custom text field (`task_key_field`), and each batch first queries which keys already exist and
creates only the missing ones. A resend after a lost create reply finds the task and returns its
Id instead of creating a twin.

Record.fields for a Task: Subject, Description, ActivityDate, Priority (and any other Task
field, e.g. Status), plus two lookup keys that are not Task fields:
  account_external_id  the Account's value of `destination.match_field` -> WhatId (falls back
                       to Record.match_value)
  owner_email          the owner's User.Email -> OwnerId (syncer.owner_email: trimmed, compared
                       case-insensitively, as SOQL compares User.Email); no active user with it ->
                       rejected: Salesforce would give the task to the user creating it (the
                       integration user), which is no owner the row asked for

`raise_priority` (alert escalation) finds the tasks by the same key and PATCHes `Priority` by Id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from syncer.connector import Destination, Record, Result
from syncer.escaping import one_line, plain_text
from syncer.identity import canonical_identity, match_comparison_key
from syncer.owner_email import owner_lookup_email

from .client import SalesforceClient
from .sobjects import COLLECTION_CAP, chunks, item_outcome, item_result, jsonable

ACCOUNT_KEY = "account_external_id"
OWNER_KEY = "owner_email"
KEY_LIMIT = 80  # fits a Text(80) field; longer keys are hashed
CLIP = {"Subject": 255, "Description": 32_000}
# Subject is a one-line title, Description a plain-text area (no markup is rendered in either)
TEXT = {"Subject": one_line, "Description": plain_text}
# priority words the alert engine may use -> Salesforce's standard picklist values; others pass as they are
PRIORITIES = {"high": "High", "normal": "Normal", "medium": "Normal", "low": "Low"}


@dataclass(frozen=True)
class TaskStatus:
    """What became of a task, read back for alert suppression and outcome reports."""

    key: str
    task_id: str
    status: Literal["open", "completed"]
    completed_at: dt.datetime | None


def task_key(record_key: str) -> str:
    """The value stored in the key field: the record key itself, or a stable hash of a long one."""
    if len(record_key) <= KEY_LIMIT:
        return record_key
    return "sha256:" + hashlib.sha256(record_key.encode()).hexdigest()[:64]


class TaskWriter:
    def __init__(self, client: SalesforceClient, destination: Destination, key_field: str) -> None:
        self.client = client
        self.account_field = destination.match_field
        self.key_field = key_field
        self.accounts: dict[str, str | None] = {}  # lower-cased external id -> Account Id (None: not found)
        self.owners: dict[str, str | None] = {}  # owner_lookup_email -> active User Id (None: none)
        self.inactive: set[str] = set()  # owner_lookup_email of users found but inactive

    def existing(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        select = f"Id, {self.key_field}, IsClosed, Status, CompletedDateTime, Priority"
        rows = self.client.query_in(select, "Task", self.key_field, keys, "find tasks")
        return {str(row[self.key_field]): row for row in rows}

    def write(self, batch: Sequence[Record]) -> list[Result]:
        results: dict[str, Result] = {}
        for chunk in chunks(batch):
            found = self.existing(task_key(r.key) for r in chunk)
            missing = []
            for r in chunk:
                row = found.get(task_key(r.key))
                if row is not None and r.op != "delete":  # made already (a lost answer, or another run)
                    results[r.key] = Result.existed(r, str(row["Id"]))
                elif r.op == "delete" or row is not None:  # tasks are history: a cleared alert keeps its task
                    results[r.key] = Result.ok(r, str(row["Id"]) if row else None)
                else:
                    missing.append(r)
            results.update(self._create(missing))
        return [results[r.key] for r in batch]

    def _create(self, records: list[Record]) -> dict[str, Result]:
        results: dict[str, Result] = {}
        if not records:
            return results
        self._resolve_accounts(
            {self._account_value(r) for r in records if _folded(self._account_value(r)) not in self.accounts}
        )
        self._resolve_owners({e for r in records if (e := owner_lookup_email(r.fields.get(OWNER_KEY)))})
        ready: list[tuple[Record, dict[str, Any]]] = []
        for r in records:
            account_id = self.accounts.get(_folded(self._account_value(r)))
            if account_id is None:
                value = self._account_value(r)
                results[r.key] = Result.rejected(r, f"NOT_FOUND: no Account with {self.account_field} = {value!r}")
                continue
            unowned = self._owner_problem(r)
            if unowned is not None:
                results[r.key] = Result.rejected(r, unowned)
                continue
            ready.append((r, self._body(r, account_id)))
        if ready:
            items = self.client.json(
                "POST",
                "composite/sobjects",
                "create tasks",
                json={"allOrNone": False, "records": [body for _, body in ready]},
            )
            for (r, _), item in zip(ready, items, strict=True):
                results[r.key] = item_result(r, item)
        return results

    def _account_value(self, record: Record) -> str:
        value = record.fields.get(ACCOUNT_KEY)
        return canonical_identity(value) if value not in (None, "") else str(record.match_value or "")

    def _body(self, record: Record, account_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"attributes": {"type": "Task"}}
        for name, value in record.fields.items():
            if name in (ACCOUNT_KEY, OWNER_KEY):
                continue
            value = jsonable(value)
            if name in TEXT and isinstance(value, str):
                value = TEXT[name](value)
            if name in CLIP and isinstance(value, str) and len(value) > CLIP[name]:
                value = value[: CLIP[name] - 1] + "\u2026"
            body[name] = value
        body["WhatId"] = account_id
        body[self.key_field] = task_key(record.key)
        email = owner_lookup_email(record.fields.get(OWNER_KEY))
        if email is not None:
            body["OwnerId"] = self.owners[email]
        return body

    def _owner_problem(self, record: Record) -> str | None:
        """Why the task cannot have the owner its row names (None: it can, or it names none). Without
        OwnerId Salesforce gives a new Task to the user creating it (Task.OwnerId, SOAP API Developer
        Guide), here the integration user: not the owner asked for, so the row is rejected instead."""
        email = owner_lookup_email(record.fields.get(OWNER_KEY))
        if email is None or self.owners.get(email):
            return None
        given = record.fields.get(OWNER_KEY)
        if email in self.inactive:
            why = f"the Salesforce user with Email {email!r} is inactive"
        else:
            why = f"no Salesforce user has Email {email!r} (trimmed, compared case-insensitively)"
        return (
            f"owner_email {given!r}: {why}; without an owner Salesforce would assign the task to the user "
            "creating it (the integration user), so it is not created"
        )

    def _resolve_accounts(self, values: set[str]) -> None:
        values.discard("")
        if not values:
            return
        rows = self.client.query_in(f"Id, {self.account_field}", "Account", self.account_field, values, "find accounts")
        for value in values:
            self.accounts[_folded(value)] = None
        for row in rows:  # Salesforce matched the external ids case-insensitively: key them the same way
            self.accounts[_folded(str(row[self.account_field]))] = str(row["Id"])

    def _resolve_owners(self, emails: set[str]) -> None:
        emails -= self.owners.keys()
        if not emails:
            return
        rows = self.client.query_in("Id, Email, IsActive", "User", "Email", emails, "find owners")
        for email in emails:
            self.owners[email] = None
        for row in rows:
            found = owner_lookup_email(row["Email"])
            if found is None:
                continue
            if row.get("IsActive", True):
                self.owners[found] = str(row["Id"])
            else:
                self.inactive.add(found)

    def raise_priority(self, keys: Sequence[str], priority: str) -> list[Result]:
        """Set `Priority` on the tasks of these Record.keys; one Result per distinct key.

        Already at that priority, or closed (worked: an escalation is moot and a closed task is
        history): ok without a write. No task: rejected. A transient per-record error: failed.
        """
        value = PRIORITIES.get(priority.strip().lower(), priority)
        by_task_key = {task_key(k): k for k in dict.fromkeys(keys)}
        found = self.existing(by_task_key)
        results: dict[str, Result] = {}
        targets: list[tuple[str, str]] = []
        for stored, key in by_task_key.items():
            row = found.get(stored)
            if row is None:
                results[key] = Result(key, "rejected", None, f"NOT_FOUND: no Task with {self.key_field} = {stored!r}")
            elif row.get("IsClosed") or row.get("Priority") == value:
                results[key] = Result(key, "ok", str(row["Id"]))
            else:
                targets.append((key, str(row["Id"])))
        for start in range(0, len(targets), COLLECTION_CAP):
            chunk = targets[start : start + COLLECTION_CAP]
            records = [{"attributes": {"type": "Task"}, "id": task_id, "Priority": value} for _, task_id in chunk]
            items = self.client.json(
                "PATCH", "composite/sobjects", "raise task priority", json={"allOrNone": False, "records": records}
            )
            for (key, task_id), item in zip(chunk, items, strict=True):
                status, reason = item_outcome(item)
                results[key] = Result(key, status, task_id, reason)
        return [results[k] for k in by_task_key.values()]

    def status(self, keys: Iterable[str]) -> dict[str, TaskStatus]:
        """Record.key -> TaskStatus for the tasks that exist; keys without a task are left out."""
        by_task_key = {task_key(k): k for k in keys}
        rows = self.existing(by_task_key)
        out: dict[str, TaskStatus] = {}
        for value, row in rows.items():
            key = by_task_key.get(value)
            if key is None:
                continue
            closed = bool(row.get("IsClosed"))
            completed = row.get("CompletedDateTime")
            when = _parse_datetime(completed) if closed and completed else None
            out[key] = TaskStatus(key, str(row["Id"]), "completed" if closed else "open", when)
        return out


def _parse_datetime(value: str) -> dt.datetime:
    """Salesforce datetimes look like 2026-01-02T03:04:05.000+0000."""
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


def _folded(external_id: str) -> str:
    """External IDs compare case-insensitively in Salesforce ('SF-1' finds 'sf-1'; API-FACTS)."""
    return match_comparison_key(external_id, casefold=True)
