"""Every place that renders text a rep reads - Slack ping and digest, alert and digest email, Salesforce
and HubSpot task - shows numbers as people read them, the trigger's human name, the playbook line, no
internal words (trigger ids, alert keys, "seed 002") and no raw floats. One table, every renderer."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from syncer_connectors.email import render as email_render
from syncer_connectors.slack import blocks, playbook

from syncer.alerts.tasks import task_fields

ALERT: dict[str, Any] = {
    "alert_id": "acct-00042:seat_limit_approaching:20260302T080000Z",
    "account_id": "acct-00042",
    "account_name": "Acme Corp",
    "trigger": "seat_limit_approaching",
    "priority": "high",
    "value": 0.8214285714285714,
    "previous_value": 0.7857142857142857,
    "threshold": 0.8,
    "owner_email": "ae1@example.com",
    "fired_at": "2026-03-02T08:00:00+00:00",
    "context": {"context": "seats_used=33 seat_limit=40", "mrr": 1234.5},
}
PLAYBOOK = playbook.TRIGGERS["seat_limit_approaching"].playbook


def _slack_ping(alert: dict[str, Any]) -> str:
    text, rendered = blocks.render_alert(alert)
    return text + json.dumps(rendered)


def _slack_digest(alert: dict[str, Any]) -> str:
    return json.dumps(blocks.render_digest("U0AE1", [alert, {**alert, "digest_section": "deferred"}]))


def _email(alert: dict[str, Any]) -> str:
    return " ".join(email_render.render_alert_email(alert))


def _email_digest(alert: dict[str, Any]) -> str:
    return " ".join(email_render.render_digest_email("ae1@example.com", [alert]))


def _task(kind: str) -> Callable[[dict[str, Any]], str]:
    return lambda alert: json.dumps(task_fields(kind, alert, dt.date(2026, 3, 3), words=playbook))


RENDERERS = {
    "slack ping": (_slack_ping, True),
    "slack digest": (_slack_digest, True),
    "alert email": (_email, True),
    "digest email": (_email_digest, True),
    "salesforce task": (_task("salesforce"), True),
    "hubspot task": (_task("hubspot"), True),
}


@pytest.mark.parametrize("where", sorted(RENDERERS))
def test_text_a_rep_acts_on(where: str) -> None:
    render, shows_playbook = RENDERERS[where]
    text = render(dict(ALERT))
    for internal in ("0.8214", "0.7857", "seat_limit_approaching", "seed 00", "acct-00042:", "20260302T"):
        assert internal not in text, (where, internal)
    assert "82%" in text and "Seat limit approaching" in text, where
    assert "Acme Corp" in text, where
    if where not in ("slack digest", "digest email"):  # per-alert messages carry the size and the playbook
        assert "82% of 40 seats" in text and "(threshold 80%)" in text, where
    if shows_playbook:
        assert PLAYBOOK.replace("'", "\\u2019")[:20] in text or PLAYBOOK[:20] in text or "Lead with" in text, where


def test_task_says_the_trend_and_the_playbook() -> None:
    fields = task_fields("hubspot", dict(ALERT), dt.date(2026, 3, 3), words=playbook)
    print("\n" + fields["subject"] + "\n" + fields["body"])
    assert fields["subject"] == "Seat limit approaching: Acme Corp"
    assert "Now 82% of 40 seats (threshold 80%); up from 79% (+4 pts)." in fields["body"]
    assert f"Playbook: {PLAYBOOK}" in fields["body"]
