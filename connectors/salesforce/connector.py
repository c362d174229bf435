"""The Salesforce destination: field sync (collections or Bulk 2.0), mirror deletes, and Tasks.

Which path a batch takes:
  destination.object == "Task"          -> TaskWriter (query keys, create only the missing)
  op == "delete"                         -> DELETE /composite/sobjects?ids=... (200 a call)
  mode "update" / "insert"               -> query Ids by external ID, then update / create
  mode "upsert" / "mirror", <= 200       -> PATCH /composite/sobjects/{Obj}/{ExtId}
  mode "upsert" / "mirror", > 200 or >= bulk_threshold -> one Bulk API 2.0 upsert job

The runner asks `preferred_batch_size(total_changes)` how big to make batches: 200 normally,
`bulk_batch_size` once a run has `bulk_threshold` changes or more.

The alert engine also calls `task_status(keys)` (was the task worked?) and
`raise_task_priority(keys, priority)` (escalation) on a Task destination.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, cast

from syncer.connector import Connector, ConnectorSettings, Destination, Record, Result, SettingProblem, check_problem
from syncer.errors import CredentialRefused, FatalError, RejectedError, RetryableError
from syncer.open_jobs import OpenJob
from syncer.ratelimit import RateLimiter
from syncer.retry import RetryPolicy
from syncer.values import FieldType

from .bulk import BulkUpserter
from .client import SalesforceClient
from .describe import field_types
from .settings import FLOW_SECRET, SalesforceSettings
from .sobjects import COLLECTION_CAP, SObjectWriter
from .tasks import ACCOUNT_KEY, OWNER_KEY, TaskStatus, TaskWriter


class SalesforceConnector(Connector):
    name: ClassVar[str] = "salesforce"
    address_settings = ("instance_url", "login_url", "domain")  # sandbox -> production moves one of them
    settings_model = SalesforceSettings
    batch_size: ClassVar[int] = COLLECTION_CAP
    rate_limit = None  # no short-window limit; the daily quota is watched through Sforce-Limit-Info
    max_concurrency: ClassVar[int] = 10  # well under the 25 long-running-request org cap
    # External IDs match case-insensitively unless the field is "Unique, case sensitive" (describe
    # `caseSensitive`); Apex/DML docs and API-FACTS "Salesforce duplicate external IDs".
    match_key_casefold: ClassVar[bool] = True
    # a Task's match value is its Account's external ID (WhatId): many tasks share one account
    parent_match_objects: ClassVar[frozenset[str]] = frozenset({"Task"})
    credential_noun = "credential for the `auth` flow configured"
    # 403: the integration user lacks a permission (API_DISABLED_FOR_ORG, INSUFFICIENT_ACCESS ...)
    permission_fix = (
        "give the integration user the permission the call needs (its profile or a permission set: API Enabled, "
        "and read/edit access to the object and its fields)"
    )

    @classmethod
    def addresses(cls, settings: ConnectorSettings) -> list[str]:
        """The one org records are written to: `instance_url` when set (every request goes there, whatever
        the login), else the login endpoint that names it: `login_url`, else https://{domain}.salesforce.com
        (the URL simple-salesforce logs in at; "test" is a sandbox) -- connectors/salesforce/auth.py."""
        sf = cast(SalesforceSettings, settings)
        return [str(sf.instance_url or sf.login_url or f"https://{sf.domain}.salesforce.com")]

    def __init__(
        self,
        settings: SalesforceSettings,
        destination: Destination,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(settings, destination, retry, limiter)
        self.sf_settings = settings
        self.client = SalesforceClient(settings, self.call, pool_size=self.effective_concurrency)
        self.sobjects = SObjectWriter(self.client, destination, casefold=self.match_casefold)
        self.tasks = TaskWriter(self.client, destination, settings.task_key_field)
        self.bulk = BulkUpserter(
            self.client,
            destination.object,
            destination.match_field,
            sleep=self.retry.sleep,
            poll_interval=settings.bulk_poll_interval,
            timeout=settings.bulk_timeout,
            ledger=lambda: self.ledger,
        )
        self._types: dict[str, FieldType] | None = None
        self._casefold: bool | None = None

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """(used, limit) of the org's daily API requests, from the latest Sforce-Limit-Info header."""
        return self.client.api_usage

    @property
    def is_task_sync(self) -> bool:
        return not self.match_identifies(self.destination.object)

    def field_types(self) -> dict[str, FieldType]:
        """Each mapped field's type from describe, read once per run. Task fields: tasks.py formats them."""
        if self.is_task_sync:
            return {}
        if self._types is None:
            described = self._describe(self.destination.object)
            if described is None:
                raise FatalError(f"object: Salesforce has no object {self.destination.object!r}")
            self._types = field_types(described, self.destination.fields)
        return self._types

    def instant_fields(self) -> dict[str, str]:
        """Datetime fields from describe; on a Task sync too (its fields are passed untyped, but a
        datetime Task field such as ReminderDateTime still takes an instant)."""
        if not self.is_task_sync:
            return super().instant_fields()
        described = self._describe("Task") or {}
        mapped = (n for n in self.destination.fields if described.get(n, {}).get("type") == "datetime")
        return {name: f"Salesforce Task datetime field {name}" for name in mapped}

    def preferred_batch_size(self, total_changes: int) -> int:
        """Batch size the runner should use for a run of `total_changes` changes."""
        bulk_ok = not self.is_task_sync and self.destination.mode in ("upsert", "mirror")
        if bulk_ok and total_changes >= self.sf_settings.bulk_threshold:
            return self.sf_settings.bulk_batch_size
        return self.effective_batch_size

    def write(self, batch: Sequence[Record]) -> list[Result]:
        if self.is_task_sync:
            return self.tasks.write(batch)
        results: dict[str, Result] = {}
        deletes = [r for r in batch if r.op == "delete"]
        changes = [r for r in batch if r.op != "delete"]
        if deletes:
            results.update((r.key, res) for r, res in zip(deletes, self.sobjects.delete(deletes), strict=True))
        if changes:
            results.update((r.key, res) for r, res in zip(changes, self._write_changes(changes), strict=True))
        return [results[r.key] for r in batch]

    def _write_changes(self, batch: Sequence[Record]) -> list[Result]:
        mode = self.destination.mode
        if mode == "update":
            return self.sobjects.update(batch)
        if mode == "insert":
            return self.sobjects.insert(batch)
        if len(batch) > COLLECTION_CAP or len(batch) >= self.sf_settings.bulk_threshold:
            return self._bulk_upsert(batch)
        return self.sobjects.upsert(batch)

    def _bulk_upsert(self, batch: Sequence[Record]) -> list[Result]:
        """Bulk 2.0 for the records whose CSV cells mean what their values mean; collections for the
        others (a text value `#N/A` reads as null in a CSV: BulkUpserter.keeps), results in order."""
        special = [r for r in batch if not self.bulk.keeps(r)]
        if not special:
            return self.bulk.upsert(batch)
        odd = {id(r) for r in special}
        plain = [r for r in batch if id(r) not in odd]
        done = dict(zip(map(id, special), self.sobjects.upsert(special), strict=True))
        if plain:
            done |= dict(zip(map(id, plain), self.bulk.upsert(plain), strict=True))
        return [done[id(r)] for r in batch]

    def resume_jobs(self, jobs: Sequence[OpenJob]) -> dict[str, list[Result] | str]:
        """The Bulk API 2.0 jobs earlier runs left open, settled (BulkUpserter.resume)."""
        return self.bulk.resume(jobs)

    def task_status(self, keys: Iterable[str]) -> dict[str, TaskStatus]:
        """Record.key -> open/completed (with completion time) of the tasks this sync created."""
        return self.tasks.status(keys)

    def raise_task_priority(self, keys: Sequence[str], priority: str) -> dict[str, str | None]:
        """Record.key -> None once its task has `priority` (or is closed), else the reason it cannot.

        Transient failures (5xx, timeouts, UNABLE_TO_LOCK_ROW) are retried through the retry
        policy; keys still failing after that are left out of the answer, so the alert engine
        keeps them pending and tries again on its next escalate(). A request refused as a whole
        (auth, quota, a missing key field) raises, as in `send()`.
        """
        settled, _failure = self.settle(keys, lambda pending: self.tasks.raise_priority(pending, priority))
        return {key: result.reason for key, result in settled.items()}  # unsettled keys: retried next escalate()

    def credential_setting(self) -> str:
        """The secret the configured `auth` flow logs in with (password flow: `password`)."""
        return FLOW_SECRET[self.sf_settings.auth]

    def check(self) -> list[str]:
        """Describe the object(s) and report each mapped field that is missing or not writable."""
        try:
            describe = self._describe(self.destination.object)
            if describe is None:
                return [f"object: Salesforce has no object {self.destination.object!r}"]
            problems = self._field_problems(describe)
            if self.is_task_sync:
                problems += self._task_problems(describe)
            else:
                problems += self._match_problems(describe, self.destination.object, "match_field")
            return problems
        except RetryableError as exc:  # 5xx, timeout: no verdict on the config; plan/run ask again
            return [check_problem(exc, f"salesforce: {exc}")]
        except CredentialRefused as exc:  # worded by the runner: the setting holding the credential and the fix
            return [check_problem(exc, f"auth: {exc}")]
        except FatalError as exc:  # the credentials of [connectors.<name>]
            return [SettingProblem(self.section, f"auth: {exc}")]

    def _describe(self, obj: str) -> dict[str, dict[str, Any]] | None:
        try:
            body = self.client.json("GET", f"sobjects/{obj}/describe", f"describe {obj}")
        except (FatalError, RejectedError) as exc:
            if "NOT_FOUND" in str(exc) or "404" in str(exc):
                return None
            raise
        return {f["name"]: f for f in cast(list[dict[str, Any]], body["fields"])}

    def _field_problems(self, fields: dict[str, dict[str, Any]]) -> list[str]:
        obj, problems = self.destination.object, []
        need = "createable" if self.destination.mode == "insert" or self.is_task_sync else "updateable"
        for name, key in self.destination.fields.items():
            if self.is_task_sync and name in (ACCOUNT_KEY, OWNER_KEY):
                continue
            spec = fields.get(name)
            if spec is None:
                problems.append(f"{key}: {obj} has no field {name!r}")
            elif not spec.get(need):
                problems.append(f"{key}: {obj}.{name} is not {need}")
        return problems

    def _match_problems(self, fields: dict[str, dict[str, Any]] | None, obj: str, key: str) -> list[str]:
        match = self.destination.match_field
        spec = (fields or {}).get(match)
        if spec is None:
            return [f"{key}: {obj} has no field {match!r}"]
        if not spec.get("externalId"):
            return [f"{key}: {obj}.{match} is not an External ID field (upsert matches on one)"]
        return []

    def _task_problems(self, task_fields: dict[str, dict[str, Any]]) -> list[str]:
        key_field = self.sf_settings.task_key_field
        problems = []
        if key_field not in task_fields:
            problems.append(f"task_key_field: Task has no field {key_field!r} (create it: Text(80), filterable)")
        account = self._describe("Account")
        return problems + self._match_problems(account, "Account", "match_field")

    def match_casefold(self) -> bool:
        """False only when describe says the match field is case sensitive; if describe cannot be
        read, the stricter case-insensitive comparison is kept."""
        if self.is_task_sync:
            return True
        if self._casefold is None:  # describe once per connector (one run)
            try:
                spec = (self._describe(self.destination.object) or {}).get(self.destination.match_field)
            except (FatalError, RejectedError, RetryableError):
                return True
            self._casefold = not (spec or {}).get("caseSensitive", False)
        return self._casefold

    def close(self) -> None:
        self.client.close()
