"""Shared set-up for the alert tests: Slack + HubSpot emulators, connectors on a fake clock, an engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr
from syncer_connectors.hubspot.api import SEARCH_LIMIT
from syncer_connectors.hubspot.connector import HubSpotConnector, HubSpotSettings
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.hubspot.tasks import task_key
from syncer_connectors.slack.connector import SlackConnector, SlackSettings
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts import AlertEngine, load_alert_settings
from syncer.connector import Destination
from syncer.ratelimit import RateLimiter
from syncer.retry import no_wait
from syncer.state import StateStore

HS_TOKEN = "hubspot-alert-token"
FALLBACK = "C0FALLBACK"
ESCALATE = "C0ESCALATE"
OWNERS = {f"ae{i}@example.com": f"U0AE{i}" for i in range(1, 6)}
T0 = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)  # a Monday; US DST starts 2026-03-08


class Clock:
    """Monotonic fake for the connectors' limiters: moves only when they sleep (or the test moves it)."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def workspace(emu: SlackEmulator, clock: Any) -> SlackEmulator:
    emu.reset(clock)
    emu.add_channel(FALLBACK, "alerts-fallback")
    emu.add_channel(ESCALATE, "alerts-escalations")
    emu.add_channel("C0SALES", "sales")
    emu.add_channel("C0OUTSIDE", "outside", member=False)
    emu.add_channel("C0OLD", "old", archived=True)
    for email, user in OWNERS.items():
        emu.add_user(user, email)
    emu.add_user("U0BOSS", "boss@example.com")
    return emu


def hubspot(clock: Any, accounts: int) -> HubSpotEmulator:
    emu = HubSpotEmulator(plan="starter", clock=clock, token=HS_TOKEN)
    emu.store.define("companies", "syncer_account_id", "string", unique=True)
    emu.store.define("tasks", "syncer_key", "string")
    for i in range(accounts):
        emu.store.create("companies", {"syncer_account_id": account(i), "name": f"Account {i}"})
    for email in OWNERS:
        emu.add_owner(email)
    emu.start()
    return emu


def account(i: int) -> str:
    return f"acct-{i:05d}"


def slack_connector(slack_url: str, token: str, clock: Any, fast: bool = False) -> SlackConnector:
    rates: dict[str, Any] = {"channel_rate": 1000.0, "channel_burst": 100, "workspace_calls_per_minute": 100_000}
    settings = SlackSettings(
        base_url=slack_url, bot_token=SecretStr(token), fallback_channel=FALLBACK, **(rates if fast else {})
    )
    limiter = RateLimiter(SlackConnector.rate_limit, clock=clock, sleep=clock.sleep)
    return SlackConnector(settings, retry=no_wait(), limiter=limiter, clock=clock, sleep=clock.sleep)


def hubspot_connector(base_url: str, clock: Any) -> HubSpotConnector:
    settings = HubSpotSettings.model_validate(
        {"base_url": base_url, "access_token": HS_TOKEN, "rate_limit_margin": 0.0, "timeout": 5.0}
    )
    destination = Destination("tasks", "syncer_account_id", "insert")
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    search = RateLimiter(SEARCH_LIMIT, clock=clock, sleep=clock.sleep)
    return HubSpotConnector(settings, destination, retry=no_wait(), limiter=limiter, search_limiter=search)


def settings(**sections: dict[str, Any]) -> Any:
    raw: dict[str, Any] = {
        "alerts": {
            "escalation_channel": ESCALATE,
            "tasks": {"connector": "hubspot", "match_field": "syncer_account_id"},
            # these tests drive delivery mechanics (every first firing pings): quiet activation and
            # the ping budget have their own tests (tests/alerts/test_guardrails.py)
            "activation": {"quiet": False},
            "budget": {"per_recipient": 10_000, "per_channel": 10_000},
        },
        "routing": {"fallback_channel": FALLBACK},
        "digest": {"time": "09:00", "timezone": "America/New_York"},
    }
    for name, body in sections.items():
        raw[name] = {**raw.get(name, {}), **body}
    return load_alert_settings(raw)


def engine(
    state_url: str,
    slack_url: str,
    slack_token: str,
    clock: Any,
    hubspot_url: str | None = None,
    fast: bool = False,
    **sections: dict[str, Any],
) -> AlertEngine:
    state = StateStore(state_url)
    crm = hubspot_connector(hubspot_url, clock) if hubspot_url else None
    return AlertEngine(settings(**sections), state, slack_connector(slack_url, slack_token, clock, fast), crm)


def row(i: int, trigger: str = "seat_limit_approaching", value: float = 0.85, **extra: Any) -> dict[str, Any]:
    thresholds = {"seat_limit_approaching": 0.8, "storage_limit_approaching": 0.75, "api_limit_approaching": 0.7}
    priority = "high" if trigger in ("seat_limit_approaching", "rapid_seat_growth") else "medium"
    owners = list(OWNERS)
    return {
        "account_id": account(i),
        "account_name": f"Account {i}",
        "trigger": trigger,
        "priority": priority,
        "value": value,
        "threshold": thresholds.get(trigger, 0.8),
        "owner_email": owners[i % len(owners)],
        "segment": "mid-market",
        "tier": "escalate",
        **extra,
    }


def keys_in(emu: SlackEmulator, channel: str) -> list[str]:
    return [m["metadata"]["event_payload"]["key"] for m in emu.messages(channel) if "metadata" in m]


def all_keys(emu: SlackEmulator) -> list[str]:
    return [k for channel in list(emu.channels) for k in keys_in(emu, channel)]


def complete_task(emu: HubSpotEmulator, alert_key: str, when: dt.datetime, state: sa.Engine) -> bool:
    """Mark the alert's task completed, as a rep would; `state`: the alert state, which knows the key the
    task was created under (the alert key in its project: syncer.project)."""
    from syncer.alerts.outbox import task_keys

    [crm_key] = task_keys(state, [alert_key]).values()
    with emu.lock:
        obj = emu.store.find("tasks", "syncer_key", task_key(crm_key))
        if obj is None or obj.properties.get("hs_task_status") == "COMPLETED":
            return False
        emu.store.apply("tasks", obj, {"hs_task_status": "COMPLETED", "hs_task_completion_date": when.isoformat()})
        return True


def sqlite_url(tmp: Path, name: str = "state.sqlite") -> str:
    return f"sqlite:///{tmp / name}"
