"""Ops alerts fire once per state change (failed, recovered, rejected share, row drop, quota, guard)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.ops_alerts import Observation, OpsAlert, OpsAlerts, OpsAlertSettings, WebhookNotifier
from syncer.state import StateStore
from tests.daemon.conftest import configure, make_daemon
from tests.engine.conftest import MAPPING, Project, create_accounts

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


class Capture:
    def __init__(self) -> None:
        self.sent: list[OpsAlert] = []

    def notify(self, alert: OpsAlert) -> None:
        self.sent.append(alert)


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ops", received
    server.shutdown()
    server.server_close()


def test_failure_fires_once_recovery_fires_once_over_a_webhook(
    project: Project,
    receiver: WebhookReceiver,
    hook: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = hook
    configure(project, daemon='ops_alert_webhook = "${OPS_ALERT_WEBHOOK}"\n')  # a secret: never literal
    monkeypatch.setenv("OPS_ALERT_WEBHOOK", url)
    daemon = make_daemon(project)
    slots = (T0 + dt.timedelta(minutes=5 * i) for i in range(100))
    assert daemon.run_slot("accounts", next(slots)).status == "ok"
    assert received == []  # healthy from the start: nothing to say

    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE accounts RENAME TO accounts_gone"))
    for _ in range(5):  # five failing ticks: one alert
        assert daemon.run_slot("accounts", next(slots)).status in ("failed", "error")
    assert [(a["kind"], a["state"]) for a in received] == [("failed", "firing")]
    assert received[0]["sync"] == "accounts" and "failed" in received[0]["text"]

    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE accounts_gone RENAME TO accounts"))
    for _ in range(3):  # recovered, then healthy ticks: one more alert
        assert daemon.run_slot("accounts", next(slots)).status == "ok"
    assert [(a["kind"], a["state"]) for a in received] == [("failed", "firing"), ("failed", "ok")]
    engine.dispose()

    # The state is in the DB: a new daemon process (or another replica) does not repeat it.
    again = make_daemon(project)
    again.run_slot("accounts", next(slots))
    assert len(received) == 2
    ops = {k: v for k, v in again.alerts.states().items()}
    assert ops["accounts:failed"] == "ok"
    daemon.close()
    again.close()


def _obs(**kw: Any) -> Observation:
    base: dict[str, Any] = dict(
        sync="s",
        status="ok",
        error=None,
        succeeded=100,
        failed=0,
        rejected=0,
        source_rows=1000,
        previous_source_rows=1000,
        connector="sf",
        api_usage=None,
    )
    return Observation(**{**base, **kw})


def test_rejected_share_row_drop_quota_and_guard_change_state_once(tmp_path: Any) -> None:
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    capture = Capture()
    alerts = OpsAlerts(
        state.engine, [capture], OpsAlertSettings(rejected_share=0.05, row_drop_share=0.2, quota_share=0.9)
    )
    kinds = lambda: [(a.sync, a.kind, a.state) for a in capture.sent]  # noqa: E731
    for _ in range(3):
        alerts.observe_run(_obs(succeeded=90, rejected=10))  # 10% rejected
    assert kinds() == [("s", "rejected_share", "firing")]
    alerts.observe_run(_obs(succeeded=100, rejected=1))
    assert kinds()[-1] == ("s", "rejected_share", "ok") and len(capture.sent) == 2

    alerts.observe_run(_obs(source_rows=700, previous_source_rows=1000))  # 30% fewer rows
    alerts.observe_run(_obs(source_rows=700, previous_source_rows=700))
    assert kinds()[2:] == [("s", "row_drop", "firing"), ("s", "row_drop", "ok")]
    assert "mirror deletes" in capture.sent[2].text

    alerts.observe_run(_obs(api_usage=(95_000, 100_000)))
    alerts.observe_run(_obs(api_usage=(96_000, 100_000)))
    assert kinds()[4:] == [("sf", "quota", "firing")]

    alerts.observe_guard("failing", ["freshness: latest usage day is 3 days old"])
    alerts.observe_guard("failing", ["freshness: latest usage day is 4 days old"])
    alerts.observe_guard("ok", [])
    assert kinds()[5:] == [("score", "data_quality", "firing"), ("score", "data_quality", "ok")]
    assert "freshness" in capture.sent[5].text

    # A failed run does not judge the data: shares and drops are left as they were.
    alerts.observe_run(_obs(status="failed", error="boom", succeeded=0, rejected=50, source_rows=0))
    assert kinds()[-1] == ("s", "failed", "firing") and len(capture.sent) == 8
    state.close()


def test_webhook_notifier_errors_are_logged_not_raised(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    alerts = OpsAlerts(
        state.engine, [WebhookNotifier("http://127.0.0.1:9/nothing-listens", timeout=1)], OpsAlertSettings()
    )
    sent = alerts.observe_run(_obs(status="failed", error="boom"))
    assert [a.kind for a in sent] == ["failed"]
    assert "could not be delivered" in caplog.text
    assert alerts.observe_run(_obs(status="failed", error="boom")) == []  # still firing: not repeated
    state.close()


def test_row_drop_is_measured_against_the_last_good_run(project: Project, receiver: WebhookReceiver) -> None:
    configure(project)
    capture = Capture()
    daemon = make_daemon(project, notifiers=[capture])
    daemon.run_slot("accounts", T0)
    create_accounts(project.warehouse_url, 100)  # 300 -> 100 rows
    daemon.run_slot("accounts", T0 + dt.timedelta(minutes=5))
    assert [(a.kind, a.state) for a in capture.sent] == [("row_drop", "firing")]
    assert "300 -> 100" in capture.sent[0].text
    daemon.close()


def test_intraday_latency_over_budget_fires_once_and_resolves(tmp_path: Any) -> None:
    """The intraday lane's p95 event-to-action (seed 003: < 300 s) raises one ops alert when over budget."""
    from syncer.intraday.latency import summary

    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    capture = Capture()
    alerts = OpsAlerts(state.engine, [capture], OpsAlertSettings())
    hours = [
        ([30.0, 60.0, 90.0], None),  # p95 87 s: within budget, nothing to say
        ([60.0] * 18 + [400.0, 900.0], "firing"),  # p95 over 300 s: one alert
        ([500.0, 700.0], None),  # still over: no repeat
        ([45.0, 80.0], "ok"),  # back under: resolved once
        (None, None),  # an hour with no actioned alert stays resolved
    ]
    for seconds, expected in hours:
        before = len(capture.sent)
        alerts.observe_latency("intraday", summary(seconds) if seconds else None, budget_seconds=300)
        new = [(a.sync, a.kind, a.state) for a in capture.sent[before:]]
        assert new == ([("intraday", "latency_p95", expected)] if expected else []), (seconds, new)
    assert "budget 300 s" in capture.sent[0].text and "intraday lane" in capture.sent[0].text
    state.close()


def test_held_deletes_stay_firing_until_they_are_settled(project: Project, receiver: WebhookReceiver) -> None:
    """Seen in an outside trial: row_drop said "stable again" one run after a mirror's model lost 60% of its rows,
    while every run held the deletes back: the operators' last word was "resolved". The held deletes now fire
    their own condition, kept until a run holds none (`--allow-deletes`, or the rows come back)."""
    configure(project)
    mirror = MAPPING.format(mode="mirror") + "\n[schedule]\nevery_minutes = 5\n"
    (project.root / "mappings" / "accounts.toml").write_text(mirror)
    capture = Capture()
    daemon = make_daemon(project, notifiers=[capture])
    kinds = lambda: [(a.kind, a.state) for a in capture.sent]  # noqa: E731
    daemon.run_slot("accounts", T0)
    create_accounts(project.warehouse_url, 100)  # 300 -> 100 rows: 200 deletes, over the guard's share
    daemon.run_slot("accounts", T0 + dt.timedelta(minutes=5))
    assert kinds() == [("row_drop", "firing"), ("held_deletes", "firing")]
    assert "holds 200 deletes back" in capture.sent[1].text and "--allow-deletes" in capture.sent[1].text
    daemon.run_slot("accounts", T0 + dt.timedelta(minutes=10))  # no more rows dropped; the deletes still held
    assert kinds()[2:] == [("row_drop", "ok")]
    assert len(receiver.records) == 300  # nothing deleted
    create_accounts(project.warehouse_url, 300)  # the rows come back: nothing is held any more
    daemon.run_slot("accounts", T0 + dt.timedelta(minutes=15))
    assert kinds()[3:] == [("held_deletes", "ok")]
    daemon.close()
