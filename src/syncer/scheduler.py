"""Schedules: which jobs exist, when they fire, which slot a firing belongs to, and who runs after whom.

A job is a sync with a `[schedule]` (cron or every_minutes, in an IANA time zone) or the `score`
refresh (`[daemon.score]`). APScheduler 3.x fires them; every job gets an explicit id, `max_instances=1`
(no overlap inside a process), `coalesce=True` (a backlog collapses into one run) and
`misfire_grace_time` (a run that cannot start within that many seconds of its time is dropped: the
next slot syncs the same changes, so a dropped slot costs freshness, never data).

Across replicas, a firing is identified by its *slot*: the job's scheduled fire time. `every_minutes`
grids are anchored at 2000-01-01 00:00 in the job's time zone, so every replica computes the same
slots; the daemon claims each slot once in the state DB (`job_slots`).

Dependencies (`after = ["score"]`) are chained: when a job finishes, each job that lists it runs
next, in the same worker thread, for the same slot. A job may have both a schedule and `after`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syncer.config import Config, ScheduleConfig
from syncer.errors import ConfigError, ConfigIssue

SCORE_JOB = "score"
RETRY_PREFIX = "retry:"
ANCHOR = dt.datetime(2000, 1, 1)

slot_meta = sa.MetaData()
job_slots = sa.Table(
    "job_slots",
    slot_meta,
    sa.Column("job", sa.String(200), primary_key=True),
    sa.Column("slot", sa.String(80), primary_key=True),
    sa.Column("owner", sa.String(200)),
    sa.Column("status", sa.String(20)),
    sa.Column("run_id", sa.Integer),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)


@dataclass(frozen=True)
class JobSpec:
    name: str
    schedule: ScheduleConfig | None
    after: tuple[str, ...]
    file: str

    @property
    def trigger(self) -> BaseTrigger | None:
        return trigger_for(self.schedule) if self.schedule else None


def trigger_for(schedule: ScheduleConfig) -> BaseTrigger | None:
    tz = ZoneInfo(schedule.timezone)
    if schedule.cron:
        return CronTrigger.from_crontab(schedule.cron, timezone=tz)
    if schedule.every_minutes:
        return IntervalTrigger(seconds=schedule.every_minutes * 60, start_date=ANCHOR.replace(tzinfo=tz), timezone=tz)
    return None


def fire_times(trigger: BaseTrigger, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """Every fire time in [start, end): what the scheduler would fire over that window."""
    t = trigger.get_next_fire_time(None, start)
    while t is not None and t < end:
        yield t
        t = trigger.get_next_fire_time(t, t)


def slot_for(trigger: BaseTrigger | None, now: dt.datetime, lookback: float) -> dt.datetime:
    """The slot a firing at `now` belongs to: the latest fire time <= now within the lookback."""
    last = None
    if trigger is not None:
        for t in fire_times(trigger, now - dt.timedelta(seconds=lookback), now + dt.timedelta(microseconds=1)):
            last = t
    return (last or now.replace(microsecond=0)).astimezone(dt.UTC)


def slot_key(slot: dt.datetime, after: str | None = None) -> str:
    key = slot.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{key} after {after}" if after else key


def job_specs(config: Config, score_schedule: ScheduleConfig | None) -> dict[str, JobSpec]:
    """Every job the daemon knows, validated: known dependencies, valid zones and crons, no cycles."""
    specs: dict[str, JobSpec] = {}
    has_scoring = "scoring" in config.raw
    if has_scoring:
        specs[SCORE_JOB] = JobSpec(SCORE_JOB, score_schedule, (), str(config.path))
    for name, sync in config.syncs.items():
        after = tuple(sync.schedule.after) if sync.schedule else ()
        specs[name] = JobSpec(name, sync.schedule, after, config.sync_files.get(name, name))
    issues = []
    for spec in specs.values():
        issues += _schedule_issues(spec)
        for dep in spec.after:
            if dep == SCORE_JOB and not has_scoring:
                issues.append(ConfigIssue(spec.file, "schedule.after", "'score' needs a [scoring] section"))
            elif dep not in specs:
                issues.append(ConfigIssue(spec.file, "schedule.after", f"unknown job {dep!r}"))
    if SCORE_JOB in specs and score_schedule is None and any(SCORE_JOB in s.after for s in specs.values()):
        issues.append(ConfigIssue(str(config.path), "daemon.score", "syncs run after 'score' but it has no schedule"))
    cycle = _find_cycle(specs)
    if cycle:
        issues.append(ConfigIssue(specs[cycle[0]].file, "schedule.after", f"dependency cycle: {' -> '.join(cycle)}"))
    if issues:
        raise ConfigError(issues)
    return specs


def _schedule_issues(spec: JobSpec) -> list[ConfigIssue]:
    s = spec.schedule
    if s is None:
        return []
    key = "daemon.score" if spec.name == SCORE_JOB else "schedule"
    if s.cron and s.every_minutes:
        return [ConfigIssue(spec.file, key, "give either 'cron' or 'every_minutes', not both")]
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return [ConfigIssue(spec.file, f"{key}.timezone", f"unknown IANA time zone {s.timezone!r}")]
    if s.cron:
        try:
            CronTrigger.from_crontab(s.cron, timezone=ZoneInfo(s.timezone))
        except ValueError as exc:
            return [ConfigIssue(spec.file, f"{key}.cron", f"invalid cron expression: {exc}")]
    elif not s.every_minutes and not s.after:
        return [ConfigIssue(spec.file, key, "give 'cron', 'every_minutes' or 'after'")]
    return []


def _find_cycle(specs: dict[str, JobSpec]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> list[str] | None:
        if state.get(name) == 1:
            return [*path[path.index(name) :], name]
        if state.get(name) == 2 or name not in specs:
            return None
        state[name] = 1
        for dep in specs[name].after:
            found = visit(dep, [*path, name])
            if found:
                return found
        state[name] = 2
        return None

    for name in specs:
        found = visit(name, [])
        if found:
            return found
    return None


def dependants(specs: dict[str, JobSpec], name: str) -> list[str]:
    return [s.name for s in specs.values() if name in s.after]


def new_scheduler(max_workers: int) -> BackgroundScheduler:
    return BackgroundScheduler(executors={"default": {"type": "threadpool", "max_workers": max_workers}})


def apply_jobs(
    scheduler: BackgroundScheduler, specs: dict[str, JobSpec], fire: Callable[[str], Any], misfire_grace: int
) -> list[str]:
    """Make the scheduler's jobs match `specs` (start-up and SIGHUP); returns the scheduled job ids."""
    wanted = {name: spec.trigger for name, spec in specs.items() if spec.trigger is not None}
    for job in scheduler.get_jobs():
        if job.id not in wanted and not job.id.startswith(RETRY_PREFIX):
            job.remove()
    for name, trigger in wanted.items():
        scheduler.add_job(
            fire,
            trigger,
            args=[name],
            id=name,
            name=name,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=misfire_grace,
        )
    return sorted(wanted)


def schedule_retry(
    scheduler: BackgroundScheduler, name: str, slot: dt.datetime, at: dt.datetime, retry: Callable[..., Any]
) -> None:
    """Check again at `at` (when the other replica's lease would expire) whether `slot` still needs a run."""
    scheduler.add_job(
        retry,
        DateTrigger(run_date=at),
        args=[name, slot],
        id=f"{RETRY_PREFIX}{name}",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
