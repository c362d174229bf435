"""The CLI tests use the engine's project folder (warehouse, config.toml, mappings) and webhook receiver,
and the daemon alert tests' Slack and HubSpot emulators."""

from tests.daemon.test_alert_jobs import crm, slack, slack_server
from tests.engine.conftest import project, receiver

__all__ = ["crm", "project", "receiver", "slack", "slack_server"]
