"""A destination that refuses the credential of a connector built outside the sync runner (the alert engine's Slack
bot, 401 and missing scope, and its CRM for tasks; `alerts run`, `alerts run --dry-run`, `digest`, `alerts escalate`)
says what `check`, `plan` and `run` say (tests/cli/test_refused_credentials.py): one line naming
`connectors.<name>.<key>` and the ${VAR} to set, exit 2, no secret, nothing of that connector's marked delivered; the
same command with the right credential then delivers each message once.

Repro: a wrong SLACK_TOKEN made `syncer alerts run` print `error users.lookupByEmail: invalid_auth` (last session's
closing note: the alert factory had no refused() step).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.emulator import Fault
from tests.cli.test_delivery_exit_codes import overdue
from tests.daemon.test_alert_jobs import HS_TOKEN, SLACK_TOKEN, alert_project, fired_triggers
from tests.engine.conftest import SECRET, Project

DAY = dt.timedelta(hours=25)
WRONG = "wrong-credential-5519"
MISSING_SCOPE = {"ok": False, "error": "missing_scope"}
HIGH = ("acct-1", "seat_limit_approaching", "high", 0.9, 0.8, "ae1@example.com")
MEDIUM = ("acct-2", "api_limit_approaching", "medium", 0.8, 0.7, "ae2@example.com")


def syncer(project: Project, *args: str, **tokens: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(project.config)}
    env |= {"SLACK_TOKEN": SLACK_TOKEN, "HS_TOKEN": HS_TOKEN, **tokens}
    return subprocess.run([sys.executable, "-m", "syncer", *args], env=env, text=True, capture_output=True)


def digest_due_now(project: Project) -> None:
    """The digest at 00:00 UTC: due whenever the test runs (once per day, so never sent before the command)."""
    text = project.config.read_text().replace('time = "09:00"', 'time = "00:00"')
    project.config.write_text(text.replace('timezone = "America/New_York"', 'timezone = "UTC"'))


def queued_yesterday(project: Project) -> None:
    """The medium alert queued for the digest a day ago: today's (00:00) digest holds it."""
    engine = sa.create_engine(f"sqlite:///{project.root / 'data' / 'state.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alert_digest_queue SET queued_at = :at"), {"at": dt.datetime.now(dt.UTC) - DAY})
    engine.dispose()


def delivered(project: Project) -> None:
    done = syncer(project, "alerts", "run")
    assert done.returncode == 0, done.stderr


def outbox(project: Project) -> list[tuple[str, ...]]:
    """(kind, key, status) of every message and task the alert engine queued (none before the first command)."""
    path = project.root / "data" / "state.sqlite"
    if not path.exists():
        return []
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alert_outbox"):
                return []
            return [
                tuple(r) for r in conn.execute(sa.text("SELECT kind, key, status FROM alert_outbox ORDER BY kind, key"))
            ]
    finally:
        engine.dispose()


Before = Callable[[Project], None]
# (command, what happens first with the right credential, whether the command sends anything)
COMMANDS: dict[str, tuple[tuple[str, ...], list[Before], bool]] = {
    "alerts run": (("alerts", "run"), [], True),
    "alerts run --dry-run": (("alerts", "run", "--dry-run"), [], False),
    "digest": (("digest",), [digest_due_now, delivered, queued_yesterday], True),
    "alerts escalate": (("alerts", "escalate"), [delivered, overdue], True),
}


@dataclass(frozen=True)
class Refusal:
    """How a destination refuses, what the one line then says, and the outbox kinds that connector delivers."""

    wrong: dict[str, str]  # environment holding a wrong credential (a 401)
    fault: Callable[[SlackEmulator, HubSpotEmulator], None] | None  # makes the destination refuse (a 403)
    says: tuple[str, ...]
    kinds: tuple[str, ...]


SLACK = ("ping", "digest", "escalation")
REFUSALS = {
    "slack 401": Refusal({"SLACK_TOKEN": WRONG}, None, ("config.toml: connectors.slack.bot_token: slack refused the "
                         "credential", "set SLACK_TOKEN (environment variable"), SLACK),
    "slack 403": Refusal({}, lambda s, c: s.faults.add(Fault("status", status=200, body=MISSING_SCOPE, times=1000)),
                         ("config.toml: connectors.slack.bot_token: slack took the credential", "scope"), SLACK),
    "hubspot 401": Refusal({"HS_TOKEN": WRONG}, None, ("config.toml: connectors.hubspot.access_token: hubspot refused "
                           "the credential", "set HS_TOKEN (environment variable"), ("task", "task_priority")),
}  # fmt: skip
# the CRM is called by the commands that create or raise tasks
CASES = [(c, r) for c in COMMANDS for r in REFUSALS if r.startswith("slack") or c in ("alerts run", "alerts escalate")]


@pytest.mark.parametrize(("command", "refusal"), CASES, ids=[f"{c} / {r}" for c, r in CASES])
def test_a_refused_credential_of_an_alert_connector_names_the_setting_and_the_fix(
    project: Project, slack: SlackEmulator, crm: HubSpotEmulator, command: str, refusal: str
) -> None:
    args, before, sends = COMMANDS[command]
    refused = REFUSALS[refusal]
    alert_project(project, slack, crm)
    fired_triggers(project.warehouse_url, [HIGH, MEDIUM])
    for step in before:
        step(project)
    was = outbox(project)
    try:
        if refused.fault:
            refused.fault(slack, crm)
        done = syncer(project, *args, **refused.wrong)
    finally:
        slack.faults.clear()
        crm.faults.clear()
    shown = f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, shown
    assert all(part in lines[0] for part in refused.says), shown
    assert not any(t in done.stdout + done.stderr for t in (WRONG, SLACK_TOKEN, HS_TOKEN)), shown
    mine = [r for r in outbox(project) if r[2] == "delivered" and r[0] in refused.kinds]
    assert mine == [r for r in was if r[2] == "delivered" and r[0] in refused.kinds], shown  # none went out
    again = syncer(project, *args)  # the credential fixed: the command does its work, each message once
    assert again.returncode == 0, again.stderr
    sent = [r for r in outbox(project) if r[2] == "delivered"]
    assert len(sent) == len({r[:2] for r in sent}), sent
    assert any(r not in was for r in sent) == sends, (sent, was)
