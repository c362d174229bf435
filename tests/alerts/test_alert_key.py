"""The alert key is the idempotency key of an episode: stable without local state, distinct per episode."""

from __future__ import annotations

import datetime as dt

import pytest

from syncer.alerts.lifecycle import alert_key

T = dt.datetime(2026, 3, 2, 13, 14, 15, tzinfo=dt.UTC)
DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("first", "second", "cooldown", "same"),
    [
        (T, T + 3 * HOUR, 30 * DAY, True),  # a re-open after a state loss, same window: found, not re-sent
        (T, T + 30 * DAY, 30 * DAY, False),  # the next episode (cooldown passed): a new key
        (T, T + 2 * HOUR, 2 * HOUR, False),  # an hour-scale cooldown: every allowed re-open is new
        (T, T + 90 * 60 * dt.timedelta(seconds=1), 2 * HOUR, False),  # 13:14 and 14:44 straddle 14:00
        (T, T + dt.timedelta(seconds=1), dt.timedelta(0), False),  # no cooldown: the opening second
        (T, T.astimezone(dt.timezone(dt.timedelta(hours=-5))), 30 * DAY, True),  # the same instant anywhere
    ],
)
def test_alert_key_names_one_episode(
    first: dt.datetime, second: dt.datetime, cooldown: dt.timedelta, same: bool
) -> None:
    a, b = alert_key("acct-1", "seat", first, cooldown), alert_key("acct-1", "seat", second, cooldown)
    assert (a == b) is same, (a, b)
    assert a.startswith("acct-1:seat:")


def test_episodes_a_cooldown_apart_never_share_a_key() -> None:
    """Every pair of openings at least `cooldown` apart gets distinct keys (the lifecycle never opens closer)."""
    for cooldown in (dt.timedelta(minutes=7), 5 * HOUR, 30 * DAY, dt.timedelta(days=0.5)):
        opens = [T + n * cooldown + dt.timedelta(seconds=n * 37 % 11) for n in range(200)]
        assert len({alert_key("a", "t", at, cooldown) for at in opens}) == len(opens)
