"""The HubSpot destination: PQL fields on companies/contacts, and follow-up tasks.

`write()` takes one batch (at most 100 records, HubSpot's batch cap) and makes one idempotent
batch call per kind of change; see fields.py (upsert/update/insert/delete) and tasks.py (tasks,
exactly once per Record.key; `task_status` and `raise_task_priority` for the alert engine). Every
request goes through `self.call` via api.py, so the shared rate limiter, call counting and the one
HTTP classification table apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import httpx
from pydantic import SecretStr

from syncer.connector import Connector, ConnectorSettings, Destination, Record, Result, SettingProblem
from syncer.ratelimit import RateLimit, RateLimiter
from syncer.retry import RetryPolicy
from syncer.values import FieldType

from .api import SEARCH_LIMIT, HubSpotApi
from .fields import FieldWriter
from .schema import FIELD_OBJECTS, check_destination, field_types, properties
from .tasks import TaskStatus, TaskWriter

PlanTier = Literal["starter", "pro", "enterprise", "increase"]
PLAN_CALLS_PER_10S: dict[str, int] = {"starter": 100, "pro": 190, "enterprise": 190, "increase": 250}


class HubSpotSettings(ConnectorSettings):
    """Config keys of a hubspot connector (README.md documents each)."""

    base_url: str = "https://api.hubapi.com"
    """HubSpot API root; point it at a proxy or `syncer emulator hubspot` for trials."""
    access_token: SecretStr
    """Private app token (Bearer)."""
    plan_tier: PlanTier = "starter"
    """Sets the rate limit per 10 s: starter 100, pro / enterprise 190, increase 250."""
    timeout: float = 30.0
    """Seconds per HTTP request."""
    task_key_property: str = "syncer_key"
    """Custom task property (single-line text) holding syncer's task key, so a task is never created twice."""
    rate_limit_margin: float = 0.25
    """Seconds added to HubSpot's 10 s window: requests queue and arrive with jitter, so a limiter that fills the window
    exactly can still be one over when they land.
    """


class HubSpotConnector(Connector):
    name: ClassVar[str] = "hubspot"
    address_settings = ("base_url",)  # the portal is the token's: a new token for it re-sends nothing
    settings_model: ClassVar[type[ConnectorSettings]] = HubSpotSettings
    batch_size: ClassVar[int] = 100
    rate_limit: ClassVar[RateLimit | None] = RateLimit(100, 10.0)
    max_concurrency: ClassVar[int] = 4
    # HubSpot documents no case rule for unique property values; treat 'Acme' and 'acme' as one
    # record (the safe side: a false collision is a visible rejection, a missed one a silent merge).
    match_key_casefold: ClassVar[bool] = True
    # a task's match value is the company it is associated with: many tasks share one company
    parent_match_objects: ClassVar[frozenset[str]] = frozenset({"tasks"})
    credential_settings = ("access_token",)
    credential_noun = "private app access token"
    # HubSpot answers 403 MISSING_SCOPES when the private app lacks a scope the call needs
    permission_fix = (
        "add the scopes syncer needs to the private app (HubSpot: Settings > Integrations > Private apps > Scopes; "
        "README.md lists them)"
    )

    def __init__(
        self,
        settings: ConnectorSettings,
        destination: Destination,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        *,
        search_limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(settings, destination, retry, limiter)
        assert isinstance(settings, HubSpotSettings)
        self.hubspot = settings
        if self.limiter.limit in (None, type(self).rate_limit):
            # the runner hands over a limiter with the class default; the plan tier knows better
            self.limiter.set_limit(self.plan_limit(settings))
        self.api = HubSpotApi(
            settings.base_url,
            settings.access_token.get_secret_value(),
            settings.timeout,
            self.call,
            self.limiter,
            search_limiter or RateLimiter(SEARCH_LIMIT),
            settings.rate_limit_margin,
            transport,
        )
        self.fields = FieldWriter(self.api, destination)
        self.tasks = TaskWriter(self.api, destination, settings.task_key_property)
        self._types: dict[str, FieldType] | None = None

    @staticmethod
    def plan_limit(settings: HubSpotSettings) -> RateLimit:
        return RateLimit(PLAN_CALLS_PER_10S[settings.plan_tier], 10.0 + settings.rate_limit_margin)

    def check(self) -> list[str]:
        """schema.check_destination; a problem with a setting (the token, `task_key_property`) is located there."""
        problems = check_destination(self.api, self.destination, self.hubspot.task_key_property)
        key = "task_key_property: "
        return [
            SettingProblem(self.setting(key[:-2]), p.removeprefix(key))
            if type(p) is str and p.startswith(key)
            else SettingProblem(self.setting("access_token"), p)
            if type(p) is str and p.startswith("hubspot: ")  # the API refused the token as a whole
            else p
            for p in problems
        ]

    def field_types(self) -> dict[str, FieldType]:
        """Each mapped property's type, read once per run from GET /crm/v3/properties/{object}.
        Task fields are not properties: tasks.py formats them itself."""
        if self.destination.object not in FIELD_OBJECTS:
            return {}
        if self._types is None:
            self._types = field_types(properties(self.api, self.destination.object), self.destination)
        return self._types

    def instant_fields(self) -> dict[str, str]:
        """A task's `due_at` becomes `hs_timestamp`, a datetime (an instant), as typed datetime properties are."""
        if self.destination.object == "tasks":
            due = "HubSpot task due_at (hs_timestamp, a datetime)"
            return {"due_at": due} if "due_at" in self.destination.fields else {}
        return super().instant_fields()

    def write(self, batch: Sequence[Record]) -> list[Result]:
        deletes = [r for r in batch if r.op == "delete"]
        changes = [r for r in batch if r.op != "delete"]
        writer = self.fields if self.match_identifies(self.destination.object) else self.tasks
        results: dict[str, Result] = {}
        if changes:
            results |= {res.key: res for res in writer.write(changes)}
        if deletes:
            results |= {res.key: res for res in writer.archive(deletes)}
        return [results[r.key] for r in batch]

    def task_status(self, keys: Sequence[str]) -> dict[str, TaskStatus]:
        """Open/completed state of the tasks created for these Record.keys (missing keys are absent)."""
        return self.tasks.status(keys)

    def raise_task_priority(self, keys: Sequence[str], priority: str) -> dict[str, str | None]:
        """Record.key -> None once its task has `priority` (or is completed), else the reason it cannot.

        `priority`: high / medium (or normal) / low, any case. Transient failures (429, 5xx,
        timeouts, transient per-input categories) are retried through the retry policy; keys still
        failing after that are left out of the answer, so the alert engine keeps them pending and
        tries again on its next escalate(). A request refused as a whole (401/403/404) raises.
        """
        settled, _failure = self.settle(keys, lambda pending: self.tasks.raise_priority(pending, priority))
        return {key: result.reason for key, result in settled.items()}  # unsettled keys: retried next escalate()

    def close(self) -> None:
        self.api.close()
