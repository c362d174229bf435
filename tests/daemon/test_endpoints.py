"""/healthz, /readyz and /metrics of an in-process daemon; metric values match the runs' counts."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer import metrics
from syncer.server import DaemonHTTPServer
from tests.daemon.conftest import configure, make_daemon
from tests.engine.conftest import Project, create_accounts

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_endpoints_and_metrics_match_runs(project: Project, receiver: WebhookReceiver) -> None:
    configure(project)
    daemon = make_daemon(project)
    server = DaemonHTTPServer("127.0.0.1", 0, daemon.readiness, daemon.metrics.exposition).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert _get(f"{base}/healthz")[0] == 200
        code, body = _get(f"{base}/readyz")
        assert code == 503 and json.loads(body)["checks"]["scheduler"] == "not running"
        daemon.start_scheduler()
        code, body = _get(f"{base}/readyz")
        assert code == 200, body
        assert json.loads(body)["checks"] == {"state_db": "ok", "warehouse": "ok", "scheduler": "ok"}

        # Three slots: 300 new rows; then one row rejected by the destination; then nothing changed.
        assert daemon.run_slot("accounts", T0).status == "ok"
        metrics.current().alerts_fired.labels("seat_limit_approaching", "high").inc()  # as the alerts stage will
        create_accounts(project.warehouse_url, 300, score_offset=1, extra_rows="(9999, 'Bad', NULL, 1.0, 'monitor')")
        daemon.run_slot("accounts", T0 + dt.timedelta(minutes=5))
        daemon.run_slot("accounts", T0 + dt.timedelta(minutes=10))
        assert daemon.run_slot("accounts", T0 + dt.timedelta(minutes=10)).kind == "done"  # a slot runs once

        runs = daemon.state.recent_runs("accounts", 10)
        code, body = _get(f"{base}/metrics")
        assert code == 200
        m = _samples(body.decode())
        labels = (("connector", "hook"), ("sync", "accounts"))
        for outcome in ("succeeded", "failed", "rejected"):
            key = ("syncer_records_total", (*labels[:1], ("outcome", outcome), labels[1]))
            assert m[key] == sum(r[outcome] for r in runs), outcome
        assert m[("syncer_api_calls_total", (("connector", "hook"),))] == sum(r["api_calls"] for r in runs)
        assert m[("syncer_api_throttled_total", (("connector", "hook"),))] == 0
        assert m[("syncer_run_duration_seconds_count", (("sync", "accounts"),))] == len(runs) == 3
        assert m[("syncer_source_rows", (("sync", "accounts"),))] == runs[0]["source_rows"] == 301
        statuses = {s: sum(1 for r in runs if r["status"] == s) for s in {r["status"] for r in runs}}
        for status, n in statuses.items():
            assert m[("syncer_runs_total", (("status", status), ("sync", "accounts")))] == n
        assert m[("syncer_last_success_timestamp_seconds", (("sync", "accounts"),))] > 0
        assert m[("syncer_daemon_up", ())] == 1
        fired = ("syncer_alerts_fired_total", (("priority", "high"), ("trigger", "seat_limit_approaching")))
        assert m[fired] == 1
        # Defined for the alerts engineer (no samples until used); the guard's gauge only once a guard ran.
        names = {f.name for f in text_string_to_metric_families(body.decode())}
        assert {
            "syncer_alerts_fired",
            "syncer_alerts_pinged",
            "syncer_alerts_digested",
            "syncer_ops_alerts",
            "syncer_lease_takeovers",
        } <= names
        assert "syncer_data_quality_guard_ok" not in names  # no [scoring]: no guard, so no verdict
    finally:
        daemon.stop(grace=5)
        server.stop()
        daemon.close()
    assert _samples(daemon.metrics.exposition().decode())[("syncer_daemon_up", ())] == 0
