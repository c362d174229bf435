"""Block Kit rendering: alert pings and digests, within Slack's limits, posted to the emulator."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from syncer_connectors.slack.block_limits import (
    MAX_BLOCKS,
    MAX_PAYLOAD_CHARS,
    MAX_SECTION_TEXT,
    payload_size,
    validate_blocks,
)
from syncer_connectors.slack.blocks import render_alert, render_digest
from syncer_connectors.slack.emulator import SlackEmulator

from tests.connectors.test_slack_support import connector, keys_in, message, workspace

TRIGGERS = [
    ("seat_limit_approaching", "high", 0.8),
    ("rapid_seat_growth", "high", 0.2),
    ("premium_feature_adoption", "medium", 3),
    ("API limit approaching", "medium", 0.7),
    ("storage-limit-approaching", "medium", 0.75),
    ("high_engagement_growth", "low", 0.3),
]


def alerts(n: int) -> list[dict[str, Any]]:
    """n alerts over every trigger, some with long, escaped or non-ASCII names, each with a unique id."""
    out = []
    for i in range(n):
        trigger, priority, threshold = TRIGGERS[i % len(TRIGGERS)]
        name = f"Acct-{i:05d} " + ("Ünïcødé GmbH & <Co> " * (3 if i % 7 == 0 else 0))
        out.append(
            {
                "alert_id": f"a{i}",
                "account_id": f"acct-{i}",
                "account_name": name.strip(),
                "trigger": trigger,
                "priority": priority,
                "value": threshold * (1 + (i % 13) / 10),
                "threshold": threshold,
                "previous_value": threshold * 0.9 if i % 2 else None,
                "owner_slack_id": "U0ANNA" if i % 3 else None,
                "owner_email": "owner@example.com",
                "crm_url": f"https://crm.example.com/accounts/acct-{i}",
            }
        )
    return out


def text_of(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_alert_says_what_fired_for_whom_and_what_to_do() -> None:
    text, blocks = render_alert(
        {
            "alert_id": "acct-1:seat",
            "account_name": "Acme & Sons <EU>",
            "trigger": "Seat limit approaching",
            "priority": "high",
            "value": 0.85,
            "threshold": 0.8,
            "previous_value": 0.72,
            "owner_slack_id": "U0ANNA",
            "crm_url": "https://crm.example.com/a/1",
            "fired_at": "2026-11-23T06:00:00Z",
        }
    )
    body = text_of(blocks)
    assert validate_blocks(blocks) == []
    assert "85% (threshold 80%)" in body
    assert ":arrow_up: from 72% (+13 pts)" in body
    assert "<@U0ANNA>" in body and "<@U0ANNA>" in text
    assert "Lead with the value delivered" in body  # the seat-limit playbook line
    assert "<https://crm.example.com/a/1|Acme &amp; Sons &lt;EU&gt;>" in body
    assert {
        "type": "button",
        "text": {"type": "plain_text", "text": "Open in CRM", "emoji": True},
        "url": "https://crm.example.com/a/1",
        "action_id": "open_crm",
    } in blocks[3]["elements"]


def test_alert_without_owner_id_or_url_still_renders() -> None:
    text, blocks = render_alert(
        {"account_name": "Beta", "trigger": "custom_signal", "value": 12, "owner_email": "bo@x.io"}
    )
    assert "Custom signal for Beta" in text
    body = text_of(blocks)
    assert validate_blocks(blocks) == []
    assert "bo@x.io" in body and "*Beta*" in body and "Custom signal" in body
    assert "Review usage vs limits" in body  # the general playbook line
    assert all(b["type"] != "actions" for b in blocks)


def test_digest_groups_by_priority_and_ranks_by_severity() -> None:
    [(text, blocks)] = render_digest("U0ANNA", alerts(12))
    body = text_of(blocks)
    titles = ("Seat limit approaching", "Premium feature", "High engagement growth")
    order = [body.index(title) for title in titles]
    assert order == sorted(order)  # high, then medium, then low
    seat = re.findall(r"Acct-(\d{5})", body[body.index("Seat limit") : body.index("Rapid seat")])
    assert seat == ["00006", "00000"]  # i=6 is further past its threshold than i=0
    assert "12 usage alerts" in text and "<@U0ANNA>" in body


@pytest.mark.parametrize("n", [3, 3000])
def test_digest_stays_within_limits_and_lists_each_alert_once(n: int) -> None:
    messages = render_digest("U0ANNA", alerts(n))
    ids = Counter(re.findall(r"Acct-(\d{5})", "".join(text_of(b) for _, b in messages)))
    assert len(ids) == n and set(ids.values()) == {1}
    for text, blocks in messages:
        assert validate_blocks(blocks) == []
        assert len(blocks) <= MAX_BLOCKS
        assert payload_size(text, blocks) <= MAX_PAYLOAD_CHARS
        assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in blocks if b["type"] == "section")
    assert (len(messages) == 1) == (n == 3)


def test_empty_digest_sends_nothing() -> None:
    assert render_digest("C0ALERTS", []) == []


@pytest.fixture(scope="module")
def server() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator  # type: ignore[misc]


@pytest.mark.parametrize("n", [3, 3000])
def test_digest_posts_without_slack_errors(server: SlackEmulator, clock: Any, n: int) -> None:
    emu = workspace(server, clock)
    slack = connector(emu, clock)
    parts = render_digest("U0ANNA", alerts(n))
    key = "digest:U0ANNA:2026-11-23:{}"
    records = [message(key.format(i), "U0ANNA", t, blocks=b) for i, (t, b) in enumerate(parts)]
    size = slack.effective_batch_size
    results = [r for start in range(0, len(records), size) for r in slack.send(records[start : start + size])]
    assert [r.status for r in results] == ["ok"] * len(parts), [r.reason for r in results if r.status != "ok"]
    dm = emu.dm_channel("U0ANNA")
    assert keys_in(emu, dm) == [r.key for r in records]  # every part once, in order
    posted = "".join(text_of(m["blocks"]) for m in emu.messages(dm))
    ids = Counter(re.findall(r"Acct-(\d{5})", posted))
    assert len(ids) == n and set(ids.values()) == {1}
    assert emu.ratelimited == 0
