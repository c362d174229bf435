"""Every command that delivers something exits 1 when a delivery failed or was rejected (README "Exit codes": 1 =
records failed, were rejected or are held back), and 0 when everything arrived (adv6 #4: `alerts run` with Slack
failing exited 0 with ping_failed 1, with 8 tasks rejected exited 0; `alerts escalate` printed "escalated 30" and
exited 0 with Slack down). The CLI runs in-process on the Slack and HubSpot emulators; a failure is a 429 whose
Retry-After (1 h) is longer than a run waits (the rows stay failed, nothing sleeps), a rejection Slack's
`invalid_blocks` or a task for an account the CRM does not have."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.emulator import Fault
from tests.daemon.test_alert_jobs import HS_TOKEN, SLACK_TOKEN, alert_project, fired_triggers
from tests.engine.conftest import Project

POST = r"chat\.postMessage"
HIGH = ("acct-1", "seat_limit_approaching", "high", 0.9, 0.8, "ae1@example.com")
NO_COMPANY = ("acct-77", "seat_limit_approaching", "high", 0.9, 0.8, "ae2@example.com")  # not in the CRM


def slack_failing(slack: SlackEmulator) -> None:
    slack.faults.add(Fault("status", path=POST, status=429, retry_after=3600, times=100))


def slack_rejecting(slack: SlackEmulator) -> None:
    slack.faults.add(Fault("status", path=POST, status=200, body={"ok": False, "error": "invalid_blocks"}, times=100))


def overdue(project: Project) -> None:
    """Every open alert opened 25 h ago: past the 24 h SLA, so `alerts escalate` escalates it."""
    engine = sa.create_engine(f"sqlite:///{project.root / 'data' / 'state.sqlite'}")
    day_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alerts SET opened_at = :at"), {"at": day_ago})
    engine.dispose()


Step = Callable[[Project, SlackEmulator], None]
CASES: list[tuple[str, list[Any], list[Step], tuple[str, ...], int, str]] = [
    # (case, fired rows, what happens before the command, command, exit code, stdout says)
    ("run: all delivered", [HIGH], [], ("alerts", "run", "--json"), 0, '"pings": 1'),
    ("run: ping failed", [HIGH], [lambda p, s: slack_failing(s)], ("alerts", "run", "--json"), 1, '"ping_failed": 1'),
    (
        "run: ping rejected",
        [HIGH],
        [lambda p, s: slack_rejecting(s)],
        ("alerts", "run", "--json"),
        1,
        '"ping_rejected": 1',
    ),
    ("run: task rejected", [NO_COMPANY], [], ("alerts", "run", "--json"), 1, '"task_rejected": 1'),
    (
        "escalate: delivered",
        [HIGH],
        [lambda p, s: p.cli("alerts", "run"), lambda p, s: overdue(p)],
        ("alerts", "escalate"),
        0,
        "escalation messages delivered 1 (failed 0",
    ),
    (
        "escalate: message failed",
        [HIGH],
        [lambda p, s: p.cli("alerts", "run"), lambda p, s: overdue(p), lambda p, s: slack_failing(s)],
        ("alerts", "escalate"),
        1,
        "escalation messages delivered 0 (failed 1",
    ),
    ("digest: nothing due", [HIGH], [], ("digest",), 0, ""),
]


@pytest.mark.parametrize(("case", "rows", "before", "args", "code", "says"), CASES, ids=[c[0] for c in CASES])
def test_a_command_that_delivers_exits_1_when_a_delivery_did_not_arrive(
    project: Project, receiver: WebhookReceiver, slack: SlackEmulator, crm: HubSpotEmulator,
    case: str, rows: list[Any], before: list[Step], args: tuple[str, ...], code: int, says: str,
) -> None:  # fmt: skip
    alert_project(project, slack, crm)
    project.env.update(SLACK_TOKEN=SLACK_TOKEN, HS_TOKEN=HS_TOKEN)
    fired_triggers(project.warehouse_url, rows)
    try:
        for step in before:
            step(project, slack)
        got, stdout, stderr = project.cli(*args)
    finally:
        slack.faults.clear()
    shown = stdout if isinstance(stdout, str) else __import__("json").dumps(stdout)
    assert (got, says in shown) == (code, True), (case, got, stdout, stderr)
    assert ("not delivered" in stderr) == (code == 1), (case, stderr)
