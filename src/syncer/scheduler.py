"""Schedules: which jobs exist, when they fire, which slot a firing belongs to, and who runs after whom.

A job is a sync with a `[schedule]` (cron or every_minutes, in an IANA time zone), the `score`
refresh (`[daemon.score]`), one of the alert jobs (`alerts`, `digest`, `escalate`: with an
`[alerts]` section) or the outcomes `report` (with `[report].path`), each under `[daemon.<job>]`.
APScheduler 3.x fires them; every job gets an explicit id, `max_instances=1`
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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syncer.config import Config, ScheduleConfig, _did_you_mean
from syncer.errors import ConfigError, ConfigIssue
from syncer.timestamps import UtcDateTime

SCORE_JOB = "score"
ALERTS_JOB, DIGEST_JOB, ESCALATE_JOB, REPORT_JOB = "alerts", "digest", "escalate", "report"
INTRADAY_JOB = "intraday"  # the intraday trigger lane ([daemon.intraday], syncer/intraday/)
DAEMON_JOBS = (SCORE_JOB, ALERTS_JOB, DIGEST_JOB, ESCALATE_JOB, REPORT_JOB, INTRADAY_JOB)
# Defaults when `[daemon.<job>]` is absent. The digest job polls: the engine sends a recipient's digest
# once per local day when it is due, and the 5-minute grid (anchored at 00:00) hits every local time
# that is a multiple of 5 minutes in every zone, so "09:00" goes out at 09:00:00 local.
DEFAULT_SCHEDULES = {
    ALERTS_JOB: ScheduleConfig(every_minutes=15),
    DIGEST_JOB: ScheduleConfig(every_minutes=5),
    ESCALATE_JOB: ScheduleConfig(every_minutes=15),
    REPORT_JOB: ScheduleConfig(cron="0 6 * * *"),
    INTRADAY_JOB: ScheduleConfig(every_minutes=2),
}
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
    sa.Column("started_at", UtcDateTime()),
    sa.Column("finished_at", UtcDateTime()),
)


@dataclass(frozen=True)
class JobSpec:
    name: str
    schedule: ScheduleConfig | None
    after: tuple[str, ...]
    file: str
    builtin: bool = False  # a daemon job ([daemon.<name>]), not a sync

    @property
    def key(self) -> str:
        """Where its schedule is configured, for error messages."""
        return f"daemon.{self.name}" if self.builtin else "schedule"

    @property
    def trigger(self) -> BaseTrigger | None:
        return trigger_for(self.schedule) if self.schedule else None


class WallClockCronTrigger(CronTrigger):  # type: ignore[misc]  # APScheduler 3 ships no type hints
    """A cron trigger that fires a fixed local time once per local day, also on DST change days.

    APScheduler's CronTrigger fires `30 1 * * *` twice when the clocks go back (01:30 EDT, then
    01:30 EST). Like Vixie cron, a schedule with fixed hours fires on the first occurrence of a
    repeated wall-clock time only; a schedule whose hour field is `*` (hourly) keeps firing every
    real hour, so the repeated hour runs twice. On spring-forward a time that does not exist fires
    once, at the same offset into the shifted hour (APScheduler's own behaviour, kept).
    """

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
        fire: dt.datetime | None = super().get_next_fire_time(previous_fire_time, now)
        hours = next(f for f in self.fields if f.name == "hour")
        if str(hours) == "*":
            return fire
        while fire is not None and _is_repeat(fire):
            fire = super().get_next_fire_time(fire, fire.astimezone(dt.UTC) + dt.timedelta(seconds=1))
        return fire


def _is_repeat(moment: dt.datetime) -> bool:
    """True when `moment` is the second occurrence of its local wall-clock time (DST fall-back)."""
    wall = moment.replace(tzinfo=None)
    first = wall.replace(tzinfo=moment.tzinfo, fold=0)
    return first.astimezone(dt.UTC) < moment.astimezone(dt.UTC)


def trigger_for(schedule: ScheduleConfig) -> BaseTrigger | None:
    """The trigger of one schedule in its time zone. `every_minutes` that is a whole number of hours
    dividing a day is a wall-clock grid (every 24*60 = daily at local midnight, all year); any other
    interval counts real minutes from the anchor."""
    tz = ZoneInfo(schedule.timezone)
    if schedule.cron:
        return WallClockCronTrigger.from_crontab(schedule.cron, timezone=tz)
    every = schedule.every_minutes
    if every and every % 60 == 0 and 1440 % every == 0 and every > 60:
        hours = int(every) // 60
        return WallClockCronTrigger(hour="0" if hours == 24 else f"*/{hours}", minute=0, timezone=tz)
    if every:
        return IntervalTrigger(seconds=every * 60, start_date=ANCHOR.replace(tzinfo=tz), timezone=tz)
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


# What a built-in job needs besides its `[daemon.<job>]` table: without it the job does not exist, and a schedule
# given for it would schedule nothing (`daemon_jobs`).
NEEDS = {
    SCORE_JOB: "a [scoring] section",
    ALERTS_JOB: "an [alerts] section",
    DIGEST_JOB: "an [alerts] section",
    ESCALATE_JOB: "an [alerts] section",
    INTRADAY_JOB: "an [alerts] section",
    REPORT_JOB: "[report] path",
}


def daemon_jobs(config: Config, score_schedule: ScheduleConfig | None) -> list[str]:
    """The built-in jobs this config asks for (besides the syncs)."""
    names = [SCORE_JOB] if "scoring" in config.raw else []
    if "alerts" in config.raw:
        names += [ALERTS_JOB, DIGEST_JOB, ESCALATE_JOB]
        if (config.raw.get("daemon") or {}).get("intraday") is not None:
            names.append(INTRADAY_JOB)
    if (config.raw.get("report") or {}).get("path"):
        names.append(REPORT_JOB)
    return names


def job_specs(
    config: Config,
    score_schedule: ScheduleConfig | None,
    schedules: Mapping[str, ScheduleConfig | None] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, JobSpec]:
    """Every job the daemon knows, validated: known dependencies, valid zones and crons that fire (from `now`),
    no cycles, and no schedule that schedules nothing (a `[daemon.<job>]` table of a job this config does not
    run, a job that runs only after jobs that never run). `syncer check` and the daemon (start-up and SIGHUP)
    both call it; raises one ConfigError listing every problem, each keyed by file and key.

    `schedules` are the `[daemon.<job>]` tables of the built-in jobs (absent: DEFAULT_SCHEDULES). The
    `alerts` job also runs after `score` when the score job is scheduled, since fired triggers change
    then; `after = []` in `[daemon.alerts]` turns that off.
    """
    specs: dict[str, JobSpec] = {}
    issues = []
    config_file = str(config.path)
    builtin = daemon_jobs(config, score_schedule)
    given = {SCORE_JOB: score_schedule, **(schedules or {})}
    for name in builtin:
        schedule = score_schedule
        if name != SCORE_JOB:
            schedule = (schedules or {}).get(name) or DEFAULT_SCHEDULES[name]
            if name == ALERTS_JOB and score_schedule is not None and "after" not in schedule.model_fields_set:
                schedule = schedule.model_copy(update={"after": [SCORE_JOB]})
        after = tuple(schedule.after) if schedule else ()
        specs[name] = JobSpec(name, schedule, after, config_file, builtin=True)
    for name, schedule in given.items():
        if schedule is not None and name not in specs:  # given for a job this config does not run
            fix = f"add {NEEDS[name]}, or remove [daemon.{name}]"
            issues.append(ConfigIssue(config_file, f"daemon.{name}", f"schedules nothing: the {name} job runs only "
                                      f"with {NEEDS[name]}, which this config does not have ({fix})"))  # fmt: skip
            issues += schedule_issues(JobSpec(name, schedule, (), config_file, builtin=True), now)
    for name, sync in config.syncs.items():
        if name in specs:
            file = config.sync_files.get(name, name)
            issues.append(ConfigIssue(file, "name", f"{name!r} is the daemon's built-in {name} job; rename the sync"))
            continue
        after = tuple(sync.schedule.after) if sync.schedule else ()
        specs[name] = JobSpec(name, sync.schedule, after, config.sync_files.get(name, name))
    for spec in specs.values():
        issues += schedule_issues(spec, now)
        for dep in spec.after:
            if dep == SCORE_JOB and SCORE_JOB not in specs:
                issues.append(ConfigIssue(spec.file, f"{spec.key}.after", "'score' needs a [scoring] section"))
            elif dep not in specs:
                known = _did_you_mean(dep, specs)
                issues.append(ConfigIssue(spec.file, f"{spec.key}.after", f"unknown job {dep!r}{known}"))
    cycle = _find_cycle(specs)
    if cycle:
        first = specs[cycle[0]]
        issues.append(ConfigIssue(first.file, f"{first.key}.after", f"dependency cycle: {' -> '.join(cycle)}"))
    else:
        issues += _never_run(specs)
    if issues:
        raise ConfigError(issues)
    return specs


def _never_run(specs: dict[str, JobSpec]) -> list[ConfigIssue]:
    """Jobs with a schedule that never run: every job they run after never runs either (no trigger of its own,
    and none of its own `after` jobs run). A job without a schedule (a sync run from the command line) is fine."""
    runs = {name for name, spec in specs.items() if _fires(spec)}
    grew = True
    while grew:
        more = {n for n, s in specs.items() if n not in runs and any(d in runs for d in s.after)}
        runs |= more
        grew = bool(more)
    issues = []
    for spec in specs.values():
        if spec.schedule is None or spec.name in runs or any(d not in specs for d in spec.after):
            continue  # no schedule (command line only), runs, or its unknown job is reported already
        idle = [d for d in spec.after if specs[d].schedule is None]
        why = f"{_quoted(idle)}: no schedule" if idle else "each of them never runs either"
        issues.append(
            ConfigIssue(
                spec.file,
                f"{spec.key}.after",
                f"schedules nothing: {spec.name!r} runs only after {_quoted(list(spec.after))}, which never runs "
                f"({why}); give that job a cron or every_minutes, or give this one its own",
            )
        )
    return issues


def _fires(spec: JobSpec) -> bool:
    """Has the job a trigger of its own? A schedule `schedule_issues` refuses counts as one (it is reported)."""
    try:
        return spec.trigger is not None
    except (ValueError, OverflowError, ZoneInfoNotFoundError):
        return True


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def schedule_issues(spec: JobSpec, now: dt.datetime | None = None) -> list[ConfigIssue]:
    """The problems of one job's own schedule: both or neither of cron and every_minutes (without `after`), an
    unknown time zone, a cron APScheduler refuses, or a trigger that never fires after `now` (default: the
    current time): `0 0 31 2 *` (no 31 February), an every_minutes too large to count."""
    s = spec.schedule
    if s is None:
        return []
    key = spec.key
    if s.cron and s.every_minutes:
        return [ConfigIssue(spec.file, key, "give either 'cron' or 'every_minutes', not both")]
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        meant = _did_you_mean(s.timezone, available_timezones())
        return [ConfigIssue(spec.file, f"{key}.timezone", f"unknown IANA time zone {s.timezone!r}{meant}")]
    if s.cron:
        try:
            CronTrigger.from_crontab(s.cron, timezone=ZoneInfo(s.timezone))
        except ValueError as exc:
            return [ConfigIssue(spec.file, f"{key}.cron", f"invalid cron expression: {exc}")]
    elif not s.every_minutes and not s.after:
        return [ConfigIssue(spec.file, key, "give 'cron', 'every_minutes' or 'after'")]
    field = f"{key}.cron" if s.cron else f"{key}.every_minutes"
    try:
        trigger = trigger_for(s)
        fires = trigger is None or trigger.get_next_fire_time(None, now or dt.datetime.now(dt.UTC)) is not None
    except (ValueError, OverflowError):  # a date past year 9999
        fires = False
    if fires:
        return []
    if s.cron:
        why = f"{s.cron!r} matches no date (a day the month never has, such as 30 February)"
        return [ConfigIssue(spec.file, field, f"schedules nothing: {why}; fix its day or month field")]
    return [ConfigIssue(spec.file, field, f"schedules nothing: {s.every_minutes:g} minutes is too long to count; "
                        "give a shorter interval, or a cron")]  # fmt: skip


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


def prune_slots(engine: sa.Engine, before: dt.datetime) -> int:
    """Forget finished slot claims that started before `before` (the table would grow for years)."""
    with engine.begin() as conn:
        done = job_slots.c.status.in_(("done", "failed", "stopped"))
        return int(conn.execute(job_slots.delete().where(done, job_slots.c.started_at < before)).rowcount or 0)


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
