"""Schedules across daylight-saving changes: a fixed local time fires once per local day, an hourly
schedule fires every real hour. The clock is the `now` handed to the trigger: nothing waits."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from syncer.config import ScheduleConfig
from syncer.scheduler import fire_times, slot_for, trigger_for

NY = ZoneInfo("America/New_York")
SPRING, FALL = dt.date(2026, 3, 8), dt.date(2026, 11, 1)  # US change days in 2026


def _local_day(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=NY)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=NY)


def _fires(schedule: ScheduleConfig, day: dt.date) -> list[dt.datetime]:
    trigger = trigger_for(schedule)
    assert trigger is not None
    return list(fire_times(trigger, *_local_day(day)))


CASES = [
    # (schedule, day, fires that local day, real hours between consecutive fires)
    (ScheduleConfig(cron="30 1 * * *", timezone="America/New_York"), FALL, 1, None),
    (ScheduleConfig(cron="30 1 * * *", timezone="America/New_York"), SPRING, 1, None),
    (ScheduleConfig(cron="30 2 * * *", timezone="America/New_York"), SPRING, 1, None),  # 02:30 does not exist
    (ScheduleConfig(cron="30 2 * * *", timezone="America/New_York"), FALL, 1, None),
    (ScheduleConfig(every_minutes=1440, timezone="America/New_York"), FALL, 1, None),
    (ScheduleConfig(every_minutes=1440, timezone="America/New_York"), SPRING, 1, None),
    (ScheduleConfig(cron="0 * * * *", timezone="America/New_York"), FALL, 25, 1.0),  # the day has 25 hours
    (ScheduleConfig(cron="0 * * * *", timezone="America/New_York"), SPRING, 23, 1.0),  # and this one 23
    (ScheduleConfig(every_minutes=60, timezone="America/New_York"), FALL, 25, 1.0),
    (ScheduleConfig(every_minutes=60, timezone="America/New_York"), SPRING, 23, 1.0),
]


@pytest.mark.parametrize(("schedule", "day", "count", "gap_hours"), CASES)
def test_fires_per_local_day_on_dst_change_days(
    schedule: ScheduleConfig, day: dt.date, count: int, gap_hours: float | None
) -> None:
    fires = _fires(schedule, day)
    assert len(fires) == count, [f.astimezone(NY).isoformat() for f in fires]
    if gap_hours is not None:
        utc = [f.astimezone(dt.UTC) for f in fires]  # aware datetimes in one zone subtract wall-clock
        gaps = {(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(utc)}
        assert gaps == {gap_hours}, gaps


@pytest.mark.parametrize("day", [SPRING, FALL])
def test_daily_schedules_keep_their_local_time_all_year(day: dt.date) -> None:
    """A daily job fires at the same wall-clock time the day before, on, and after a change."""
    for schedule, wall in (
        (ScheduleConfig(cron="30 1 * * *", timezone="America/New_York"), dt.time(1, 30)),
        (ScheduleConfig(every_minutes=1440, timezone="America/New_York"), dt.time(0, 0)),
    ):
        for offset in (-1, 1):
            [fire] = _fires(schedule, day + dt.timedelta(days=offset))
            assert fire.astimezone(NY).time() == wall, (schedule, fire)


def test_the_daemon_slot_of_the_repeated_hour_is_the_first_firing() -> None:
    """During the repeated hour the daemon's slot for a daily 01:30 is still the one firing at 01:30 EDT."""
    trigger = trigger_for(ScheduleConfig(cron="30 1 * * *", timezone="America/New_York"))
    first = dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)  # 01:30 EDT
    second = first + dt.timedelta(hours=1)  # 01:30 EST, the wall clock shows 01:30 again
    assert slot_for(trigger, first + dt.timedelta(seconds=5), 7200) == first
    assert slot_for(trigger, second + dt.timedelta(seconds=5), 7200) == first
