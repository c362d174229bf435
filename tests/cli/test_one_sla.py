"""One SLA for a high alert (adv9w #4): `[alerts] sla_hours` (what `alerts escalate` honours) and `[outcomes]
sla_hours.high` (what `alerts sla`, `report --json` and the dashboard show) are the same promise, read through
`outcomes.model.high_sla_hours`. With `[alerts] sla_hours = 0.02` the "worked" table said `high SLA (h) 24.0`."""

from __future__ import annotations

import re

import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.alerts.model import load_alert_settings
from syncer.cli.alerts import _cell
from syncer.config import load_config
from syncer.errors import ConfigError
from syncer.outcomes.model import load_outcome_settings
from tests.cli.test_command_actions import World
from tests.daemon.test_alert_jobs import HS_TOKEN, SLACK_TOKEN, alert_project, fired_triggers
from tests.engine.conftest import SECRET, Project

# ([alerts] sla_hours, [outcomes] sla_hours, the high SLA every reader must use; None: a config error, exit 2)
CASES = [
    ("0.02", None, 0.02),  # the adversary's case: escalation's hours, shown as they are
    (None, "{ high = 6, medium = 48, low = 168 }", 6.0),  # only the report's: escalation honours it too
    ("12", "{ medium = 48 }", 12.0),  # the report's table without high: escalation's hours fill it
    ("8", "{ high = 8.0, medium = 48, low = 168 }", 8.0),  # the same value twice is one value
    (None, None, 24.0),  # neither: both defaults are 24
    ("0.02", "{ high = 24, medium = 48, low = 168 }", None),  # two different promises: refused, naming both
]


def _configure(world: World, alerts_hours: str | None, outcomes_hours: str | None) -> None:
    text = re.sub(r"(?m)^sla_hours = .*\n|^\[outcomes\]\n", "", world.project.config.read_text())
    if alerts_hours is not None:
        text = text.replace("[alerts]\n", f"[alerts]\nsla_hours = {alerts_hours}\n")
    if outcomes_hours is not None:
        text += f"\n[outcomes]\nsla_hours = {outcomes_hours}\n"
    world.project.config.write_text(text)


@pytest.fixture
def world(project: Project, receiver: WebhookReceiver, slack: SlackEmulator, crm: HubSpotEmulator) -> World:
    alert_project(project, slack, crm)
    fired_triggers(project.warehouse_url, [("acct-1", "seat_limit_approaching", "high", 0.9, 0.8, "ae1@example.com")])
    world = World(project, receiver, slack, crm)
    code, out, err = world.syncer("alerts", "run")
    assert code == 0, (out, err)
    return world


def test_every_reader_uses_the_one_high_sla(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("HOOK_SECRET", SECRET), ("SLACK_TOKEN", SLACK_TOKEN), ("HS_TOKEN", HS_TOKEN)):
        monkeypatch.setenv(name, value)
    for alerts_hours, outcomes_hours, want in CASES:
        _configure(world, alerts_hours, outcomes_hours)
        config = load_config(world.project.config)
        if want is None:
            with pytest.raises(ConfigError) as refused:
                load_alert_settings(config.raw)
            assert [i.key for i in refused.value.issues] == ["alerts.sla_hours"], refused.value
            assert "outcomes.sla_hours.high is 24 h" in str(refused.value)
            continue
        # what `alerts escalate` reads, and what `alerts sla`, the report, the dashboard and the canary read (all
        # through load_outcome_settings: tests/outcomes/test_one_set_of_numbers holds them to one another)
        assert load_alert_settings(config.raw).alerts.sla_hours == want, (alerts_hours, outcomes_hours)
        assert load_outcome_settings(config.raw).outcomes.sla_hours["high"] == want, (alerts_hours, outcomes_hours)
    # as processes: the adversary's case and the refusal
    _configure(world, "0.02", None)
    code, out, err = world.syncer("alerts", "sla", "--json")
    assert code == 0 and out["worked"]["high"]["sla_hours"] == 0.02, (out, err)
    assert [_cell(h) for h in (0.02, 0.005, 24.0, 0.0)] == ["0.02", "0.005", "24.0", "0.0"]  # the table: not "0.0"
    _configure(world, "0.02", "{ high = 24, medium = 48, low = 168 }")
    code, out, err = world.syncer("alerts", "escalate")
    assert code == 2 and "alerts.sla_hours: 0.02 h here but outcomes.sla_hours.high is 24 h" in err, (out, err)
