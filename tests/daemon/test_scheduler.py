"""Schedules, slots, dependencies, [daemon] validation, SIGHUP reload and the score hook."""

from __future__ import annotations

import datetime as dt
import sys
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.config import ScheduleConfig, load_config
from syncer.daemon import load_settings
from syncer.errors import ConfigError
from syncer.scheduler import fire_times, job_slots, job_specs, slot_for, slot_key, trigger_for
from tests.daemon.conftest import configure, make_daemon, wait_for
from tests.engine.conftest import Project

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def _issues(project: Project) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        config = load_config(project.config)
        job_specs(config, load_settings(config).score)
    return [f"{i.key}: {i.message}" for i in exc.value.issues]


def test_interval_slots_are_the_same_on_every_replica_and_cron_follows_its_time_zone() -> None:
    every5 = trigger_for(ScheduleConfig(every_minutes=5, timezone="Europe/Berlin"))
    assert every5 is not None
    # Anchored grid: the slot does not depend on when a replica started.
    assert slot_for(every5, T0 + dt.timedelta(minutes=7, seconds=3), 360) == T0 + dt.timedelta(minutes=5)
    assert len(list(fire_times(every5, T0, T0 + dt.timedelta(days=1)))) == 288
    daily = trigger_for(ScheduleConfig(cron="30 7 * * *", timezone="America/New_York"))
    assert daily is not None
    march = list(fire_times(daily, dt.datetime(2026, 3, 7, tzinfo=dt.UTC), dt.datetime(2026, 3, 10, tzinfo=dt.UTC)))
    # 07:30 New York is 12:30 UTC before the DST switch (Mar 8) and 11:30 UTC after it.
    assert [t.astimezone(dt.UTC).hour for t in march] == [12, 11, 11]
    assert slot_for(daily, march[1] + dt.timedelta(seconds=2), 360) == march[1]
    assert slot_key(march[1], after="score") == "2026-03-08T11:30:00Z after score"


def test_config_problems_name_file_and_key(project: Project) -> None:
    configure(project, 'every_minutes = 5\ntimezone = "Mars/Olympus"\nafter = ["nope"]')
    assert _issues(project) == [
        "schedule.timezone: unknown IANA time zone 'Mars/Olympus'",
        "schedule.after: unknown job 'nope'",
    ]
    configure(project, 'cron = "61 * * * *"')
    assert _issues(project)[0].startswith("schedule.cron: invalid cron expression")
    configure(project, 'after = ["score"]')
    assert _issues(project) == ["schedule.after: 'score' needs a [scoring] section"]
    configure(project, daemon='ops_alert_webhook = "${NOT_SET_ANYWHERE}"\n')
    [issue] = _issues(project)
    assert issue.startswith("daemon.ops_alert_webhook: ${NOT_SET_ANYWHERE} is not set")
    configure(project, daemon="lease_ttl_seconds = 0\nbogus = 1\n")
    assert _issues(project) == [  # every problem at once
        "daemon.lease_ttl_seconds: Input should be greater than or equal to 1",
        "daemon.bogus: unknown key",
    ]


def test_jobs_have_explicit_ids_and_overlap_settings_and_sighup_reload(
    project: Project, receiver: WebhookReceiver
) -> None:
    configure(project, 'cron = "*/10 * * * *"\ntimezone = "Europe/Berlin"', daemon="misfire_grace_seconds = 120\n")
    daemon = make_daemon(project)
    assert daemon.start_scheduler() == ["accounts"]
    assert daemon.scheduler is not None
    daemon.scheduler.pause()
    [job] = daemon.scheduler.get_jobs()
    assert (job.id, job.max_instances, job.coalesce, job.misfire_grace_time) == ("accounts", 1, True, 120)
    assert str(job.trigger.timezone) == "Europe/Berlin"

    mapping = project.root / "mappings" / "accounts.toml"
    good = mapping.read_text()
    mapping.write_text(good.replace('cron = "*/10 * * * *"', 'cron = "every tuesday"'))
    assert daemon.reload() is False  # broken: the old schedule stays
    [job] = daemon.scheduler.get_jobs()
    assert "*/10" in str(job.trigger) or "minute='*/10'" in str(job.trigger)
    mapping.write_text(good.replace('cron = "*/10 * * * *"', "every_minutes = 15"))
    assert daemon.reload() is True
    [job] = daemon.scheduler.get_jobs()
    assert job.id == "accounts" and job.trigger.interval == dt.timedelta(minutes=15)
    daemon.stop(grace=1)
    daemon.close()


def _scoring_project(project: Project) -> None:
    configure(project, 'after = ["score"]', daemon='[daemon.score]\ncron = "15 6 * * *"\ntimezone = "UTC"\n')
    project.config.write_text(project.config.read_text() + "\n[scoring]\n")


def test_score_job_runs_first_then_its_dependants(
    project: Project, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scoring_project(project)
    calls: list[Any] = []

    def fake_refresh(engine: Any, config: Any, as_of: dt.date) -> Any:
        calls.append(as_of)
        guard = SimpleNamespace(state="failing", reasons=["coverage: 40% of yesterday's accounts"])
        return SimpleNamespace(guard=guard, published=False, accounts_scored=0)

    monkeypatch.setattr("syncer.scoring.refresh.refresh_scores", fake_refresh)
    sent: list[Any] = []
    daemon = make_daemon(project, notifiers=[SimpleNamespace(notify=sent.append)])
    assert set(daemon.specs) == {"score", "accounts"}
    outcome = daemon.run_slot("score", T0)
    assert outcome.status == "guarded"
    assert calls == [dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)]  # score_lag_days = 1
    assert [r["status"] for r in daemon.state.recent_runs("accounts")] == ["ok"]  # the dependant ran after it
    assert len(receiver.records) == 300
    assert [(a.kind, a.state) for a in sent] == [("data_quality", "firing")]
    assert b"syncer_data_quality_guard_ok 0.0" in daemon.metrics.exposition()
    daemon.close()


def test_score_job_without_the_scoring_package_logs_and_dependants_still_run(
    project: Project, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _scoring_project(project)
    daemon = make_daemon(project)
    monkeypatch.setitem(sys.modules, "syncer.scoring.refresh", None)  # as if the package were not there
    assert daemon.run_slot("score", T0).status == "skipped"
    assert "syncer.scoring is not available" in caplog.text
    assert len(receiver.records) == 300
    daemon.close()


def test_busy_lease_schedules_a_retry_that_takes_over_a_dead_replicas_slot(
    project: Project, receiver: WebhookReceiver
) -> None:
    """The daemon path (not the simulator's polling): busy -> retry job at the lease's expiry -> take-over."""
    configure(project, "every_minutes = 5", daemon="lease_ttl_seconds = 1\n")
    daemon = make_daemon(project)
    # A "ghost" replica claimed this slot and died holding the lease (expires in 1 s).
    assert daemon.leases.acquire("accounts", "ghost", ttl=1)
    with daemon.state.engine.begin() as conn:
        conn.execute(
            job_slots.insert().values(
                job="accounts", slot=slot_key(T0), owner="ghost", status="running", started_at=dt.datetime.now(dt.UTC)
            )
        )
    daemon.start_scheduler()
    assert daemon.scheduler is not None
    daemon._attempt("accounts", T0)
    assert daemon.scheduler.get_job("retry:accounts") is not None  # busy: check again at the expiry
    wait_for(lambda: daemon.state.recent_runs("accounts"), timeout=10)
    wait_for(lambda: daemon.state.recent_runs("accounts")[0]["status"] == "ok", timeout=10)

    def slot_row() -> tuple[Any, ...]:
        with daemon.state.engine.connect() as conn:
            return tuple(conn.execute(sa.select(job_slots.c.owner, job_slots.c.status)).one())

    # the run row is finished before the slot claim (metrics and ops alerts come in between): poll
    assert wait_for(lambda: slot_row()[1] == "done" and slot_row(), timeout=10) == (daemon.owner, "done")
    assert daemon.metrics.takeovers.labels("accounts")._value.get() == 1  # type: ignore[attr-defined]
    assert len(receiver.records) == 300
    daemon.stop(grace=5)
    daemon.close()
