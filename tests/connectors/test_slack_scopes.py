"""Bot token scopes, three ways (fifth... tenth adversarial session, "vendorfix" 1): the emulator refuses every
method syncer calls without the scope Slack documents for it (driven by slack_sdk's WebClient), `syncer check`
names every scope the configured alerts will need (the documented setup DMs owners found by email), and a run
missing one stops naming the call and the scope, with the alerts still pending until the app is fixed.
Before: the emulator only advertised scopes, `check` asked for im:* only for a `U...` in `channels`, and a
token without im:write passed `check` and DMed owners anyway."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from syncer_connectors.slack.emulator import ALL_SCOPES, SlackEmulator
from syncer_connectors.slack.error_mapping import MissingScope

from syncer.config import load_config
from syncer.config_check import other_connectors
from tests.alerts.support import Clock, all_keys, engine, row, sqlite_url, workspace

PUBLIC, PRIVATE, USER = "C0PUBLIC", "G0PRIVATE", "U0ADA"


@pytest.fixture(scope="module")
def running() -> Iterator[SlackEmulator]:
    with SlackEmulator(channel_burst=1000) as emu:
        yield emu  # type: ignore[misc]


@pytest.fixture
def slack(running: SlackEmulator) -> SlackEmulator:
    running.reset()
    running.add_channel(PUBLIC, "public")
    running.add_channel(PRIVATE, "private", private=True)
    running.add_user(USER, "ada@example.com")
    running.add_user("U0BOB", "bob@example.com")
    return running


def without(scope: str) -> tuple[str, ...]:
    return tuple(s for s in ALL_SCOPES if s != scope)


# method (WebClient name), arguments, the scope Slack documents for it there (emulator_scopes.py names each page)
METHODS: list[tuple[str, dict[str, Any], str]] = [
    ("chat_postMessage", {"channel": PUBLIC, "text": "hi"}, "chat:write"),
    ("chat_postMessage", {"channel": "D0ADA", "text": "hi"}, "chat:write"),
    ("conversations_history", {"channel": PUBLIC}, "channels:history"),
    ("conversations_history", {"channel": PRIVATE}, "groups:history"),
    ("conversations_history", {"channel": "D0ADA"}, "im:history"),
    ("conversations_replies", {"channel": PUBLIC, "ts": "1.000001"}, "channels:history"),
    ("conversations_replies", {"channel": "D0ADA", "ts": "1.000001"}, "im:history"),
    ("conversations_info", {"channel": PUBLIC}, "channels:read"),
    ("conversations_info", {"channel": PRIVATE}, "groups:read"),
    ("conversations_info", {"channel": "D0ADA"}, "im:read"),
    ("conversations_open", {"users": USER}, "im:write"),
    ("conversations_open", {"users": f"{USER},U0BOB"}, "mpim:write"),
    ("users_lookupByEmail", {"email": "ada@example.com"}, "users:read.email"),
]


@pytest.mark.parametrize(("method", "args", "scope"), METHODS, ids=[f"{m} {s}" for m, _, s in METHODS])
def test_emulator_refuses_a_call_without_its_documented_scope(
    slack: SlackEmulator, method: str, args: dict[str, Any], scope: str
) -> None:
    client = WebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])
    client.conversations_open(users=USER)  # the DM exists (D0ADA) before the rows that read it
    client.chat_postMessage(channel=PUBLIC, text="parent")  # something to reply to
    slack.scopes = without(scope)
    with pytest.raises(SlackApiError) as refused:
        getattr(client, method)(**args)
    body = refused.value.response.data
    assert isinstance(body, dict)
    assert (body["error"], body["needed"], body["provided"]) == ("missing_scope", scope, ",".join(without(scope)))
    slack.scopes = ALL_SCOPES
    ts = client.chat_postMessage(channel=args["channel"], text="p")["ts"] if "ts" in args else None
    assert getattr(client, method)(**(args | ({"ts": ts} if ts else {})))["ok"]


@dataclass(frozen=True)
class CheckCase:
    config: str  # [alerts] / [routing] / [daemon] sections
    lacks: str  # the scope the token does not have
    expect: str | None  # part of the one problem `check` reports (None: none)


ALERTS = "\n[alerts]\nslack = 'slack'\n"
CHECKS = {
    "documented setup (default_to = owner) without im:write": CheckCase(
        ALERTS,
        "im:write",
        "missing scope im:write, needed by conversations.open to DM account owners (routing.default_to)",
    ),
    "owner DMs read the DM's history": CheckCase(
        ALERTS, "im:history", "missing scope im:history, needed by conversations.history to DM account owners"
    ),
    "owners are found by email": CheckCase(
        ALERTS,
        "users:read.email",
        "missing scope users:read.email, needed by users.lookupByEmail to find account owners",
    ),
    "channel routing still names owners": CheckCase(
        ALERTS + f"[routing]\ndefault_to = '{PUBLIC}'\n", "users:read.email", "users.lookupByEmail"
    ),
    "channel routing needs no DM scope": CheckCase(ALERTS + f"[routing]\ndefault_to = '{PUBLIC}'\n", "im:write", None),
    "a private channel rule needs groups:history": CheckCase(
        ALERTS + f"[[routing.rules]]\npriority = 'high'\nto = '{PRIVATE}'\n",
        "groups:history",
        f"conversations.history to post to {PRIVATE} (routing.rules[0].to)",
    ),
    "escalation managers are DMed": CheckCase(
        ALERTS + f"managers = {{ 'a@x.com' = 'b@x.com' }}\n[routing]\ndefault_to = '{PUBLIC}'\n",
        "im:write",
        "conversations.open to DM account owners (alerts.managers)",
    ),
    "ops alerts post to their channel": CheckCase(
        f"\n[daemon]\nops_alert_channel = '{PUBLIC}'\n", "channels:history", "(daemon.ops_alert_channel)"
    ),
    "every scope granted": CheckCase(ALERTS, "", None),
    "a rule saying email without email_to falls back to Slack: its private channel is checked": CheckCase(
        "\n[connectors.mail]\ntype = 'email'\nhost = '127.0.0.1'\nport = 9\nsecurity = 'none'\n"
        "from_address = 'syncer@example.com'\n[alerts]\nslack = 'slack'\nemail = 'mail'\n[routing]\n"
        f"default_to = '{PUBLIC}'\nrules = [{{ priority = 'high', to = '{PRIVATE}', channel = 'email' }}]\n",
        "groups:history",
        f"conversations.history to post to {PRIVATE} (routing.rules[0].to)",
    ),
    "a rule with email_to goes by email only: its channel needs no Slack scope": CheckCase(
        "\n[connectors.mail]\ntype = 'email'\nhost = '127.0.0.1'\nport = 9\nsecurity = 'none'\n"
        "from_address = 'syncer@example.com'\n[alerts]\nslack = 'slack'\nemail = 'mail'\n[routing]\n"
        f"default_to = '{PUBLIC}'\nrules = [{{ priority = 'high', to = '{PRIVATE}', channel = 'email', "
        "email_to = ['leads@example.com'] }]\n",
        "groups:history",
        None,
    ),
}


@pytest.mark.parametrize("case", list(CHECKS))
def test_check_names_every_scope_the_configured_alerts_need(
    tmp_path: Path, slack: SlackEmulator, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    c = CHECKS[case]
    slack.scopes = without(c.lacks)
    monkeypatch.setenv("VF_SLACK_TOKEN", slack.token)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "config.toml").write_text(
        f"[warehouse]\nurl = 'sqlite:///{tmp_path / 'w.sqlite'}'\n"
        f"[connectors.slack]\ntype = 'slack'\nbase_url = '{slack.api_url}'\nbot_token = '${{VF_SLACK_TOKEN}}'\n"
        f"fallback_channel = '{PUBLIC}'\n" + c.config
    )
    problems = [p for answer in other_connectors(load_config(tmp_path / "config.toml"), set()) for p in answer.problems]
    if c.expect is None:
        assert problems == []
    else:
        assert len(problems) == 1 and c.expect in problems[0], problems
        assert "reinstall the app" in problems[0]


@pytest.mark.parametrize(
    ("lacks", "stopped_at"),
    [("im:write", "deliver"), ("im:history", "deliver"), ("chat:write", "deliver"), ("users:read.email", "evaluate")],
)
def test_a_run_without_a_scope_names_it_and_keeps_the_alert_pending(
    tmp_path: Path, slack: SlackEmulator, lacks: str, stopped_at: str
) -> None:
    fake = Clock()
    workspace(slack, fake)
    slack.scopes = without(lacks)
    alerts = engine(sqlite_url(tmp_path), slack.api_url, slack.token, fake)
    now = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)
    call = {"im:write": "conversations.open", "im:history": "conversations.history", "chat:write": "chat.postMessage"}
    said = f"{call.get(lacks, 'users.lookupByEmail')}: missing_scope: the bot token lacks {lacks} "
    if lacks.startswith("im:"):  # a DM's scope: that message fails with it (vendorfix2 1), the others would go
        alerts.evaluate([row(1)], now)
        alerts.deliver(now)
    else:  # every message needs it (or every owner lookup): the run stops
        with pytest.raises(MissingScope, match=said):
            alerts.evaluate([row(1)], now)
            alerts.deliver(now)
    assert all_keys(slack) == []
    with alerts.engine.connect() as conn:  # evaluated: the ping waits in the outbox; refused at once: nothing
        rows = conn.execute(sa.text("SELECT status, reason FROM alert_outbox")).all()
    assert [r.status for r in rows] == (["pending"] if stopped_at == "deliver" else [])
    assert all(said.strip() in (r.reason or "") for r in rows if lacks.startswith("im:")), rows
    slack.scopes = ALL_SCOPES  # the app reinstalled with the scope: the next run delivers, once
    alerts.evaluate([row(1)], now)
    alerts.deliver(now)
    alerts.deliver(now)
    assert len(all_keys(slack)) == 1
