"""A free-text message in a table cell (a run's error, a rejection's reason, a delivery problem) is shown on one
line by its start and its length (`tables.brief`), with a note that `--json` gives it whole; piped, no line is
padded to the longest one. Last session's closing note: `syncer runs` piped, a 333-character out-of-sync message
widened every row to 420 columns.

Each row runs the CLI as a process, as a user does, after real runs (or alert deliveries) that leave the message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from rich.table import Table
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.emulator import Fault
from syncer.tables import MESSAGE, brief, print_table
from tests.daemon.test_alert_jobs import HS_TOKEN, SLACK_TOKEN, alert_project, fired_triggers
from tests.engine.conftest import SECRET, Project, create_accounts

WIDEST = 320  # columns: the widest table here (alerts --wide) is 190 before its message, which adds at most ~120
BAD = "(4, 'four', 'acct4.example.com', 'notanumber', 'monitor')"  # a score that is not a number: rejected
LONG_BAD = f"(4, 'four', 'acct4.example.com', '{'y' * 2000}', 'monitor')"  # its reason quotes 2,000 characters
HELD = "records held back (1 conversion): rejected earlier and unchanged since"  # the out_of_sync error's start
SLACK_DETAIL = "block 0: " + "text too long " * 40  # a Slack rejection's detail (560 characters)


def syncer(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(project.config), **project.env}
    return subprocess.run([sys.executable, "-m", "syncer", *args], env=env, text=True, capture_output=True)


def rejected(project: Project, slack: SlackEmulator, crm: HubSpotEmulator) -> None:
    """A run rejects row 4 (partial): the next run holds it back, status out_of_sync with a 333-character error."""
    create_accounts(project.warehouse_url, 3, extra_rows=BAD)
    syncer(project, "run", "accounts")


def held_back(project: Project, slack: SlackEmulator, crm: HubSpotEmulator) -> None:
    rejected(project, slack, crm)
    syncer(project, "run", "accounts")


def long_reason(project: Project, slack: SlackEmulator, crm: HubSpotEmulator) -> None:
    create_accounts(project.warehouse_url, 3, extra_rows=LONG_BAD)
    syncer(project, "run", "accounts")


def slack_refuses(project: Project, slack: SlackEmulator, crm: HubSpotEmulator) -> None:
    """One high-priority alert whose ping Slack rejects with a long detail (the --wide delivery problem)."""
    alert_project(project, slack, crm)
    project.env.update(SLACK_TOKEN=SLACK_TOKEN, HS_TOKEN=HS_TOKEN)
    fired_triggers(project.warehouse_url, [("acct-1", "seat_limit_approaching", "high", 0.9, 0.8, "ae1@example.com")])
    body = {"ok": False, "error": "invalid_blocks", "errors": [SLACK_DETAIL]}
    slack.faults.add(Fault("status", path=r"chat\.postMessage", status=200, body=body, times=100))
    syncer(project, "alerts", "run")


Setup = Callable[[Project, SlackEmulator, HubSpotEmulator], None]
# (display, what leaves the message, the command, what the message starts with, the --json that gives it whole)
CASES: list[tuple[str, Setup, tuple[str, ...], str, tuple[str, ...]]] = [
    ("runs: a run's error", held_back, ("runs",), HELD, ("runs", "--json")),
    ("run: the summary's error", rejected, ("run", "accounts"), HELD, ("runs", "--json")),
    ("audit: a rejection's reason", long_reason, ("audit", "accounts"), "field 'pql_score'", ("audit", "accounts",
                                                                                                 "--json")),
    ("alerts --wide: a delivery problem", slack_refuses, ("alerts", "--wide"), "", ("alerts", "--json")),
]  # fmt: skip


@pytest.mark.parametrize(("display", "setup", "args", "start", "whole"), CASES, ids=[c[0] for c in CASES])
def test_a_long_message_is_one_short_line_and_json_gives_it_whole(
    project: Project, slack: SlackEmulator, crm: HubSpotEmulator,
    display: str, setup: Setup, args: tuple[str, ...], start: str, whole: tuple[str, ...],
) -> None:  # fmt: skip
    try:
        setup(project, slack, crm)
        said = syncer(project, *args)
    finally:
        slack.faults.clear()
    assert said.returncode in (0, 1), said.stderr
    lines = said.stdout.splitlines()
    assert max(map(len, lines)) <= WIDEST, (display, max(map(len, lines)), said.stdout[:3000].splitlines())
    assert "chars)" in said.stdout and "--json gives it whole" in said.stdout, (display, said.stdout)
    assert start in said.stdout, (display, said.stdout)
    message = max(texts(json.loads(syncer(project, *whole).stdout)), key=len)  # the long message, whole
    assert start in message and len(message) > MESSAGE and message not in said.stdout, (display, message)


def texts(value: object) -> list[str]:
    """Every string in a JSON document."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return [value] if isinstance(value, str) else []


def test_a_message_is_one_line_and_short_text_stays_whole() -> None:
    """A line break or a run of spaces is one space; a message of MESSAGE characters is not cut."""
    assert brief("first line\n  second\tline").plain == "first line second line"
    assert brief("x" * MESSAGE).plain == "x" * MESSAGE and not brief("x" * MESSAGE).cut
    assert brief("[red]not markup[/red]").plain == "[red]not markup[/red]"
    assert brief(None).plain == ""


def test_piped_rows_are_as_wide_as_their_own_cells(capsys: pytest.CaptureFixture[str]) -> None:
    """The last column's padding widened every piped row to the longest cell."""
    table = Table("name", "detail")
    table.add_row("a", "short")
    table.add_row("b", "a much longer detail than the first " * 2)
    print_table(table)
    lines = capsys.readouterr().out.splitlines()
    assert [line == line.rstrip() for line in lines] == [True] * len(lines), lines
    assert len(lines[1]) < len(lines[2]), lines
