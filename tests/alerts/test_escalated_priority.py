"""Escalation raises a task's priority: the default created priority is below the escalated one, on
both CRMs, and a config where escalation could not raise anything is refused with its key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts.model import PRIORITY_RANK, load_alert_settings
from syncer.alerts.tasks import task_fields
from syncer.errors import ConfigError
from tests.alerts.support import T0, Clock, engine, row, sqlite_url

ALERT = {"alert_id": 7, "account_id": "a1", "trigger": "seat_limit_approaching", "priority": "high"}


@pytest.mark.parametrize(("connector", "field"), [("salesforce", "Priority"), ("hubspot", "priority")])
def test_default_created_priority_is_below_the_default_escalated_one(connector: str, field: str) -> None:
    settings = load_alert_settings({"alerts": {"tasks": {"connector": connector}}})
    fields = task_fields(connector, ALERT, dt.date(2026, 3, 2), priority=settings.alerts.tasks.priority)
    created = PRIORITY_RANK[str(fields[field]).lower()]
    assert created < PRIORITY_RANK[settings.alerts.escalated_priority.lower()]


@pytest.mark.parametrize(
    ("created", "escalated", "accepted"),
    [
        ("normal", "High", True),
        ("normal", "HIGH", True),
        ("low", "Normal", True),
        ("low", "MEDIUM", True),
        ("normal", "Urgent", True),  # an org's own picklist value: not ranked, not refused
        ("high", "High", False),
        ("normal", "Normal", False),
        ("normal", "MEDIUM", False),
        ("normal", "low", False),
    ],
)
def test_escalation_that_would_change_nothing_is_refused(created: str, escalated: str, accepted: bool) -> None:
    raw = {"alerts": {"tasks": {"connector": "hubspot", "priority": created}, "escalated_priority": escalated}}
    if accepted:
        load_alert_settings(raw)
        return
    with pytest.raises(ConfigError) as caught:
        load_alert_settings(raw)
    [issue] = caught.value.issues
    assert issue.key == "alerts" and "escalated_priority" in issue.message and "change nothing" in issue.message


def test_hubspot_task_is_created_medium_and_escalated_high(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, crm: HubSpotEmulator
) -> None:
    eng = engine(sqlite_url(tmp_path), slack.api_url, slack.token, fake, crm.base_url)
    report = eng.evaluate_and_deliver(T0, rows=[row(1)])
    assert report.tasks.sent.get("task") == 1
    [task] = crm.store.live("tasks")
    assert task.properties["hs_task_priority"] == "MEDIUM"
    key = task.properties["syncer_key"]

    eng.evaluate_and_deliver(T0 + dt.timedelta(hours=25), rows=[row(1)])
    escalated = eng.escalate(T0 + dt.timedelta(hours=25))
    assert escalated.priority_raised == 1
    [task] = crm.store.live("tasks")
    assert (task.properties["syncer_key"], task.properties["hs_task_priority"]) == (key, "HIGH")  # raised in place
