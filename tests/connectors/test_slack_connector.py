"""SlackConnector against the loopback Slack emulator, through the real slack-sdk WebClient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from syncer_connectors.slack.blocks import render_alert
from syncer_connectors.slack.connector import SlackConnector
from syncer_connectors.slack.emulator import SlackEmulator
from syncer_connectors.slack.error_mapping import is_undeliverable

from syncer import registry
from syncer.emulator import Fault
from syncer.errors import FatalError
from syncer.retry import RetryPolicy, no_wait
from tests.connectors.test_slack_support import ALERTS, connector, keys_in, message, workspace

ALERT = {
    "alert_id": "acct-1:seat_limit_approaching",
    "account_id": "acct-1",
    "account_name": "Acme Corp",
    "trigger": "seat_limit_approaching",
    "priority": "high",
    "value": 0.85,
    "threshold": 0.8,
    "previous_value": 0.72,
    "owner_slack_id": "U0ANNA",
    "crm_url": "https://crm.example.com/accounts/acct-1",
}


@pytest.fixture(scope="module")
def server() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def emu(server: SlackEmulator, clock: Any) -> SlackEmulator:
    return workspace(server, clock)


def test_registered_under_slack() -> None:
    assert registry.load("slack") is SlackConnector


def test_ping_renders_and_lands(emu: SlackEmulator, clock: Any) -> None:
    text, blocks = render_alert(ALERT)
    [result] = connector(emu, clock).send([message("alert-1", text=text, blocks=blocks)])
    assert result.status == "ok", result.reason
    [posted] = emu.messages(ALERTS)
    assert result.dest_id == f"{ALERTS}:{posted['ts']}"
    assert posted["blocks"] == blocks and posted["text"] == text
    expected = {"event_type": "syncer_alert", "event_payload": {"key": "alert-1", "fingerprint": "fp-alert-1"}}
    assert posted["metadata"] == expected


def test_lost_reply_is_not_posted_twice(emu: SlackEmulator, clock: Any) -> None:
    emu.faults.add(Fault("reset_after_apply", path=r"chat\.postMessage$"))
    [result] = connector(emu, clock).send([message("alert-1")])
    assert result.status == "ok", result.reason
    assert keys_in(emu, ALERTS) == ["alert-1"]
    assert result.dest_id == f"{ALERTS}:{emu.messages(ALERTS)[0]['ts']}"
    assert ("POST", "/api/chat.postMessage", 0) in emu.requests  # the reply really was lost


def test_crash_after_post_new_process_finds_the_message(emu: SlackEmulator, clock: Any) -> None:
    emu.faults.add(Fault("reset_after_apply", path=r"chat\.postMessage$"))
    [first] = connector(emu, clock, retry=no_wait(max_attempts=1)).send([message("alert-1")])
    assert first.status == "failed"
    [second] = connector(emu, clock).send([message("alert-1"), message("alert-2")])[:1]
    assert second.status == "ok"
    assert keys_in(emu, ALERTS) == ["alert-1", "alert-2"]


def test_429_retry_after_is_honoured(emu: SlackEmulator, clock: Any) -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0, sleep=waits.append)
    emu.faults.add(Fault("status", path=r"chat\.postMessage$", status=429, retry_after=7))
    slack = connector(emu, clock, retry=policy)
    [result] = slack.send([message("alert-1")])
    assert result.status == "ok"
    assert waits == [7.0]  # the retry waited exactly Slack's Retry-After
    assert 7.0 in clock.slept  # and the limiter held the next call back for it
    assert slack.stats.throttled == 1
    assert keys_in(emu, ALERTS) == ["alert-1"]


def test_per_channel_pace_avoids_429(emu: SlackEmulator, clock: Any) -> None:
    start = clock.now
    results = connector(emu, clock).send([message(f"m{i}") for i in range(6)])
    assert [r.status for r in results] == ["ok"] * 6
    assert emu.ratelimited == 0
    assert clock.now - start >= 5.0  # ~1 message per second per channel


def test_too_fast_client_gets_429_then_waits(emu: SlackEmulator, clock: Any) -> None:
    slack = connector(emu, clock, channel_rate=50, channel_burst=10)
    results = slack.send([message(f"m{i}") for i in range(8)])
    assert [r.status for r in results] == ["ok"] * 8
    assert emu.ratelimited >= 1
    assert keys_in(emu, ALERTS) == [f"m{i}" for i in range(8)]


def test_server_error_is_retried(emu: SlackEmulator, clock: Any) -> None:
    emu.faults.add(Fault("status", path=r"chat\.postMessage$", status=503, times=2))
    [result] = connector(emu, clock).send([message("alert-1")])
    assert result.status == "ok"
    assert keys_in(emu, ALERTS) == ["alert-1"]


def test_persistent_server_error_fails_the_record(emu: SlackEmulator, clock: Any) -> None:
    emu.faults.add(Fault("status", path=r"chat\.postMessage$", status=500, times=10))
    [result] = connector(emu, clock, retry=no_wait(max_attempts=3)).send([message("alert-1")])
    assert result.status == "failed" and "500" in (result.reason or "")


def test_invalid_blocks_rejected_with_code(emu: SlackEmulator, clock: Any) -> None:
    too_many = [{"type": "section", "text": {"type": "mrkdwn", "text": f"b{i}"}} for i in range(51)]
    results = connector(emu, clock).send([message("bad", blocks=too_many), message("good")])
    assert results[0].status == "rejected"
    assert (results[0].reason or "").startswith("invalid_blocks")
    assert not is_undeliverable(results[0].reason)
    assert results[1].status == "ok"


@pytest.mark.parametrize(
    ("channel", "code"),
    [("C0MISSING", "channel_not_found"), ("C0OUTSIDE", "not_in_channel"), ("C0OLD", "is_archived")],
)
def test_undeliverable_channels(emu: SlackEmulator, clock: Any, channel: str, code: str) -> None:
    results = connector(emu, clock).send([message("lost", channel=channel), message("fine")])
    assert results[0].status == "rejected"
    assert results[0].reason == f"undeliverable:{code}"
    assert is_undeliverable(results[0].reason)
    assert results[1].status == "ok"


def test_archived_channel_rejected_by_post(emu: SlackEmulator, clock: Any) -> None:
    emu.channels["C0OLD"].is_member = True  # history readable, posting refused
    [result] = connector(emu, clock).send([message("x", channel="C0OLD")])
    assert result.reason == "undeliverable:is_archived"


def test_thread_reply_posts_once(emu: SlackEmulator, clock: Any) -> None:
    slack = connector(emu, clock)
    [parent] = slack.send([message("parent")])
    parent_ts = (parent.dest_id or "").split(":")[1]
    emu.faults.add(Fault("reset_after_apply", path=r"chat\.postMessage$"))
    [reply] = slack.send([message("reply", thread_ts=parent_ts)])
    assert reply.status == "ok", reply.reason
    assert keys_in(emu, ALERTS) == ["parent", "reply"]
    assert emu.messages(ALERTS)[1]["thread_ts"] == parent_ts


def test_direct_message_to_user(emu: SlackEmulator, clock: Any) -> None:
    [result] = connector(emu, clock).send([message("digest-1", channel="U0ANNA")])
    dm = emu.dm_channel("U0ANNA")
    assert result.status == "ok" and (result.dest_id or "").startswith(f"{dm}:")
    [again] = connector(emu, clock).send([message("digest-1", channel="U0ANNA")])
    assert again.dest_id == result.dest_id
    assert keys_in(emu, dm) == ["digest-1"]


def test_missing_channel_uses_fallback(emu: SlackEmulator, clock: Any) -> None:
    [result] = connector(emu, clock).send([message("x", channel="")])
    assert result.status == "ok" and keys_in(emu, ALERTS) == ["x"]


def test_lookup_user_by_email(emu: SlackEmulator, clock: Any) -> None:
    slack = connector(emu, clock)
    assert slack.lookup_user_by_email("anna@example.com") == "U0ANNA"
    assert slack.lookup_user_by_email("nobody@example.com") is None
    emu.add_user("U0BO", "Nobody@Example.com")  # joins later: a miss was not cached
    assert slack.lookup_user_by_email("nobody@example.com") == "U0BO"
    assert slack.auth_test()["user_id"] == "U0SYNCERBOT"


@pytest.mark.parametrize(
    ("email", "user"),
    [("anna@example.com", "U0ANNA"), (" Anna@Example.COM\t", "U0ANNA"), ("  ", None), ("ghost@example.com", None)],
)
def test_lookup_user_by_email_trims(emu: SlackEmulator, clock: Any, email: str, user: str | None) -> None:
    """The owner-lookup rule of every connector (syncer.owner_email): trimmed, any case; blank is nobody."""
    assert connector(emu, clock).lookup_user_by_email(email) == user


@pytest.mark.parametrize("token_error", [None, "token_revoked", "account_inactive"])
def test_bad_token_is_fatal(emu: SlackEmulator, clock: Any, token_error: str | None) -> None:
    emu.token_error = token_error
    slack = connector(emu, clock, token="xoxb-wrong" if token_error is None else emu.token)
    with pytest.raises(FatalError, match=token_error or "invalid_auth"):
        slack.send([message("alert-1")])
    with pytest.raises(FatalError):
        slack.auth_test()
    assert emu.messages(ALERTS) == []


def test_check_reports_every_problem(emu: SlackEmulator, clock: Any) -> None:
    emu.scopes = ("chat:write", "channels:read")
    slack = connector(emu, clock, channels=("C0OUTSIDE", "C0OLD", "C0MISSING", "#alerts", ALERTS))
    problems = slack.check()
    assert any("C0OUTSIDE" in p and "not a member" in p for p in problems)
    assert any("C0OLD" in p and "archived" in p for p in problems)
    assert any("C0MISSING" in p and "channel_not_found" in p for p in problems)
    assert any("'#alerts'" in p and "channel ID" in p for p in problems)
    assert any("missing scope channels:history" in p and "conversations.history" in p for p in problems)
    assert len(problems) == 5


def test_check_passes_on_a_good_workspace(emu: SlackEmulator, clock: Any) -> None:
    assert connector(emu, clock, channels=(ALERTS,)).check() == []
    assert connector(emu, clock, token="xoxb-wrong").check() == ["slack auth.test failed: auth.test: invalid_auth"]


def test_one_history_lookup_per_channel_per_batch(emu: SlackEmulator, clock: Any) -> None:
    slack = connector(emu, clock)
    slack.send([message(f"m{i}") for i in range(5)] + [message("dm", channel="U0ANNA")])
    paths = [path for _, path, _ in emu.requests]
    assert paths.count("/api/conversations.history") == 2  # alerts channel + the DM channel
    assert paths.count("/api/chat.postMessage") == 6
    slack.send([message("m0")])  # delivered by this process: no call at all
    assert len(emu.requests) == len(paths)


def test_lookup_pages_through_a_busy_channel(emu: SlackEmulator, clock: Any) -> None:
    other = connector(emu, clock, event_type="someone_else")
    other.send([message("alert-1")])  # same key, other app's event type: not ours
    emu.faults.add(Fault("reset_after_apply", path=r"chat\.postMessage$"))
    connector(emu, clock, retry=no_wait(max_attempts=1)).send([message("alert-1")])
    other.send([message(f"noise-{i}") for i in range(12)])
    slack = connector(emu, clock, history_page_size=5)
    [result] = slack.send([message("alert-1")])
    assert result.status == "ok"
    assert keys_in(emu, ALERTS).count("alert-1") == 2  # ours (found on page 3) and the other app's
    assert [p for _, p, _ in emu.requests].count("/api/conversations.history") >= 3


def test_lookback_bounds_the_lookup(emu: SlackEmulator, clock: Any) -> None:
    posted_at = 1_800_000_000.0
    emu.wall_clock = lambda: posted_at
    connector(emu, clock).send([message("alert-1")])
    hours = 3600.0
    within = connector(emu, clock, history_lookback_hours=72)
    within._wall = lambda: posted_at + 71 * hours
    assert within.send([message("alert-1")])[0].dest_id == f"{ALERTS}:{emu.messages(ALERTS)[0]['ts']}"
    beyond = connector(emu, clock, history_lookback_hours=72)
    beyond._wall = lambda: posted_at + 73 * hours
    beyond.send([message("alert-1")])
    assert keys_in(emu, ALERTS) == ["alert-1", "alert-1"]  # documented: the lookback is the dedupe horizon


def test_message_too_long_rejected(emu: SlackEmulator, clock: Any) -> None:
    [result] = connector(emu, clock).send([message("long", text="x" * 40_001)])
    assert result.status == "rejected" and result.reason == "msg_too_long"


def test_missing_history_scope_fails_that_channels_messages(emu: SlackEmulator, clock: Any) -> None:
    """A scope of one conversation kind: those messages fail with Slack's words, not retried in the run (the app
    must be reinstalled first); chat:write, which every message needs, stops the batch (vendorfix2 1)."""
    emu.scopes = tuple(s for s in emu.scopes if s != "channels:history")
    [result] = connector(emu, clock).send([message("alert-1")])
    assert result.status == "failed" and "conversations.history: missing_scope: the bot token lacks channels:hist" in (
        result.reason or ""
    )
    assert [p for _, p, _ in emu.requests].count("/api/conversations.history") == 1
    emu.scopes = (*(s for s in emu.scopes if s != "chat:write"), "channels:history")
    with pytest.raises(FatalError, match=r"chat\.postMessage: missing_scope: the bot token lacks chat:write"):
        connector(emu, clock).send([message("alert-2")])


def test_emulator_reads_form_encoded_posts(emu: SlackEmulator) -> None:
    client = WebClient(token=emu.token, base_url=emu.api_url, retry_handlers=[])
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    metadata = {"event_type": "syncer_alert", "event_payload": {"key": "form-1"}}
    data = {"channel": ALERTS, "text": "hi", "blocks": json.dumps(blocks), "metadata": json.dumps(metadata)}
    assert client.api_call("chat.postMessage", data=data)["ok"]
    assert emu.messages(ALERTS)[0]["blocks"] == blocks and keys_in(emu, ALERTS) == ["form-1"]
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.api_call("chat.postMessage", data={**data, "blocks": json.dumps(blocks * 51)})
