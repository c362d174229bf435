"""`syncer digest --recipient R` builds and sends R's due digest only (adv6 finding 8): the others stay queued
for their own turn. R is a Slack id, or an owner's email (naming their DM)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from syncer_connectors.slack.emulator import SlackEmulator

from tests.alerts.support import OWNERS, T0, Clock, engine, row, sqlite_url

NINE_NY = T0 + dt.timedelta(hours=14)
ANNA, BEN = "ae1@example.com", "ae2@example.com"

# (--recipient, the owners whose digest goes now)
WHO = [
    (OWNERS[ANNA], {ANNA}),
    (ANNA, {ANNA}),  # the owner's email names their Slack DM
    ("AE2@example.com", {BEN}),
    (None, {ANNA, BEN}),  # no --recipient: every due digest
]


@pytest.mark.parametrize(("who", "served"), WHO)
def test_recipient_sends_only_that_digest(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, who: str | None, served: set[str]
) -> None:
    eng = engine(sqlite_url(tmp_path), slack.api_url, slack.token, fake, fast=True)
    medium = "storage_limit_approaching"
    eng.evaluate_and_deliver(
        T0, rows=[row(1, trigger=medium, owner_email=ANNA), row(2, trigger=medium, owner_email=BEN)]
    )
    sent = eng.send_due_digests(NINE_NY, recipient=who)
    got = {owner for owner in (ANNA, BEN) if dm_messages(slack, owner)}
    assert got == served and [b["recipient"] for b in sent["built"]] == sorted(OWNERS[o] for o in served)
    rest = eng.send_due_digests(NINE_NY + dt.timedelta(minutes=5))  # the others' digests still go, once
    assert {b["recipient"] for b in rest["built"]} == {OWNERS[o] for o in {ANNA, BEN} - served}
    assert all(len(dm_messages(slack, o)) == 1 for o in (ANNA, BEN))


def dm_messages(slack: SlackEmulator, owner: str) -> list[dict[str, object]]:
    """What the owner's DM holds ([] before syncer opened it)."""
    try:
        return slack.messages(slack.dm_channel(OWNERS[owner]))
    except KeyError:
        return []
