"""What a person reads: counts agree with their noun everywhere ("1 alert", never "1 alerts"), and a
Slack ping's footer names the trigger and shows the time in the reader's zone, never an internal key."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from syncer_connectors.email.render import render_digest_email
from syncer_connectors.slack.blocks import render_alert, render_digest

from syncer.demo.landed import block_html, channel_html, mrkdwn
from syncer.wording import plural

NEW_YORK = ZoneInfo("America/New_York")
ALERT = {
    "alert_id": "outbox-key-7f3a9c",
    "account_id": "acct_12",
    "account_name": "Cedar Robotics 12",
    "trigger": "seat_limit_approaching",
    "priority": "high",
    "value": 0.86,
    "threshold": 0.8,
    "owner_slack_id": "U0OWNER001",
    "fired_at": "2026-03-02T13:00:00+00:00",
}
ONE_BAD = re.compile(r"\b1 (alerts|accounts|tasks|replies|messages|reps|companies|days|records|results|blocks)\b")


@pytest.mark.parametrize(
    ("count", "noun", "many", "expected"),
    [
        (0, "alert", None, "0 alerts"),
        (1, "alert", None, "1 alert"),
        (2, "alert", None, "2 alerts"),
        (1, "reply", "replies", "1 reply"),
        (3, "reply", "replies", "3 replies"),
        (1.0, "day", None, "1 day"),
        (90.0, "day", None, "90 days"),
        (1.5, "alert", None, "1.5 alerts"),
        (-1, "account", None, "-1 accounts"),
    ],
)
def test_plural(count: float, noun: str, many: str | None, expected: str) -> None:
    assert plural(count, noun, many) == expected


def _slack_digest() -> str:
    return json.dumps(render_digest("U0OWNER001", [ALERT]))


def _email_digest() -> str:
    return "\n".join(render_digest_email("dana@example.com", [ALERT]))


def _thread() -> str:
    message = {"ts": "1772456400.0", "text": "parent"}
    reply = {"ts": "1772456401.0", "thread_ts": "1772456400.0", "text": "reply"}
    older = {"ts": "1772456300.0", "text": "older"}
    return channel_html("#c", [older, message, reply], {}, NEW_YORK, 1)


SURFACES: dict[str, Callable[[], str]] = {
    "slack digest": _slack_digest,
    "email digest": _email_digest,
    "landed page thread and earlier messages": _thread,
}


@pytest.mark.parametrize("surface", SURFACES)
def test_a_count_of_one_reads_singular(surface: str) -> None:
    text = SURFACES[surface]()
    assert re.search(r"\b1 [a-z]", text), text  # the surface does count one of something
    assert not ONE_BAD.search(text), text


def test_ping_footer_names_the_trigger_and_the_readers_time_not_the_key() -> None:
    _, blocks = render_alert(ALERT)
    assert ALERT["alert_id"] not in json.dumps(blocks)
    footer = blocks[-1]
    assert footer["type"] == "context"
    text = footer["elements"][0]["text"]
    # Slack's date token: each reader's client shows it in their own zone; the fallback is UTC
    assert (
        text == "Seat limit approaching · fired <!date^1772456400^{date_short_pretty} at {time}|2 Mar 2026, 13:00 UTC>"
    )
    shown = block_html(footer, {}, NEW_YORK)
    assert "Seat limit approaching · fired" in shown and "Mar 2 at 8:00 AM EST" in shown and "UTC" not in shown


def test_footer_without_a_time_still_names_the_trigger() -> None:
    _, blocks = render_alert({**ALERT, "fired_at": None})
    assert blocks[-1]["elements"][0]["text"] == "Seat limit approaching"


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        ("<!date^1772456400^{date_num} {time}|fallback>", "2026-03-02 8:00 AM EST"),
        ("<!date^1788181200^{date_short} at {time_secs}|x>", "Aug 31, 2026 at 9:00:00 AM EDT"),
        ("<!date^notanumber^{date}|2 Mar 2026>", "2 Mar 2026"),  # unreadable: Slack shows the fallback
    ],
)
def test_landed_page_reads_slack_date_tokens_in_the_recipients_zone(token: str, shown: str) -> None:
    assert re.sub(r"<[^>]+>", "", mrkdwn(token, {}, NEW_YORK)) == shown
