"""The channel, recipient and tier-action configuration: validated at start-up, every problem with its key."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.alerts.actions import plan_for
from syncer.alerts.model import check_connectors, load_alert_settings
from syncer.errors import ConfigError

CONNECTORS = {"slack": "slack", "hubspot": "hubspot", "mail": "email", "inapp": "webhook"}
GOOD: dict[str, Any] = {
    "alerts": {
        "email": "mail",
        "tasks": {"connector": "hubspot"},
        "recipients": {"Owner@X.com": {"prefer": "email"}},
        "email_delivery": {"in_doubt": "resend", "max_attempts": 5},
    },
    "routing": {"channel": "slack", "rules": [{"trigger": "seat_limit_approaching", "channel": "both"}]},
    "actions": {
        "monitor": {"webhook": "inapp", "notify": "none"},
        "nurture": {"sdr_task": {"owner": "sdr@x.com"}},
        "escalate": {"notify": "ping", "crm_task": True},
        "by_priority": {"high": "escalate", "medium": "nurture", "low": "monitor"},
    },
}


def test_a_full_configuration_loads_with_the_seed_slas() -> None:
    settings = load_alert_settings(GOOD)
    check_connectors(settings, CONNECTORS)
    assert settings.alerts.preference("owner@x.com").prefer == "email"  # type: ignore[union-attr]
    slas = {t: plan_for(settings.actions, {"tier": t}, 24).sla_hours for t in ("monitor", "nurture", "escalate")}
    assert slas == {"monitor": 1.0, "nurture": 48.0, "escalate": 24.0}
    untiered = plan_for(settings.actions, {"priority": "low"}, 24)
    assert untiered.tier == "monitor" and untiered.actions("none", False) == ["webhook"]
    legacy = plan_for(load_alert_settings({}).actions, {"priority": "high"}, 24)
    assert legacy.config is None and legacy.actions("ping", True) == ["notify", "task"] and legacy.sla_hours == 24


def test_every_problem_is_reported_with_its_key() -> None:
    with pytest.raises(ConfigError) as err:
        load_alert_settings(
            {
                "routing": {"channel": "fax", "rules": [{"email_to": "not-an-address"}]},
                "alerts": {"recipients": {"a@x.com": {"prefer": "pigeon"}}},
                "actions": {"monitor": {"sla_hours": 0, "webhok": "x"}, "by_priority": {"urgent": "escalate"}},
            }
        )
    keys = {issue.key for issue in err.value.issues}
    assert {
        "routing.channel",
        "routing.rules.0.email_to",
        "alerts.recipients.a@x.com.prefer",
        "actions.monitor.sla_hours",
        "actions.monitor.webhok",
        "actions.by_priority",
    } <= keys, keys


def test_connectors_named_by_channels_and_actions_must_exist() -> None:
    raw = {**GOOD, "alerts": {**GOOD["alerts"], "tasks": None, "email": "smtp"}}
    raw["alerts"].pop("tasks")
    settings = load_alert_settings(
        {**raw, "actions": {"monitor": {"webhook": "nowhere"}, "nurture": {"crm_task": True}}}
    )
    with pytest.raises(ConfigError) as err:
        check_connectors(settings, CONNECTORS)
    keys = {issue.key for issue in err.value.issues}
    assert keys == {"alerts.email", "actions.monitor.webhook", "actions.nurture"}, keys
    no_email = load_alert_settings({"alerts": {"recipients": {"a@x.com": {"prefer": "email"}}}})
    with pytest.raises(ConfigError, match="no email connector"):
        check_connectors(no_email, CONNECTORS)
