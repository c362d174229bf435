"""Where a person or a channel is meant, every renderer shows its name (or a Slack mention that Slack turns into
the name), never a raw channel id or an email address: the Slack digest heading and lines, the email alert and
digest, the escalation note, the CRM task text, and the "what landed" page's reading of Slack mrkdwn."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from syncer_connectors.email.render import render_alert_email, render_digest_email
from syncer_connectors.slack import playbook
from syncer_connectors.slack.blocks import render_alert, render_digest

from syncer.alerts.escalation import escalation_message
from syncer.alerts.tasks import task_text
from syncer.demo.landed import block_html

NAME, EMAIL, CHANNEL = "Dana Reyes", "owner7@example.com", "C0SYNCERALERTS"
# an owner who is not in Slack (no owner_slack_id): the alert model selects their name next to their email
ALERT = {
    "alert_id": "acc_000012:seat_limit_approaching:20260302T000000Z",
    "account_id": "acc_000012",
    "account_name": "Cedar Robotics 12",
    "trigger": "seat_limit_approaching",
    "priority": "high",
    "value": 0.86,
    "threshold": 0.8,
    "owner_email": EMAIL,
    "context": {"owner_name": NAME, "segment": "smb"},
    "fired_at": "2026-03-02T13:00:00+00:00",
}
MEDIUM = {**ALERT, "trigger": "storage_limit_approaching", "priority": "medium"}


def _slack(message: tuple[str, list[dict[str, object]]]) -> str:
    text, blocks = message
    return text + json.dumps(blocks)


SURFACES: dict[str, Callable[[], str]] = {
    "slack alert": lambda: _slack(render_alert(ALERT)),
    "slack digest to the fallback channel": lambda: "".join(_slack(m) for m in render_digest(CHANNEL, [MEDIUM])),
    "email alert": lambda: "\n".join(render_alert_email(ALERT)),
    "email digest": lambda: "\n".join(render_digest_email(EMAIL, [MEDIUM])[1:]),  # the body (To: is a header)
    "escalation note": lambda: json.dumps(escalation_message(*render_alert(ALERT), "C0ESC", "manager", 24, None, NAME)),
    "crm task": lambda: "\n".join(task_text(ALERT, playbook)),
}


@pytest.mark.parametrize("surface", SURFACES)
def test_people_and_channels_by_name(surface: str) -> None:
    text = SURFACES[surface]()
    assert EMAIL not in text and not re.search(rf"(?<![<#@]){CHANNEL}", text), text
    assert "acc_000012:" not in text  # no internal key either
    if surface != "crm task":  # a task is assigned to its owner in the CRM: its text does not name them
        assert NAME in text or f"<#{CHANNEL}>" in text, text


def test_the_email_digest_greets_its_owner_and_falls_back_to_no_name() -> None:
    _, text, html = render_digest_email(EMAIL, [MEDIUM])
    assert text.startswith(f"Hi {NAME}, your daily usage digest") and f"For {NAME}" in html
    anonymous = {**MEDIUM, "context": {}}  # the model selects no name: no greeting, and still no address
    _, text, html = render_digest_email(EMAIL, [anonymous])
    assert text.startswith("Your daily usage digest") and EMAIL not in text.splitlines()[0] and "For " not in html


def test_the_landed_page_shows_a_channel_mention_as_slack_does() -> None:
    (_, blocks), *_ = render_digest(CHANNEL, [MEDIUM])
    names = {CHANNEL: "syncer-alerts", "U0OWNER001": NAME}
    page = "".join(block_html(b, names, ZoneInfo("America/New_York")) for b in blocks)
    assert "#syncer-alerts" in page and CHANNEL not in page, page
