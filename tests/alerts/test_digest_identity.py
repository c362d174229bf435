"""A message found under an outbox key is this row's only when it is this message (adv6 finding 1).

Digest keys name a slot (`digest:<recipient>:<local date>:<n>`), which a rebuilt state or another
project sharing the Slack app fills with other alerts: the history lookup must not take that
message as this digest's acknowledgement. A crash between Slack's acknowledgement and the state
write (the same frozen row sent again) must still be found, and an alert's ping is found by its key
even when the value it shows moved (a state loss re-opens the same episode).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts.outbox import message_record
from syncer.alerts.store import outbox
from tests.alerts.support import OWNERS, T0, Clock, engine, row, sqlite_url

H = dt.timedelta(hours=1)
OWNER = "ae1@example.com"
NINE_NY = T0 + 14 * H  # 09:00 EST, the configured digest time


def medium(first: int, count: int) -> list[dict[str, object]]:
    """`count` medium alerts (digest, not ping) owned by OWNER."""
    return [row(i, trigger="storage_limit_approaching", owner_email=OWNER) for i in range(first, first + count)]


def forget_delivery(url: str) -> None:
    """What a crash between Slack's acknowledgement and the state write leaves: delivered rows pending."""
    with sa.create_engine(url).begin() as conn:
        conn.execute(outbox.update().where(outbox.c.kind == "digest").values(status="pending", dest_id=None))


# (case, first state's alerts, second state's alerts or None for "the same state, after a crash")
CASES = [
    ("state rebuilt the same day", (0, 3), (10, 5)),
    ("another project, same Slack app, multi-part digest", (0, 3), (100, 600)),
    ("crash after Slack acknowledged: found, not re-posted", (0, 3), None),
]


@pytest.mark.parametrize(("case", "first", "second"), CASES, ids=[c[0] for c in CASES])
def test_a_digest_is_acknowledged_only_by_its_own_message(
    tmp_path: Path,
    slack: SlackEmulator,
    fake: Clock,
    case: str,
    first: tuple[int, int],
    second: tuple[int, int] | None,
) -> None:
    dm = slack.dm_channel(OWNERS[OWNER])
    url_a = sqlite_url(tmp_path, "a.sqlite")
    a = engine(url_a, slack.api_url, slack.token, fake, fast=True)
    a.evaluate_and_deliver(T0, rows=medium(*first))
    assert a.send_due_digests(NINE_NY)["messages"] == 1
    if second is None:
        forget_delivery(url_a)
        again = a.send_due_digests(NINE_NY + H)
        assert again["messages"] == 1 and len(slack.messages(dm)) == 1  # found in history, not posted twice
        return
    url_b = sqlite_url(tmp_path, "b.sqlite")
    b = engine(url_b, slack.api_url, slack.token, fake, fast=True)
    b.evaluate_and_deliver(T0 + H, rows=medium(*second))  # queued before 09:00: that day's digest too
    sent = b.send_due_digests(NINE_NY + H)
    parts = sent["built"][0]["parts"]
    messages = slack.messages(dm)
    print(f"\n{case}: second state's digest {parts} parts, {len(messages)} messages in the DM")
    assert sent["messages"] == parts and len(messages) == 1 + parts
    with sa.create_engine(url_b).connect() as conn:
        rows = list(conn.execute(sa.select(outbox.c.key, outbox.c.dest_id).where(outbox.c.kind == "digest")))
    first_ts = f"{dm}:{messages[0]['ts']}"
    assert rows and all(r.dest_id != first_ts for r in rows)  # none took the first state's message as its own
    text = "\n".join(b["text"]["text"] for m in messages[1:] for b in m["blocks"] if b["type"] == "section")
    listed = {line.split("*")[1] for line in text.splitlines() if line.startswith("• ")}
    assert listed == {f"Account {i}" for i in range(second[0], second[0] + second[1])}  # every alert reached the rep


# (kind, key, payload of the first message, payload of the second, same message?)
IDENTITY = [
    ("digest", "digest:U0AE1:2026-03-02:1", {"text": "3 alerts"}, {"text": "3 alerts"}, True),
    ("digest", "digest:U0AE1:2026-03-02:1", {"text": "3 alerts"}, {"text": "5 other alerts"}, False),
    ("email_digest", "email-digest:a@x.io:2026-03-02", {"text": "3 alerts"}, {"text": "5 other alerts"}, False),
    ("ping", "acct-1:seat:2026-02-20T00:00:00Z", {"text": "value 0.85"}, {"text": "value 0.91"}, True),
    ("email", "acct-1:seat:2026-02-20T00:00:00Z", {"text": "value 0.85"}, {"text": "value 0.91"}, True),
    ("escalation", "escalation:acct-1:seat:2026-02-20T00:00:00Z", {"text": "a"}, {"text": "b"}, True),
]


@pytest.mark.parametrize(("kind", "key", "before", "after", "same"), IDENTITY)
def test_message_identity_by_kind(
    kind: str, key: str, before: dict[str, str], after: dict[str, str], same: bool
) -> None:
    """A slot key's message is its content; an alert's key is its episode (the lookup must find a ping whose
    value moved after a state loss, and must not find another state's digest of the same day)."""

    def fingerprint(payload: dict[str, str]) -> str:
        return message_record(sa_row(kind, key, json.dumps(payload))).fingerprint

    assert (fingerprint(before) == fingerprint(after)) is same


def sa_row(kind: str, key: str, payload: str) -> sa.Row[object]:
    """An outbox row as the delivery reads it."""
    columns = [sa.literal(kind).label("kind"), sa.literal(key).label("key"), sa.literal(payload).label("payload")]
    columns.append(sa.literal("0a1b2c3d4e5f6071").label("scope"))  # one project (test_project_identity: two)
    with sa.create_engine("sqlite://").connect() as conn:
        return conn.execute(sa.select(*columns)).one()


# (zone, digest time, UTC hour the day's alert opens): adv6 finding 2's simulation and its neighbours
SAME_HOUR = [
    ("America/New_York", "09:00", 18),  # the evaluator's: alert at 13:00 local, after the digest time
    ("Asia/Tokyo", "08:30", 5),  # 14:00 local
    ("UTC", "09:00", 8),  # before the digest time: that day's digest (passes before the fix too)
]


@pytest.mark.parametrize(("zone", "at", "hour"), SAME_HOUR)
def test_the_digest_arrives_at_the_same_local_time_daily(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, zone: str, at: str, hour: int
) -> None:
    """One alert a day, the clock stepped hourly for four days: every digest goes at `time` local, and an alert
    opened after it (nothing queued at `time`) waits for the next day's, never going out at its own hour."""
    eng = engine(
        sqlite_url(tmp_path), slack.api_url, slack.token, fake, fast=True, digest={"time": at, "timezone": zone}
    )
    start = T0.replace(hour=0)
    firing: list[dict[str, object]] = []
    sent_at = []
    for step in range(4 * 24 * 2):  # every half hour
        now = start + step * H / 2
        if now.hour == hour and now.minute == 0 and now < start + 3 * 24 * H:
            firing.append(medium(len(firing), 1)[0])
            eng.evaluate_and_deliver(now, rows=list(firing))
        if eng.send_due_digests(now)["messages"]:
            sent_at.append(now.astimezone(ZoneInfo(zone)))
    print(f"\n{zone} {at}, alerts at {hour:02d}:00 UTC: digests at {[f'{t:%a %H:%M}' for t in sent_at]}")
    assert len(sent_at) == 3 and {f"{t:%H:%M}" for t in sent_at} == {at}
    dm = slack.dm_channel(OWNERS[OWNER])
    assert len(slack.messages(dm)) == 3  # each alert once, in the digest after it opened
