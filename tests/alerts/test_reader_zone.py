"""`[digest] timezones` keyed the way docs/reference/digest.md says (Slack id, channel or email address) is the
zone the recipient reads in: their digest's send time and the times in their pings (adv6 finding 7)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from syncer_connectors.slack.emulator import SlackEmulator

from tests.alerts.support import OWNERS, T0, Clock, engine, row, sqlite_url

OWNER = "ae1@example.com"
TOKYO, NEW_YORK = "Asia/Tokyo", "America/New_York"  # New York is the configured default zone

# (how `timezones` names the recipient, the zone their digest and pings must use)
KEYS = [
    (OWNERS[OWNER], TOKYO),  # the Slack user id (worked before)
    (OWNER, TOKYO),  # the owner's email, as the reference documents
    ("AE1@Example.COM", TOKYO),  # an address is case-insensitive
    ("ae2@example.com", NEW_YORK),  # someone else's entry: the default zone
]


@pytest.mark.parametrize(("key", "zone"), KEYS)
def test_a_recipient_keyed_by_email_reads_in_that_zone(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, key: str, zone: str
) -> None:
    digest = {"time": "09:00", "timezone": NEW_YORK, "timezones": {key: TOKYO}}
    eng = engine(sqlite_url(tmp_path), slack.api_url, slack.token, fake, fast=True, digest=digest)
    fired = "2026-03-01T22:00:00Z"
    rows = [
        row(0, owner_email=OWNER, fired_at=fired),  # high: a ping to the owner's DM
        row(1, trigger="storage_limit_approaching", owner_email=OWNER, fired_at=fired),  # medium: the digest
    ]
    opened = T0 - dt.timedelta(hours=2)  # 07:00 in Tokyo, 19:00 the day before in New York
    eng.evaluate_and_deliver(opened, rows=rows)
    dm = slack.dm_channel(OWNERS[OWNER])
    [ping] = slack.messages(dm)
    sent = [opened + dt.timedelta(minutes=30 * n) for n in range(1, 2 * 36)]
    first = next(now for now in sent if eng.send_due_digests(now)["messages"])
    print(f"\ntimezones key {key!r}: digest at {first.astimezone(ZoneInfo(zone)):%a %H:%M} {zone}")
    assert first.astimezone(ZoneInfo(zone)).strftime("%H:%M") == "09:00"
    assert eng.next_digest_at(OWNERS[OWNER], first).astimezone(ZoneInfo(zone)).strftime("%H:%M") == "09:00"
    label = dt.datetime(2026, 3, 2, tzinfo=ZoneInfo(zone)).strftime("%Z")  # JST / EST: the ping's "fired" time
    assert label in str(ping["blocks"]), ping["blocks"]


@pytest.mark.parametrize(("key", "zone"), KEYS)
def test_the_ping_budget_day_is_the_readers(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, key: str, zone: str
) -> None:
    """A budget of one ping a day, two high alerts at 23:00 and 01:00 Tokyo (09:00 and 11:00 New York): two local
    days in Tokyo (both pinged), one in New York (the second deferred to the digest)."""
    digest = {"time": "09:00", "timezone": NEW_YORK, "timezones": {key: TOKYO}}
    budget = {"budget": {"per_recipient": 1, "per_channel": 1}}
    eng = engine(sqlite_url(tmp_path), slack.api_url, slack.token, fake, fast=True, digest=digest, alerts=budget)
    first = row(0, owner_email=OWNER)
    eng.evaluate_and_deliver(T0 + dt.timedelta(hours=14), rows=[first])
    later = eng.evaluate_and_deliver(T0 + dt.timedelta(hours=16), rows=[first, row(5, owner_email=OWNER)])
    pings = len(slack.messages(slack.dm_channel(OWNERS[OWNER])))
    assert (pings, later.pings.sent.get("ping", 0)) == ((2, 1) if zone == TOKYO else (1, 0))
