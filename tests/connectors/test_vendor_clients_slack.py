"""slack_sdk's WebClient against the Slack emulator: every method syncer calls, and one row per
chat.postMessage rule with the error name Slack documents (rules: connectors/slack/block_limits.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from syncer_connectors.slack.emulator import SlackEmulator

CHANNEL = "C0RULES"


@pytest.fixture(scope="module")
def running() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(channel_burst=1000)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def slack(running: SlackEmulator) -> SlackEmulator:
    running.reset()
    running.add_channel(CHANNEL, "alerts")
    running.add_channel("C0OUT", "outside", member=False)
    running.add_channel("C0OLD", "old", archived=True)
    running.add_user("U0ADA", "ada@example.com")
    return running


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return WebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_every_method_syncer_calls_answers_the_sdk(client: WebClient, slack: SlackEmulator) -> None:
    assert client.auth_test()["user_id"]
    metadata = {"event_type": "syncer_alert", "event_payload": {"key": "k-1"}}
    posted = client.chat_postMessage(channel=CHANNEL, text="hi", blocks=[section("*hi*")], metadata=metadata)
    reply = client.chat_postMessage(channel=CHANNEL, text="thread", thread_ts=posted["ts"])
    history = client.conversations_history(channel=CHANNEL, include_all_metadata=True, limit=10)
    assert [m["ts"] for m in history["messages"]][-1] == posted["ts"]
    assert history["messages"][-1]["metadata"] == metadata
    replies = client.conversations_replies(channel=CHANNEL, ts=posted["ts"])
    assert reply["ts"] in [m["ts"] for m in replies["messages"]]
    assert client.conversations_info(channel=CHANNEL)["channel"]["id"] == CHANNEL
    user = client.users_lookupByEmail(email="ADA@example.com")["user"]
    assert client.conversations_open(users=user["id"])["channel"]["id"] == slack.dm_channel("U0ADA")


POST_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    # rule, chat.postMessage arguments, expected error (None: posted)
    ("text only", {"text": "hello"}, None),
    ("neither text nor blocks", {"text": ""}, "no_text"),
    ("text at 40,000", {"text": "x" * 40_000}, None),
    ("text over 40,000", {"text": "x" * 40_001}, "msg_too_long"),
    ("50 blocks", {"text": "t", "blocks": [section("b")] * 50}, None),
    ("51 blocks", {"text": "t", "blocks": [section("b")] * 51}, "invalid_blocks"),
    ("section text 3000", {"text": "t", "blocks": [section("x" * 3000)]}, None),
    ("section text 3001", {"text": "t", "blocks": [section("x" * 3001)]}, "invalid_blocks"),
    (
        "header over 150",
        {"text": "t", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]},
        "invalid_blocks",
    ),
    (
        "header in mrkdwn",
        {"text": "t", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}]},
        "invalid_blocks",
    ),
    ("unknown block type", {"text": "t", "blocks": [{"type": "banner"}]}, "invalid_blocks"),
    ("blocks too long in total", {"text": "t", "blocks": [section("x" * 2900)] * 5}, "msg_blocks_too_long"),
    ("metadata without payload", {"text": "t", "metadata": {"event_type": "x"}}, "invalid_metadata_format"),
    ("unknown channel", {"channel": "C0NOPE", "text": "t"}, "channel_not_found"),
    ("not a member", {"channel": "C0OUT", "text": "t"}, "not_in_channel"),
    ("archived channel", {"channel": "C0OLD", "text": "t"}, "is_archived"),
]


@pytest.mark.parametrize(("rule", "args", "expected"), POST_CASES, ids=[c[0] for c in POST_CASES])
def test_post_message_rule(client: WebClient, rule: str, args: dict[str, Any], expected: str | None) -> None:
    kwargs = {"channel": CHANNEL, **args}
    if expected is None:
        assert client.chat_postMessage(**kwargs)["ok"] is True
        return
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(**kwargs)
    assert refused.value.response.status_code == 200 and refused.value.response["error"] == expected


def test_a_burst_past_the_channel_rate_is_429_with_retry_after(client: WebClient, slack: SlackEmulator) -> None:
    slack.channel_burst = 1
    try:
        client.chat_postMessage(channel=CHANNEL, text="one")
        with pytest.raises(SlackApiError) as limited:
            client.chat_postMessage(channel=CHANNEL, text="two")
    finally:
        slack.channel_burst = 1000
    assert limited.value.response.status_code == 429 and limited.value.response["error"] == "ratelimited"
    assert int(limited.value.response.headers["Retry-After"]) >= 1


def test_a_json_body_with_nan_answers_invalid_json(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(
            channel=CHANNEL, text="t", metadata={"event_type": "x", "event_payload": {"v": float("nan")}}
        )
    assert refused.value.response["error"] == "invalid_json"


def test_unparsable_form_blocks_answer_invalid_blocks_format(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        client.api_call("chat.postMessage", data={"channel": CHANNEL, "text": "t", "blocks": "[{"})
    assert refused.value.response["error"] == "invalid_blocks_format"
