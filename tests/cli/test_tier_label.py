"""The tier the alert reports group by is the tier whose actions ran, and they say so (adv6 #9): without a configured
`[actions.<tier>]` it is `by_priority[priority]`, so an account whose warehouse PQL tier is `escalate` can be listed
under `nurture`; `alerts --wide` and `alerts sla` headed that column "PQL tier". Each report must head it "action
tier" and show the mapped tier, and no column may claim to be the PQL tier."""

from __future__ import annotations

import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.daemon.test_alert_jobs import HS_TOKEN, SLACK_TOKEN, alert_project, fired_triggers
from tests.engine.conftest import Project

# fired_triggers writes tier 'escalate' (the warehouse's PQL tier) on every row
ROWS = [("acct-1", "seat_limit_approaching", "high", 0.9, 0.8, "ae1@example.com")]
MAPPED = '\n[actions]\nby_priority = { high = "nurture", medium = "nurture", low = "monitor" }\n'  # no tier configured
REPORTS = [("alerts", "list", "--wide"), ("alerts", "sla")]


@pytest.mark.parametrize("args", REPORTS, ids=[" ".join(a) for a in REPORTS])
def test_reports_name_the_action_tier_not_the_pql_tier(
    project: Project, receiver: WebhookReceiver, slack: SlackEmulator, crm: HubSpotEmulator, args: tuple[str, ...]
) -> None:
    alert_project(project, slack, crm)
    project.config.write_text(project.config.read_text() + MAPPED)
    project.env.update(SLACK_TOKEN=SLACK_TOKEN, HS_TOKEN=HS_TOKEN, COLUMNS="400")
    fired_triggers(project.warehouse_url, ROWS)
    assert project.cli("alerts", "run")[0] == 0
    code, stdout, stderr = project.cli(*args)
    assert code == 0, (args, stdout, stderr)
    assert "PQL tier" not in stdout and "action tier" in stdout, stdout
    assert "nurture" in stdout and "escalate" not in stdout.replace("escalat", "-"), stdout  # the mapped tier
