"""Shared set-up for the tier tests: the alert engine with Slack, HubSpot, email (SMTP) and webhook channels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr
from syncer_connectors.email.connector import EmailConnector, EmailSettings
from syncer_connectors.webhook.connector import WebhookConnector, WebhookSettings

from syncer.alerts import AlertEngine
from syncer.connector import Destination
from syncer.retry import no_wait
from syncer.state import StateStore
from tests.alerts.support import hubspot_connector, settings, slack_connector

SECRET = "tier-webhook-secret"
SDR_QUEUE = "sdr-queue@example.com"
CRM_URL = "https://crm.example.com/accounts/{account_id}"


def email_connector(smtp: dict[str, Any]) -> EmailConnector:
    """smtp: {"port", "security" (none), "ca_bundle", "username", "password"} of a loopback server."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": smtp["port"],
        "security": smtp.get("security", "none"),
        "from_address": "Syncer <alerts@example.com>",
        "rate": 1000,
        "timeout": 5,
        "ehlo_name": "syncer.test",
    }
    if smtp.get("ca_bundle"):
        values["ca_bundle"] = Path(smtp["ca_bundle"])
    if smtp.get("username"):
        values.update(username=smtp["username"], password=SecretStr(smtp["password"]))
    return EmailConnector(EmailSettings(**values), retry=no_wait())


def webhook_connector(url: str) -> WebhookConnector:
    hook = WebhookSettings(url=url, signing_secret=SecretStr(SECRET))
    return WebhookConnector(hook, Destination("pql_action", "key", "upsert"), retry=no_wait())


def tier_engine(
    state_url: str,
    slack_url: str,
    slack_token: str,
    clock: Any,
    *,
    hubspot_url: str | None = None,
    smtp: dict[str, Any] | None = None,
    hooks: dict[str, str] | None = None,
    project: str | None = None,
    **sections: Any,
) -> AlertEngine:
    alerts = {"email": "email" if smtp else None, "crm_url": CRM_URL, **sections.pop("alerts", {})}
    return AlertEngine(
        settings(alerts=alerts, **sections),
        StateStore(state_url, project=project),  # project: `[syncer] project` (None: the state's own id)
        slack_connector(slack_url, slack_token, clock, fast=True),
        hubspot_connector(hubspot_url, clock) if hubspot_url else None,
        email=email_connector(smtp) if smtp else None,
        webhooks={name: webhook_connector(url) for name, url in (hooks or {}).items()},
    )
