"""The intraday lane in the daemon: a seat count changes at T -> ping + CRM task before T + 5 min.

Runs `Daemon.run_slot("intraday", ...)` on a patched clock against the Slack and HubSpot emulators on
loopback and an `account_current` table in the SQLite warehouse (the current-state contract of
docs/scoring.md). Nothing sleeps.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts.store import alerts
from syncer.intraday.watermark import read_watermark
from tests.daemon.test_alert_jobs import (  # noqa: F401  (fixtures)
    MIN,
    T0,
    Clock,
    alert_project,
    crm,
    daemon_for,
    fired_triggers,
    keys,
    samples,
    slack,
    slack_server,
)
from tests.engine.conftest import Project

COLUMNS = (
    "account_id VARCHAR(50), owner_email VARCHAR(100), seats_used INTEGER, seat_limit INTEGER,"
    " seat_utilisation FLOAT, storage_used INTEGER, storage_limit INTEGER, storage_utilisation FLOAT,"
    " api_calls_7d INTEGER, api_limit INTEGER, api_projected_utilisation FLOAT, overage_30d FLOAT,"
    " payment_failed_30d INTEGER, updated_at TIMESTAMP"
)


def current_state(url: str, rows: list[tuple[str, str, int, int, dt.datetime]]) -> None:
    """Upsert (account, owner, seats_used, seat_limit, updated_at) rows; other limits far from firing."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE IF NOT EXISTS account_current ({COLUMNS})"))
        for account, owner, used, limit, at in rows:
            conn.execute(sa.text("DELETE FROM account_current WHERE account_id = :a"), {"a": account})
            conn.execute(
                sa.text(
                    "INSERT INTO account_current VALUES (:a, :o, :u, :l, :r, 10, 100, 0.1, 100, 10000, 0.01, 0, 0, :t)"
                ),
                {"a": account, "o": owner, "u": used, "l": limit, "r": used / limit, "t": at.replace(tzinfo=None)},
            )
    engine.dispose()


def metric(daemon: object, name: str, **labels: str) -> float:
    found = samples(daemon.metrics.exposition().decode())  # type: ignore[attr-defined]
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_seat_change_is_pinged_and_tasked_within_five_minutes_and_a_quiet_run_reads_one_query(
    project: Project,
    slack: SlackEmulator,  # noqa: F811  (the fixture imported above)
    crm: HubSpotEmulator,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alert_project(project, slack, crm, daemon="[daemon.intraday]\nevery_minutes = 2\n")
    fired_triggers(project.warehouse_url, [])  # the daily lane's model: nothing fires there today
    current_state(
        project.warehouse_url,
        [("acct-1", "ae1@example.com", 10, 20, T0 - 60 * MIN), ("acct-2", "ae2@example.com", 5, 20, T0 - 60 * MIN)],
    )
    clock = Clock(T0)
    daemon = daemon_for(project, clock, monkeypatch)
    assert daemon.specs["intraday"].schedule is not None
    assert daemon.specs["intraday"].schedule.every_minutes == 2
    ae1 = slack.dm_channel("U0AE1")

    # first evaluation: reads every row once (no watermark yet); nothing fires.
    assert daemon.run_slot("intraday", T0).status == "ok"
    assert keys(slack, ae1) == [] and crm.store.live("tasks") == []
    assert read_watermark(daemon.state.engine, "intraday") == T0 - 60 * MIN

    # acct-1 fills 17 of 20 seats at T (85% >= 80%): the next 2-minute slot pings and creates the task.
    event = T0 + 2 * MIN + dt.timedelta(seconds=30)
    current_state(project.warehouse_url, [("acct-1", "ae1@example.com", 17, 20, event)])
    clock.at = T0 + 4 * MIN
    assert daemon.run_slot("intraday", clock.at).status == "ok"
    assert len(keys(slack, ae1)) == 1 and keys(slack, ae1)[0].startswith("acct-1:seat_limit_approaching:")
    tasks = crm.store.live("tasks")
    assert len(tasks) == 1
    with daemon.state.engine.connect() as conn:
        alert = conn.execute(sa.select(alerts)).one()
    assert alert.lane == "intraday" and alert.trigger == "seat_limit_approaching"
    signal = alert.signal_at.replace(tzinfo=dt.UTC)
    pinged, tasked = (alert.pinged_at.replace(tzinfo=dt.UTC), alert.task_created_at.replace(tzinfo=dt.UTC))
    assert signal == event and pinged == tasked == clock.at
    assert alert.action_at.replace(tzinfo=dt.UTC) - event < 5 * MIN
    hist = "syncer_event_to_action_seconds"
    lab = {"lane": "intraday", "trigger": "seat_limit_approaching"}
    assert metric(daemon, f"{hist}_count", **lab) == 1
    assert metric(daemon, f"{hist}_sum", **lab) == (clock.at - event).total_seconds() == 90

    # an unchanged evaluation: one warehouse query, no row read, nothing sent.
    queries = metric(daemon, "syncer_intraday_warehouse_queries_total")
    rows = metric(daemon, "syncer_intraday_rows_read_total")
    calls = len(slack.calls) if hasattr(slack, "calls") else None
    clock.at = T0 + 6 * MIN
    assert daemon.run_slot("intraday", clock.at).status == "ok"
    assert metric(daemon, "syncer_intraday_warehouse_queries_total") == queries + 1
    assert metric(daemon, "syncer_intraday_rows_read_total") == rows
    assert len(keys(slack, ae1)) == 1 and len(crm.store.live("tasks")) == 1
    assert calls is None or len(slack.calls) == calls
    assert metric(daemon, f"{hist}_count", **lab) == 1

    # the daily alerts job (its model has no row for it) never clears the intraday alert.
    for i in range(4):
        assert daemon.run_slot("alerts", T0 + (15 + 15 * i) * MIN).status == "ok"
    with daemon.state.engine.connect() as conn:
        assert conn.scalar(sa.select(alerts.c.status)) == "open"

    # acct-1 drops to 10 of 20 seats: the intraday lane clears it (below threshold x (1 - margin)).
    current_state(project.warehouse_url, [("acct-1", "ae1@example.com", 10, 20, T0 + 70 * MIN)])
    assert daemon.run_slot("intraday", T0 + 72 * MIN).status == "ok"
    with daemon.state.engine.connect() as conn:
        assert conn.scalar(sa.select(alerts.c.status)) == "cleared"
