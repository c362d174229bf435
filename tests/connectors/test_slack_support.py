"""Shared set-up for the Slack tests: an emulated workspace and a connector on a fake clock."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from syncer_connectors.slack.connector import SlackConnector, SlackSettings
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.connector import Record
from syncer.ratelimit import RateLimiter
from syncer.retry import RetryPolicy, no_wait

ALERTS = "C0ALERTS"


def workspace(emu: SlackEmulator, clock: Any) -> SlackEmulator:
    """A fresh workspace on a running emulator (restarting the server per test costs 0.5 s)."""
    emu.reset(clock)
    emu.add_channel(ALERTS, "alerts")
    emu.add_channel("C0OUTSIDE", "outside", member=False)
    emu.add_channel("C0OLD", "old", archived=True)
    emu.add_user("U0ANNA", "anna@example.com")
    return emu


def connector(emu: SlackEmulator, clock: Any, retry: RetryPolicy | None = None, **kw: Any) -> SlackConnector:
    config = SlackSettings(
        base_url=emu.api_url,
        bot_token=SecretStr(kw.pop("token", emu.token)),
        fallback_channel=ALERTS,
        **kw,
    )
    limiter = RateLimiter(SlackConnector.rate_limit, clock=clock, sleep=clock.sleep)
    return SlackConnector(config, retry=retry or no_wait(), limiter=limiter, clock=clock, sleep=clock.sleep)


def message(key: str, channel: str = ALERTS, text: str = "hello", **fields: Any) -> Record:
    return Record(
        key=key,
        op="upsert",
        fields={"channel": channel, "text": text, **fields},
        fingerprint=f"fp-{key}",
        idempotency_key=f"fp-{key}",  # the identity Slack finds a message by (as alerts.outbox.message_record)
    )


def keys_in(emu: SlackEmulator, channel: str) -> list[str]:
    return [m["metadata"]["event_payload"]["key"] for m in emu.messages(channel) if "metadata" in m]
