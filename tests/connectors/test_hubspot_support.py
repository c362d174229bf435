"""Shared set-up for the HubSpot tests (no tests here): an emulator on the FakeClock and a connector bound to it."""

from __future__ import annotations

import hashlib
from typing import Any

from syncer_connectors.hubspot.api import SEARCH_LIMIT
from syncer_connectors.hubspot.connector import HubSpotConnector, HubSpotSettings
from syncer_connectors.hubspot.emulator import HubSpotEmulator

from syncer.connector import Destination, Record
from syncer.ratelimit import RateLimit, RateLimiter
from syncer.retry import no_wait

TOKEN = "hubspot-test-token"
COMPANIES = Destination(
    object="companies",
    match_field="syncer_account_id",
    fields={"name": "fields.name", "pql_score": "fields.pql_score", "pql_tier": "fields.pql_tier"},
)
TASKS = Destination(object="tasks", match_field="syncer_account_id", fields={"subject": "alert.subject"})


def make_emulator(clock: Any, plan: str = "starter") -> HubSpotEmulator:
    emulator = HubSpotEmulator(plan=plan, clock=clock, token=TOKEN)
    emulator.store.define("companies", "syncer_account_id", "string", unique=True)
    emulator.store.define("companies", "pql_score", "number")
    emulator.store.define("companies", "pql_tier", "string")
    emulator.store.define("companies", "pql_updated_at", "datetime")
    emulator.store.define("companies", "is_pql", "bool")
    emulator.store.define("tasks", "syncer_key", "string")
    emulator.start()
    return emulator


def make_connector(
    emulator: HubSpotEmulator,
    clock: Any,
    destination: Destination = COMPANIES,
    limit: RateLimit | None = None,
    **settings: Any,
) -> HubSpotConnector:
    config = HubSpotSettings.model_validate(
        {"base_url": emulator.base_url, "access_token": TOKEN, "rate_limit_margin": 0.0, "timeout": 5.0, **settings}
    )
    limiter = RateLimiter(limit, clock=clock, sleep=clock.sleep)
    search_limiter = RateLimiter(SEARCH_LIMIT, clock=clock, sleep=clock.sleep)
    return HubSpotConnector(config, destination, retry=no_wait(), limiter=limiter, search_limiter=search_limiter)


def record(key: str, fields: dict[str, Any], op: str = "upsert", dest_id: str | None = None) -> Record:
    fingerprint = hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest()
    return Record(key, op, fields, fingerprint, f"{key}:{fingerprint[:12]}", match_value=key, dest_id=dest_id)  # type: ignore[arg-type]


def company(i: int, **extra: Any) -> Record:
    fields = {"name": f"Account {i}", "pql_score": i % 101, "pql_tier": ("monitor", "nurture", "escalate")[i % 3]}
    return record(f"acct-{i:05d}", {**fields, **extra})


def paths(emulator: HubSpotEmulator, method: str = "POST") -> list[str]:
    return [path for m, path, _ in list(emulator.requests) if m == method]
