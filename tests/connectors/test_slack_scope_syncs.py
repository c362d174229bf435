"""Slack calls `check` did not account for ("vendorfix2" 1-3). A Slack sync whose `channel` column holds user IDs
DMs them (conversations.open: im:write; the dedupe reads the DM: im:history): `check` now reads the column's
distinct values and checks every kind of recipient. A run missing a scope one kind of conversation needs fails
those records with Slack's words (audit shows them, the next run sends them) and posts the rest; a scope every
message needs (chat:write) stops the run. A private channel's missing scopes are named all at once, and every
Slack problem names the file and key the user edits: config.toml's `connectors.slack.*`, not the mapping file.
Before: check said ok, the run died at the DM (exit 2), the public post was never made, audit had no rows."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from syncer_connectors.slack.emulator import ALL_SCOPES, SlackEmulator
from typer.testing import CliRunner

from syncer.cli import app
from tests.connectors.test_slack_scopes import PRIVATE, PUBLIC, USER, running, slack

__all__ = ["running", "slack"]  # the module's Slack emulator and its workspace, shared with test_slack_scopes


def project(tmp: Path, slack: SlackEmulator, fallback: str = PUBLIC) -> dict[str, str]:
    """A Slack sync of two notes, one to a user (a DM), one to a public channel; the CLI's environment."""
    with sqlite3.connect(tmp / "w.sqlite") as conn:
        conn.execute("CREATE TABLE notes (id TEXT, who TEXT, msg TEXT)")
        conn.executemany("INSERT INTO notes VALUES (?, ?, ?)", [("n1", USER, "hello ada"), ("n2", PUBLIC, "hi all")])
    (tmp / "mappings").mkdir()
    (tmp / "config.toml").write_text(
        f"[syncer]\ndata_dir = 'data'\nmappings = 'mappings'\n[warehouse]\nurl = 'sqlite:///{tmp / 'w.sqlite'}'\n"
        f"[connectors.slack]\ntype = 'slack'\nbase_url = '{slack.api_url}'\nbot_token = '${{VF2_TOKEN}}'\n"
        f"fallback_channel = '{fallback}'\n"
    )
    (tmp / "mappings" / "notify.toml").write_text(
        "connector = 'slack'\nobject = 'message'\nmode = 'insert'\n"
        "[model]\nquery = 'SELECT id, who, msg FROM notes'\nprimary_key = 'id'\n"
        "[match]\nfield = 'key'\ncolumn = 'id'\n[fields]\nchannel = { column = 'who' }\ntext = { column = 'msg' }\n"
    )
    return {"VF2_TOKEN": slack.token, "SYNCER_CONFIG": str(tmp / "config.toml")}


def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Exit code and output, files named relative to the project (as from its folder)."""
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    folder = str(Path(env["SYNCER_CONFIG"]).parent) + "/"
    return result.exit_code, (result.stdout + result.stderr).replace(folder, "")


def flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines


@dataclass(frozen=True)
class Case:
    lacks: tuple[str, ...]
    check: tuple[str, ...]  # each in a `check` problem line (whitespace folded)
    run_exit: int
    posted: tuple[str, ...]  # channels that got their note
    failed_reason: str | None  # in the DM note's audit row


BOT = "problem config.toml: connectors.slack.bot_token: missing scope"
DM_VIA_COLUMN = "DM U0ADA (fields.channel in mappings/notify.toml)"
CASES = {
    "no im:write: check names it for the column's user; the run posts the public note, fails the DM": Case(
        ("im:write",), (f"{BOT} im:write, needed by conversations.open to {DM_VIA_COLUMN}",), 1, (PUBLIC,), "im:write"
    ),
    "no im:history: the same, for the DM's dedupe lookup": Case(
        ("im:history",),
        (f"{BOT} im:history, needed by conversations.history to {DM_VIA_COLUMN}",),
        1,
        (PUBLIC,),
        "im:history",
    ),
    "no chat:write: every note needs it, the run stops": Case(
        ("chat:write",), (f"{BOT} chat:write, needed by chat.postMessage to post to C0PUBLIC",), 2, (), None
    ),
    "every scope granted": Case((), (), 0, (PUBLIC, "D"), None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_slack_sync_to_users_and_channels(tmp_path: Path, slack: SlackEmulator, case: str) -> None:
    c = CASES[case]
    env = project(tmp_path, slack)
    slack.scopes = tuple(s for s in ALL_SCOPES if s not in c.lacks)
    code, said = cli(env, "check")
    assert code == (2 if c.check else 0), said
    for line in c.check:
        assert line in flat(said), said
    assert "mappings/notify.toml: slack" not in flat(said)
    code, said = cli(env, "run", "notify")
    assert code == c.run_exit, said
    posted = [ch for ch in (PUBLIC, slack.dm_channel(USER)) if ch in slack.channels and slack.messages(ch)]
    assert [p[:1] if p.startswith("D") else p for p in posted] == list(c.posted)
    if c.failed_reason is not None:
        code, said = cli(env, "audit", "notify")
        row = next(line for line in said.splitlines() if " n1 " in line)
        assert "failed" in row and f"lacks {c.failed_reason}" in row, said
        slack.scopes = ALL_SCOPES  # the app reinstalled: the next run sends the DM, once
        assert cli(env, "run", "notify")[0] == 0
        assert len(slack.messages(slack.dm_channel(USER))) == 1 and len(slack.messages(PUBLIC)) == 1


def test_a_private_channel_names_every_scope_it_needs_at_once(tmp_path: Path, slack: SlackEmulator) -> None:
    """Before: groups:read only (conversations.info failed first), groups:history after the reinstall."""
    env = project(tmp_path, slack, fallback=PRIVATE)
    slack.scopes = tuple(s for s in ALL_SCOPES if s not in ("groups:read", "groups:history"))
    code, said = cli(env, "check")
    assert code == 2
    for scope, call in (
        ("groups:read", "conversations.info to name"),
        ("groups:history", "conversations.history to post to"),
    ):
        assert f"{BOT} {scope}, needed by {call} {PRIVATE} (connectors.slack.fallback_channel)" in flat(said), said
