"""`syncer check` contacts the connectors no sync uses, as a user runs it (a process): the alert engine's
(`[alerts] slack`, `[actions.<tier>] webhook`: alerts, digests, escalation) and the ops alerts' Slack bot.
Repro: a Slack bot token revoked, or a tier webhook pointing nowhere, passed `check` (exit 0) and failed
at the first alert. Each such connector is named by the config key that uses it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from syncer_connectors.slack.emulator import SlackEmulator
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.conftest import free_port
from tests.engine.conftest import Project, create_accounts


def _project(
    tmp_path: Path, receiver: WebhookReceiver, slack: SlackEmulator | None, token_ok: bool, tier_up: bool, extra: str
) -> Project:
    """The engine's project (one sync on the webhook receiver), a slack connector on the emulator (None: on a
    port where nothing listens) with its token or a revoked one, and a webhook connector `tierhook` no sync uses
    (up or down)."""
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    create_accounts(url, 3)
    token = slack.token if slack is not None and token_ok else "xoxb-revoked-token"
    project = Project(tmp_path, url, hook_url=f"{receiver.base_url}/hooks", env={"SLACK_BOT_CHECK": token})
    project.write()
    slack_url = slack.api_url if slack is not None else _dead()
    tier_url = f"{receiver.base_url}/hooks" if tier_up else f"{_dead()}hooks"
    project.config.write_text(
        project.config.read_text()
        + f'\n[connectors.slack]\ntype = "slack"\nbase_url = "{slack_url}"\nbot_token = "${{SLACK_BOT_CHECK}}"\n'
        + f'\n[connectors.tierhook]\ntype = "webhook"\nurl = "{tier_url}"\n'
        + 'signing_secret = "${HOOK_SECRET}"\n'
        + extra
    )
    return project


def _dead() -> str:
    return f"http://127.0.0.1:{free_port()}/"


ALERTS = "\n[alerts]\n"
TIER = '\n[actions.pql_hot]\nwebhook = "tierhook"\n'
OPS = '\n[daemon]\nops_alert_channel = "C0OPSALRT"\n'
REVOKED = "config.toml: connectors.slack.bot_token: slack refused the credential ("  # the file and key to edit
UNREACHABLE = "destination not reachable at http://127.0.0.1:"


@dataclass(frozen=True)
class Case:
    extra: str  # config.toml sections added
    expect: tuple[str, ...]  # problem lines on stderr (exit 2), or answered lines on stdout (exit 0)
    slack: str = "up"  # "up", "revoked" (the emulator refuses its token), "down" (nothing listens)
    tier_up: bool = True
    absent: str | None = None  # never on stdout or stderr


CASES = {
    "alerts: slack answers": Case(ALERTS, ("connector 'slack' answered (alerts.slack)",)),
    "alerts: slack token revoked": Case(ALERTS, (f"problem connector 'slack' (alerts.slack): {REVOKED}",), "revoked"),
    "a tier's webhook is down": Case(
        ALERTS + TIER, (f"problem connector 'tierhook' (actions.pql_hot.webhook): {UNREACHABLE}",), tier_up=False
    ),
    "a tier's webhook answers": Case(ALERTS + TIER, ("connector 'tierhook' answered (actions.pql_hot.webhook)",)),
    "ops alerts: slack token revoked": Case(
        OPS, (f"problem connector 'slack' (daemon.ops_alert_slack): {REVOKED}",), "revoked"
    ),
    "no [alerts]: slack is used by nothing": Case(
        "", ("connector 'hook' answered (sync accounts)",), "down", absent="'slack'"
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_check_contacts_the_connectors_only_alerts_use(
    tmp_path: Path, receiver: WebhookReceiver, slack: SlackEmulator, case: str
) -> None:
    c = CASES[case]
    project = _project(tmp_path, receiver, None if c.slack == "down" else slack, c.slack == "up", c.tier_up, c.extra)
    proc = project.subprocess("check")
    out, err = proc.communicate(timeout=120)
    err = re.sub(r"/\S*/config\.toml", "config.toml", err)  # the project's folder
    shown = f"exit {proc.returncode}\nstdout: {out}\nstderr: {err}"
    problems = any(line.startswith("problem") for line in c.expect)
    assert proc.returncode == (2 if problems else 0) and "Traceback" not in err, shown
    for line in c.expect:
        assert any(line in said for said in (err if problems else out).splitlines()), shown
    assert c.absent is None or c.absent not in out + err, shown
