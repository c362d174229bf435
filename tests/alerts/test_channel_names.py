"""Slack channels by name where people read them (`alerts --wide`, `alerts run --dry-run`, the ping-budget table,
`digest --preview`): #alerts-fallback, not C0FALLBACK, once Slack has named the channel (conversations.info when
the alert was routed); the id only when no name is known. --json keeps the ids. Real engine, SQLite state, the
Slack emulator (its channels are seeded with names, as the demo's are)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts import AlertEngine
from syncer.alerts.open_alerts import select_open
from syncer.cli import alerts as cli
from syncer.state import StateStore
from tests.alerts.support import FALLBACK, T0, Clock, row, settings, slack_connector, sqlite_url

NOBODY = "stranger@example.com"  # not in the Slack workspace: the alert goes to the fallback channel
CAPSYS: list[Any] = []


def _printed(show: Callable[[], None]) -> str:
    CAPSYS[0].readouterr()
    show()
    return str(CAPSYS[0].readouterr().out)


def _wide(eng: AlertEngine) -> str:
    return _printed(lambda: cli._print_alerts(select_open(eng.open_alerts(T0)), True, eng.names()))


SURFACES: dict[str, Callable[[AlertEngine], str]] = {
    "alerts --wide": _wide,
    "ping budget table": lambda e: _printed(lambda: cli._print_budget_use(e.budget_use(T0), e.names())),
    "digest --preview": lambda e: _printed(lambda: cli._print_previews(e.preview_digest(), e.names())),
}


@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_channels_by_name(tmp_path: Path, slack: SlackEmulator, fake: Clock, surface: str, capsys: Any) -> None:
    CAPSYS[:] = [capsys]
    eng = AlertEngine(settings(), StateStore(sqlite_url(tmp_path)), slack_connector(slack.api_url, slack.token, fake))
    eng.evaluate([row(1, owner_email=NOBODY), row(2, trigger="storage_limit_approaching", owner_email=NOBODY)], T0)
    eng.deliver_all(T0)
    text = SURFACES[surface](eng)
    print(f"\n{surface}: {text}")
    assert "#alerts-fallback" in text, surface
    assert FALLBACK not in text.replace(f"#alerts-fallback ({FALLBACK})", ""), surface  # the id only beside its name
    assert FALLBACK in json.dumps(eng.open_alerts(T0), default=str)  # --json keeps the id
    eng.close()


def test_an_unnamed_channel_shows_its_id(tmp_path: Path, slack: SlackEmulator, fake: Clock, capsys: Any) -> None:
    CAPSYS[:] = [capsys]
    slack.channels.pop(FALLBACK)  # Slack cannot name it (deleted, or the bot cannot see it)
    eng = AlertEngine(settings(), StateStore(sqlite_url(tmp_path)), slack_connector(slack.api_url, slack.token, fake))
    eng.evaluate([row(1, owner_email=NOBODY)], T0)
    text = _wide(eng)
    assert FALLBACK in text and "#alerts-fallback" not in text, text
    eng.close()
