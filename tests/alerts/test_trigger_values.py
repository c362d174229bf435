"""One formatter for a trigger value everywhere a person reads it (syncer.trigger_values.value_words): the same
alert read 32% in Slack, 0.333 on the dashboard and 1.58 in a task body. Each row is a surface; each alert a unit
(ratio, count, multiple). The dashboard's rows are checked against the same function in
tests/outcomes/test_report_io.py, and in Chromium by tests/browser/dashboard.mjs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from syncer_connectors.email.render import render_alert_email, render_digest_email
from syncer_connectors.slack import playbook
from syncer_connectors.slack.blocks import render_alert, render_digest

from syncer.alerts.tasks import task_text
from syncer.trigger_values import format_value, unit_of, value_words

# trigger, value, threshold -> value and threshold as read
ALERTS = {
    "ratio": ("high_engagement_growth", 0.333, 0.3, "33%", "30%"),
    "count": ("advanced_features_power_users", 5, 3, "5", "3"),
    "multiple": ("usage_spike", 1.5789, 1.5, "1.6x", "1.5x"),
    "ratio, not in Slack's playbook": ("engagement_milestone", 0.875, 0.8, "88%", "80%"),
}


def _alert(kind: str) -> dict[str, Any]:
    trigger, value, threshold, _, _ = ALERTS[kind]
    return {"account_id": "acc_1", "account_name": "Quartz Studios 445", "trigger": trigger, "priority": "high",
            "value": value, "threshold": threshold, "owner_email": "sara@example.com", "owner_slack_id": "U0SARA",
            "fired_at": "2026-11-29T13:00:00+00:00"}  # fmt: skip


SURFACES: dict[str, Callable[[dict[str, Any]], str]] = {
    "slack ping": lambda a: json.dumps(render_alert(a), ensure_ascii=False),
    "slack digest": lambda a: json.dumps(render_digest("U0SARA", [a]), ensure_ascii=False),
    "alert email": lambda a: "\n".join(render_alert_email(a)),
    "email digest": lambda a: "\n".join(render_digest_email("sara@example.com", [a])),
    "crm task (with the playbook)": lambda a: "\n".join(task_text(a, playbook)),
    "crm task (plain)": lambda a: "\n".join(task_text(a)),
}


@pytest.mark.parametrize("kind", sorted(ALERTS))
@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_a_trigger_value_reads_the_same_everywhere(surface: str, kind: str) -> None:
    _, value, _, shown, threshold = ALERTS[kind]
    text = SURFACES[surface](_alert(kind))
    assert shown in text and f"threshold {threshold}" in text, (surface, kind, text[:600])
    if not float(value).is_integer():
        assert str(value) not in text, (surface, kind)  # never the raw number beside the formatted one


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0.333, "ratio", "33%"),
        (0.3, "ratio", "30%"),
        (1.0, "ratio", "100%"),
        (1204, "count", "1,204"),
        (2.5, "count", "2.50"),
        (1.5789, "multiple", "1.6x"),
        (None, "ratio", "n/a"),
        (float("nan"), "count", "n/a"),
        ("high", "count", "high"),
    ],
)
def test_format_value(value: Any, unit: str, shown: str) -> None:
    assert format_value(value, unit) == shown


def test_unit_of_a_row_wins_then_the_trigger_then_count() -> None:
    assert unit_of("usage_spike") == "multiple" and unit_of("Seat limit approaching") == "ratio"
    assert unit_of("seat_limit_90") == "ratio"  # a variant of a known trigger
    assert unit_of("usage_spike", "ratio") == "ratio" and unit_of("custom_thing") == "count"
    assert value_words(0.5, "custom_thing", "ratio") == "50%"
