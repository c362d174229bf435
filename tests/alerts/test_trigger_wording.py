"""A trigger reads the same wherever a person reads it: Slack ping and digest, alert and digest email, the owner's
CRM task (with and without the Slack playbook's words), the SDR task and a tier webhook's `message` say
`syncer.wording.readable` ("API limit approaching"), as every table and the report do. Repro: an unknown
trigger `crm_sync_api_errors` pinged as "Crm sync api errors", a task without the playbook said "Api limit
approaching" and an SDR task "SDR outreach (nurture) - api limit approaching". JSON/machine fields (the webhook's
`trigger`) keep the key."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from syncer_connectors.slack import playbook

from syncer.alerts.actions import ActionPlan, TierActions, webhook_payload
from syncer.alerts.tasks import sdr_title, task_fields
from syncer.wording import readable, readable_title
from tests.alerts.test_rep_text import ALERT, RENDERERS

# trigger -> how a person reads it (a known trigger with an acronym, an unknown one with two)
TRIGGERS = {
    "api_limit_approaching": "API limit approaching",
    "crm_sync_api_errors": "CRM sync API errors",
    "pql_tier_jump": "PQL tier jump",
}


def _task_without_playbook(kind: str) -> Callable[[dict[str, Any]], str]:
    """The owner's task when the alert engine has no Slack playbook to borrow words from (tasks.task_text)."""
    return lambda alert: json.dumps(task_fields(kind, alert, dt.date(2026, 3, 3)))


def _sdr_task(alert: dict[str, Any]) -> str:
    sdr = {**alert, "trigger_title": sdr_title("nurture", alert["trigger"])}  # as the lifecycle builds it
    return json.dumps(task_fields("hubspot", sdr, dt.date(2026, 3, 3), words=playbook))


def _webhook_message(alert: dict[str, Any]) -> str:
    tier = TierActions(webhook="inapp", message="{account_name}: {trigger}")
    payload = webhook_payload({**alert, "alert_id": 7}, ActionPlan("monitor", tier, 1.0), dt.datetime(2026, 3, 2))
    assert payload["trigger"] == alert["trigger"]  # the machine field keeps the key
    return str(payload["message"])


SAID = {
    **{where: render for where, (render, _playbook) in RENDERERS.items()},
    "salesforce task, no playbook": _task_without_playbook("salesforce"),
    "hubspot task, no playbook": _task_without_playbook("hubspot"),
    "sdr task": _sdr_task,
    "webhook message": _webhook_message,
}


@pytest.mark.parametrize("trigger", sorted(TRIGGERS))
@pytest.mark.parametrize("where", sorted(SAID))
def test_a_trigger_reads_as_the_wording_says_everywhere(where: str, trigger: str) -> None:
    text = SAID[where]({**ALERT, "trigger": trigger})
    assert TRIGGERS[trigger] in text, (where, text)
    spaced = trigger.replace("_", " ")
    for wrong in (spaced, spaced.capitalize(), spaced.title()):  # the underscore-replacing renderings
        assert wrong not in text, (where, wrong, text)


@pytest.mark.parametrize("trigger", sorted(TRIGGERS))
def test_readable_title_is_readable_opening_a_title(trigger: str) -> None:
    assert readable_title(trigger) == TRIGGERS[trigger] == readable(trigger)
    assert readable_title("seat_limit_approaching") == "Seat limit approaching"
    assert readable("seat_limit_approaching") == "seat limit approaching" and readable_title("") == ""


def test_the_playbook_titles_are_the_wording() -> None:
    """The known triggers' titles are derived, not written twice (the report reads `readable` of the same key)."""
    for key, style in playbook.TRIGGERS.items():
        assert style.title == readable_title(key), key
