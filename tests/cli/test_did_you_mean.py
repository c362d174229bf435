"""Every "unknown X" / "no X named" that has a list of valid values says the closest one (`config._did_you_mean`):
a connector type (`type = "hubspt"`), a job in `[daemon.<job>]` and `after = [...]`, the connectors [alerts],
[alerts.tasks], [actions] and [daemon] name, a priority in [actions.by_priority], an IANA time zone (schedules, the
digest, a mapping field's `tz`), a PQL factor. Last session's closing note: `type = "hubspt"` said only `unknown
connector 'hubspt' (available: email, hubspot, ...)`.

Each row edits one valid project (the alert engine's: a webhook sync, Slack, HubSpot tasks, a [daemon]) and runs
`syncer check` as a process: exit 2, one line naming the key, and the hint.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from tests.daemon.test_alert_jobs import HS_TOKEN, SLACK_TOKEN, alert_project
from tests.engine.conftest import SECRET, Project

# (what is mistyped, file, text replaced ("" appends), by what, the key named, the hint)
CASES = [
    ("connector type", "config.toml", 'type = "hubspot"', 'type = "hubspt"', "connectors.hubspot.type", "'hubspot'"),
    ("[alerts] slack", "config.toml", 'slack = "slack"\n', 'slack = "slakc"\n', "alerts.slack", "'slack'"),
    ("[alerts.tasks] connector", "config.toml", 'connector = "hubspot"', 'connector = "hubspto"',
     "alerts.tasks.connector", "'hubspot'"),
    ("[actions.<tier>] webhook", "config.toml", "", '[actions.escalate]\nwebhook = "hoook"\n',
     "actions.escalate.webhook", "'hook'"),
    ("[daemon] ops_alert_slack", "config.toml", 'ops_alert_channel = "C0OPS"',
     'ops_alert_channel = "C0OPS"\nops_alert_slack = "slakc"', "daemon.ops_alert_slack", "'slack'"),
    ("[daemon.<job>]", "config.toml", "", "[daemon.alrets]\nevery_minutes = 5\n", "daemon.alrets", "'alerts'"),
    ("a job's after", "config.toml", "", '[daemon.digest]\nevery_minutes = 5\nafter = ["alrets"]\n',
     "daemon.digest.after", "'alerts'"),
    ("a sync's after", "mappings/accounts.toml", "every_minutes = 5", 'every_minutes = 5\nafter = ["digets"]',
     "schedule.after", "'digest'"),
    ("a schedule's time zone", "config.toml", "", '[daemon.report]\nevery_minutes = 5\ntimezone = "Europe/Berln"\n',
     "daemon.report.timezone", "'Europe/Berlin'"),
    ("the digest's time zone", "config.toml", 'timezone = "America/New_York"', 'timezone = "America/New_Yrok"',
     "digest.timezone", "'America/New_York'"),
    ("a field's time zone", "mappings/accounts.toml", 'name = "name"',
     'name = "name"\nupdated = { column = "name", tz = "Asia/Tokio" }', "fields.updated.tz", "'Asia/Tokyo'"),
    ("[actions.by_priority]", "config.toml", "", '[actions.by_priority]\nhihg = "escalate"\n', "actions.by_priority",
     "'high'"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "file", "old", "new", "key", "meant"), CASES, ids=[c[0] for c in CASES])
def test_an_unknown_name_says_the_closest_valid_one(
    project: Project, slack: SlackEmulator, crm: HubSpotEmulator,
    what: str, file: str, old: str, new: str, key: str, meant: str,
) -> None:  # fmt: skip
    alert_project(project, slack, crm)
    path = project.root / file
    text = path.read_text()
    assert not old or old in text, (what, old)
    path.write_text(text.replace(old, new, 1) if old else text + "\n" + new)
    env = {**os.environ, "HOOK_SECRET": SECRET, "SLACK_TOKEN": SLACK_TOKEN, "HS_TOKEN": HS_TOKEN}
    done = subprocess.run(
        [sys.executable, "-m", "syncer", "check"],
        env={**env, "SYNCER_CONFIG": str(project.config)},
        text=True,
        capture_output=True,
    )
    said = [line for line in done.stderr.splitlines() if f": {key}: " in line]
    assert done.returncode == 2 and "Traceback" not in done.stderr, (what, done.stderr)
    assert len(said) == 1 and f"(did you mean {meant}?)" in said[0], (what, done.stderr)


def test_a_pql_factor_name_says_the_closest() -> None:
    """[scoring.pql] factors: a mistyped factor is named with the one it most likely means."""
    from pydantic import ValidationError

    from syncer.scoring.model import PqlConfig, _default_factors

    factors = {("integrashuns" if name == "integrations" else name): f for name, f in _default_factors().items()}
    with pytest.raises(ValidationError) as raised:
        PqlConfig.model_validate({"factors": factors})
    assert "unknown 'integrashuns' (did you mean 'integrations'?)" in str(raised.value), str(raised.value)


def test_a_value_outside_a_picklist_says_the_closest_option() -> None:
    """A value a destination's picklist lacks is rejected with the option it most likely means (the row's reason)."""
    from syncer.values import FieldType, Refused, to_option

    tier = FieldType("enumeration", "HubSpot enumeration", options=frozenset({"Enterprise", "Growth", "Starter"}))
    with pytest.raises(Refused) as raised:
        to_option("Enterprize", tier)
    assert "(did you mean 'Enterprise'?)" in str(raised.value), str(raised.value)
