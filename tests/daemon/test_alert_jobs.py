"""The daemon's alert jobs (alerts, digest, escalate, report) and ops alerts over Slack.

Everything runs through `Daemon.run_slot` (lease, slot claim, the job, metrics, ops alerts) on a
patched clock, against the Slack and HubSpot emulators on loopback and a `fired_triggers` table in
a SQLite warehouse. Nothing sleeps: the connectors' rates are raised, the retry policy waits zero.
"""

from __future__ import annotations

import datetime as dt
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.config import load_config
from syncer.connector import Destination
from syncer.daemon import Daemon, build_connector
from syncer.errors import ConfigError
from syncer.ops_alerts import OpsAlert, SlackNotifier
from syncer.retry import no_wait
from syncer.runner import Runtime
from syncer.scheduler import job_slots
from syncer.server import DaemonHTTPServer
from tests.daemon.conftest import configure, make_daemon
from tests.engine.conftest import Project

T0 = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)  # 08:00 in New York (EDT since Mar 8)
MIN = dt.timedelta(minutes=1)
SLACK_TOKEN, HS_TOKEN = "xoxb-daemon-test", "hubspot-daemon-test"
OPS, FALLBACK, ESCALATE = "C0OPS", "C0FALLBACK", "C0ESCALATE"
OWNERS = {"ae1@example.com": "U0AE1", "ae2@example.com": "U0AE2"}


class FakeMonotonic:
    """The connectors' limiter clock: moves only when they sleep."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class Clock:
    """The daemon's wall clock, moved by the test."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackEmulator]:
    with SlackEmulator(SLACK_TOKEN, channel_rate=1000.0, channel_burst=100) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def slack(slack_server: SlackEmulator) -> SlackEmulator:
    slack_server.reset()
    for channel in (OPS, FALLBACK, ESCALATE):
        slack_server.add_channel(channel, channel.lower())
    for email, user in OWNERS.items():
        slack_server.add_user(user, email)
    return slack_server


@pytest.fixture
def crm() -> Iterator[HubSpotEmulator]:
    emu = HubSpotEmulator(plan="enterprise", clock=FakeMonotonic(), token=HS_TOKEN)
    emu.store.define("companies", "syncer_account_id", "string", unique=True)
    emu.store.define("tasks", "syncer_key", "string")
    for i in (1, 2):
        emu.store.create("companies", {"syncer_account_id": f"acct-{i}", "name": f"Account {i}"})
    for email in OWNERS:
        emu.add_owner(email)
    emu.start()
    yield emu
    emu.stop()


def fired_triggers(url: str, rows: list[tuple[str, str, str, float, float, str]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS fired_triggers"))
        conn.execute(
            sa.text(
                "CREATE TABLE fired_triggers (account_id VARCHAR(50), account_name VARCHAR(100), trigger VARCHAR(50),"
                " priority VARCHAR(10), value FLOAT, threshold FLOAT, owner_email VARCHAR(100), tier VARCHAR(20))"
            )
        )
        for account, trigger, priority, value, threshold, owner in rows:
            conn.execute(
                sa.text("INSERT INTO fired_triggers VALUES (:a, :n, :t, :p, :v, :th, :o, 'escalate')"),
                {"a": account, "n": f"Account {account}", "t": trigger, "p": priority, "v": value, "th": threshold}
                | {"o": owner},
            )
    engine.dispose()


def alert_project(project: Project, slack: SlackEmulator, crm: HubSpotEmulator | None, daemon: str = "") -> None:
    """The accounts sync (webhook) plus Slack, HubSpot, [alerts], [routing], [digest], [report]."""
    configure(project, daemon=f'ops_alert_channel = "{OPS}"\n' + daemon)
    tasks = 'tasks = { connector = "hubspot", match_field = "syncer_account_id" }' if crm else ""
    hubspot = (
        f'[connectors.hubspot]\ntype = "hubspot"\nbase_url = "{crm.base_url}"\naccess_token = "${{HS_TOKEN}}"\n'
        'plan_tier = "enterprise"\nrate_limit_margin = 0.0\n'
        if crm
        else ""
    )
    extra = textwrap.dedent(f"""
        [connectors.slack]
        type = "slack"
        base_url = "{slack.api_url}"
        bot_token = "${{SLACK_TOKEN}}"
        fallback_channel = "{FALLBACK}"
        channel_rate = 1000.0
        channel_burst = 100
        workspace_calls_per_minute = 100000

        [alerts]
        slack = "slack"
        escalation_channel = "{ESCALATE}"
        sla_hours = 24
        # these tests follow every first firing through ping, task and escalation (quiet activation and the
        # ping budget are tested in tests/alerts/test_guardrails.py)
        activation = {{ quiet = false }}
        budget = {{ per_recipient = 10000, per_channel = 10000 }}
        {tasks}

        [routing]
        fallback_channel = "{FALLBACK}"

        [digest]
        time = "09:00"
        timezone = "America/New_York"

        [report]
        path = "reports/latest.html"
    """)
    project.config.write_text(project.config.read_text() + "\n" + hubspot + extra)


def daemon_for(project: Project, clock: Clock, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> Daemon:
    monkeypatch.setenv("SLACK_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("HS_TOKEN", HS_TOKEN)
    fake = FakeMonotonic()
    runtime = lambda: Runtime(retry=no_wait(), clock=fake, sleep=fake.sleep)  # noqa: E731
    return make_daemon(project, clock=clock, runtime=runtime, **kwargs)


def keys(slack: SlackEmulator, channel: str) -> list[str]:
    if channel not in slack.channels:  # a DM channel exists once the first message opened it
        return []
    return [m["metadata"]["event_payload"]["key"] for m in slack.messages(channel) if "metadata" in m]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_ping_digest_and_escalation_each_arrive_once_and_metrics_match(
    project: Project,
    receiver: WebhookReceiver,
    slack: SlackEmulator,
    crm: HubSpotEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alert_project(project, slack, crm)
    fired_triggers(
        project.warehouse_url,
        [
            ("acct-1", "seat_limit_approaching", "high", 0.85, 0.8, "ae1@example.com"),  # ping + task
            ("acct-2", "storage_limit_approaching", "medium", 0.8, 0.75, "ae2@example.com"),  # digest
        ],
    )
    clock = Clock(T0)
    daemon = daemon_for(project, clock, monkeypatch)
    assert {"alerts", "digest", "escalate", "report"} <= set(daemon.specs)
    assert daemon.specs["alerts"].after == ()  # no [scoring] here: nothing to run after
    server = DaemonHTTPServer("127.0.0.1", 0, daemon.readiness, daemon.metrics.exposition, daemon.report_file)
    server.start()
    ae1, ae2 = slack.dm_channel("U0AE1"), slack.dm_channel("U0AE2")
    try:
        # alerts every 15 minutes for two hours: the high alert pings once and gets one CRM task.
        for i in range(8):
            clock.at = T0 + 15 * i * MIN
            assert daemon.run_slot("alerts", clock.at).status == "ok"
            assert len(keys(slack, ae1)) == 1
        assert len(crm.store.live("tasks")) == 1
        assert daemon.run_slot("alerts", T0).kind == "done"  # a slot runs once

        # digest every 5 minutes from 08:00 to 10:00 New York: it arrives at 09:00 local, once.
        arrived = []
        for i in range(25):
            clock.at = T0 + 5 * i * MIN
            assert daemon.run_slot("digest", clock.at).status == "ok"
            arrived.append(len(keys(slack, ae2)))
        assert arrived.index(1) == 12 and arrived[-1] == 1  # the 13:00 UTC slot = 09:00 EDT
        assert keys(slack, ae2) == ["digest:U0AE2:2026-03-10:1"]

        # escalate every 15 minutes: the task is still open 24 h after the ping -> one escalation.
        escalated = []
        for i in range(90, 101):  # 22:30 .. 25:00 after T0
            clock.at = T0 + 15 * i * MIN
            assert daemon.run_slot("escalate", clock.at).status == "ok"
            escalated.append(len(keys(slack, ESCALATE)))
        assert escalated.index(1) == 6 and escalated[-1] == 1  # the slot at T0 + 24 h
        assert keys(slack, ESCALATE)[0].startswith("escalation:acct-1:seat_limit_approaching:")

        # the report job writes [report].path; /report serves it.
        assert get(f"http://127.0.0.1:{server.port}/report")[0] == 404  # not written yet

        def write_latest(config: Any, state: Any, now: dt.datetime) -> Path:
            path: Path = config.base_dir / "reports" / "latest.html"
            path.parent.mkdir(exist_ok=True)
            path.write_text(f"<html>report at {now.isoformat()}</html>")
            return path

        monkeypatch.setattr("syncer.outcomes.command.write_latest", write_latest)
        assert daemon.run_slot("report", clock.at).status == "ok"
        code, body = get(f"http://127.0.0.1:{server.port}/report")
        assert code == 200 and body == f"<html>report at {clock.at.isoformat()}</html>".encode()

        code, body = get(f"http://127.0.0.1:{server.port}/metrics")
        m = samples(body.decode())
        fired = "syncer_alerts_fired_total"
        assert m[(fired, (("priority", "high"), ("trigger", "seat_limit_approaching")))] == 1
        assert m[(fired, (("priority", "medium"), ("trigger", "storage_limit_approaching")))] == 1
        assert m[("syncer_alerts_pinged_total", (("channel", "slack"),))] == len(keys(slack, ae1)) == 1
        assert m[("syncer_alerts_digested_total", (("channel", "slack"),))] == 1  # one alert in one digest
        assert m[("syncer_alerts_escalated_total", (("channel", "slack"),))] == len(keys(slack, ESCALATE)) == 1
        assert m[("syncer_alerts_deferred_total", ())] == 0  # budget off in this test (see the config above)
        assert m[("syncer_alerts_suppressed_total", (("reason", "backlog"),))] == 0  # quiet activation off too
        assert m[("syncer_runs_total", (("status", "ok"), ("sync", "alerts")))] == 8
        assert m[("syncer_runs_total", (("status", "ok"), ("sync", "digest")))] == 25
        assert m[("syncer_runs_total", (("status", "ok"), ("sync", "report")))] == 1
        assert keys(slack, OPS) == []  # nothing went wrong: no ops alert
    finally:
        server.stop()
        daemon.close()


def test_ops_alert_over_slack_once_on_failure_once_on_recovery(
    project: Project,
    receiver: WebhookReceiver,
    slack: SlackEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alert_project(project, slack, None)
    fired_triggers(project.warehouse_url, [])
    clock = Clock(T0)
    daemon = daemon_for(project, clock, monkeypatch)
    assert [type(n).__name__ for n in daemon.alerts.notifiers] == ["SlackNotifier"]
    slots = iter(T0 + 5 * i * MIN for i in range(100))
    assert daemon.run_slot("accounts", next(slots)).status == "ok"
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE accounts RENAME TO accounts_gone"))
    for _ in range(4):  # four failing ticks: one message
        assert daemon.run_slot("accounts", next(slots)).status in ("failed", "error")
    assert len(keys(slack, OPS)) == 1
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE accounts_gone RENAME TO accounts"))
    for _ in range(3):  # recovered, then healthy ticks: one more
        assert daemon.run_slot("accounts", next(slots)).status == "ok"
    engine.dispose()
    firing, resolved = keys(slack, OPS)
    assert firing.startswith("ops:accounts:failed:firing:") and resolved.startswith("ops:accounts:failed:ok:")
    texts = [m["text"] for m in slack.messages(OPS)]
    assert "accounts/failed firing" in texts[0] and "recovered" in texts[1]
    m = samples(daemon.metrics.exposition().decode())
    assert m[("syncer_ops_alerts_total", (("kind", "failed"), ("state", "firing")))] == 1
    assert m[("syncer_ops_alerts_total", (("kind", "failed"), ("state", "resolved")))] == 1

    # Exactly once per state change: a second attempt at the same change (a retry after a lost answer,
    # from a fresh process) finds the key in the channel history and posts nothing.
    config = load_config(project.config)
    fresh = build_connector(config, "slack", Runtime(retry=no_wait()), Destination("message", "key"))
    again = OpsAlert("accounts", "failed", "ok", "again", None)
    stored = daemon.alerts.states()
    assert stored["accounts:failed"] == "ok"
    notifier = SlackNotifier(fresh, OPS)
    replay = OpsAlert("accounts", "failed", "ok", "recovered", _changed_at(daemon), _project(daemon))
    notifier.notify(replay)
    assert keys(slack, OPS) == [firing, resolved] and replay.key == resolved
    notifier.notify(again)  # a different change: its own message
    assert len(keys(slack, OPS)) == 3
    notifier.close()
    daemon.close()


def _project(daemon: Daemon) -> str:
    from syncer.project import project_id

    with daemon.state.engine.connect() as conn:
        return project_id(conn)


def _changed_at(daemon: Daemon) -> dt.datetime:
    from syncer.ops_alerts import alert_state

    with daemon.state.engine.connect() as conn:
        value = conn.scalar(sa.select(alert_state.c.changed_at).where(alert_state.c.key == "accounts:failed"))
    assert isinstance(value, dt.datetime)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def test_alerts_job_runs_after_the_score_refresh_and_config_is_checked_at_start(
    project: Project,
    receiver: WebhookReceiver,
    slack: SlackEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alert_project(
        project, slack, None, daemon='[daemon.score]\ncron = "15 6 * * *"\n[daemon.digest]\ncron = "0 * * * *"\n'
    )
    project.config.write_text(project.config.read_text() + "\n[scoring]\n")
    fired_triggers(project.warehouse_url, [("acct-1", "seat_limit_approaching", "high", 0.9, 0.8, "ae1@example.com")])
    done = SimpleNamespace(guard=SimpleNamespace(state="ok", reasons=[]), published=True, accounts_scored=1)
    monkeypatch.setattr("syncer.scoring.refresh.refresh_scores", lambda *_a: done)
    clock = Clock(T0)
    daemon = daemon_for(project, clock, monkeypatch)
    assert daemon.specs["alerts"].after == ("score",)
    assert daemon.specs["digest"].schedule is not None and daemon.specs["digest"].schedule.cron == "0 * * * *"
    assert daemon.run_slot("score", T0).status == "ok"
    with daemon.state.engine.connect() as conn:
        ran = {(r.job, r.slot, r.status) for r in conn.execute(sa.select(job_slots))}
    assert ("alerts", "2026-03-10T12:00:00Z after score", "done") in ran
    assert len(keys(slack, slack.dm_channel("U0AE1"))) == 1  # the alert pinged right after the refresh
    daemon.close()

    # Problems in [alerts], [daemon.<job>] or the ops-alert connector are start-up errors, with file and key.
    text = project.config.read_text()
    broken = text.replace('slack = "slack"', 'slack = "nope"').replace(
        "[daemon.score]", 'ops_alert_slack = "gone"\n[daemon.score]'
    )
    project.config.write_text(broken + '\n[daemon.alerts]\nevery_minutes = 10\nafter = ["nothing"]\n')
    with pytest.raises(ConfigError) as exc:
        daemon_for(project, clock, monkeypatch)
    # every problem at once: the schedule's unknown job too (a bad [daemon] key used to hide it)
    assert {i.key for i in exc.value.issues} == {"daemon.ops_alert_slack", "alerts.slack", "daemon.alerts.after"}
    project.config.write_text(text + '\n[daemon.alerts]\nevery_minutes = 10\nafter = ["nothing"]\n')
    with pytest.raises(ConfigError) as exc:
        daemon_for(project, clock, monkeypatch)
    assert [f"{i.key}: {i.message}" for i in exc.value.issues] == ["daemon.alerts.after: unknown job 'nothing'"]
