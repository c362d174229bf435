"""Prometheus metrics: one registry per daemon, served at /metrics.

Names and labels (all counters also export `_created`):

    syncer_records_total{sync, connector, outcome}       outcome = succeeded | failed | rejected
    syncer_runs_total{sync, status}                       ok | partial | out_of_sync | failed | stopped | error;
                                                          daemon jobs too (and guarded | skipped for `score`)
    syncer_api_calls_total{connector}                     write requests made (a run's api_calls)
    syncer_api_throttled_total{connector}                 429 / throttled retries (connector.stats.throttled)
    syncer_run_duration_seconds{sync}                     histogram (syncs and daemon jobs: score, alerts, ...)
    syncer_last_success_timestamp_seconds{sync}           unix time of the last ok/partial run (or job)
    syncer_source_rows{sync}                              rows in the model at the last run that read it
    syncer_api_quota_used_ratio{connector}                daily quota used (connectors with `api_usage`)
    syncer_alerts_fired_total{trigger, priority}          revenue alerts opened (the daemon's alerts job)
    syncer_alerts_pinged_total{channel}                   immediate alert messages sent: slack | email
    syncer_alerts_digested_total{channel}                 alerts put into a daily digest (counted when it is built)
    syncer_alerts_escalated_total{channel}                escalation messages sent
    syncer_alerts_deferred_total                          pings past the day's budget, sent to the digest instead
    syncer_alerts_suppressed_total{reason}                firing rows not pinged: cooldown | worked_cooldown |
                                                          task_open | backlog (quiet activation) | holdout
    syncer_ops_alerts_total{kind, state}                  ops alerts sent (firing | resolved)
    syncer_data_quality_guard_ok                          1 when the scoring guard passed, 0 when failing; no
                                                          sample until a score job ran the guard
    syncer_lease_takeovers_total{job}                     slots this replica took over from a dead one
    syncer_daemon_up                                      1 while the scheduler runs
    syncer_event_to_action_seconds{lane, trigger}         histogram: alert's event (signal_at) to its last action
    syncer_intraday_warehouse_queries_total               statements the intraday lane sent to the warehouse
    syncer_intraday_rows_read_total                       current-state rows the intraday lane read
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

SUCCESS_STATUSES = ("ok", "partial")  # what syncer_last_success_timestamp_seconds counts (docs/operations.md)
DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# event to action: the intraday budget (300 s) and its neighbours, then the daily lane's hours and days
LATENCY_BUCKETS = (10, 30, 60, 120, 180, 240, 300, 450, 600, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.records = Counter(
            "syncer_records", "Records by final outcome", ["sync", "connector", "outcome"], registry=r
        )
        self.runs = Counter("syncer_runs", "Runs by final status", ["sync", "status"], registry=r)
        self.api_calls = Counter("syncer_api_calls", "Requests made to a destination", ["connector"], registry=r)
        self.api_throttled = Counter(
            "syncer_api_throttled", "Throttled (429) responses retried", ["connector"], registry=r
        )
        self.duration = Histogram(
            "syncer_run_duration_seconds", "Run duration", ["sync"], buckets=DURATION_BUCKETS, registry=r
        )
        self.last_success = Gauge(
            "syncer_last_success_timestamp_seconds", "Unix time of the last successful run", ["sync"], registry=r
        )
        self.source_rows = Gauge("syncer_source_rows", "Rows in the model at the last run", ["sync"], registry=r)
        self.quota = Gauge(
            "syncer_api_quota_used_ratio", "Share of the daily API quota used", ["connector"], registry=r
        )
        self.alerts_fired = Counter("syncer_alerts_fired", "Revenue alerts fired", ["trigger", "priority"], registry=r)
        self.alerts_pinged = Counter("syncer_alerts_pinged", "Alerts pinged immediately", ["channel"], registry=r)
        self.alerts_digested = Counter("syncer_alerts_digested", "Alerts put into a digest", ["channel"], registry=r)
        self.alerts_escalated = Counter("syncer_alerts_escalated", "Escalation messages sent", ["channel"], registry=r)
        self.alerts_deferred = Counter("syncer_alerts_deferred", "Pings deferred to the digest (budget)", registry=r)
        self.alerts_suppressed = Counter("syncer_alerts_suppressed", "Firing rows not pinged", ["reason"], registry=r)
        self.ops_alerts = Counter("syncer_ops_alerts", "Ops alerts sent", ["kind", "state"], registry=r)
        # registered by the first `record_guard`: without a guard (no [scoring], or no score run yet) there is no
        # sample, rather than a 0 that reads "the guard failed"
        self.guard_ok = Gauge(
            "syncer_data_quality_guard_ok", "1 when the scoring data-quality guard passed", registry=None
        )
        self._guard_seen = False
        self.takeovers = Counter("syncer_lease_takeovers", "Slots taken over from a dead replica", ["job"], registry=r)
        self.up = Gauge("syncer_daemon_up", "1 while the scheduler is running", registry=r)
        self.event_to_action = Histogram(
            "syncer_event_to_action_seconds",
            "Seconds from an alert's event to its last action",
            ["lane", "trigger"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.intraday_queries = Counter(
            "syncer_intraday_warehouse_queries", "Warehouse statements of the intraday lane", registry=r
        )
        self.intraday_rows = Counter(
            "syncer_intraday_rows_read", "Current-state rows read by the intraday lane", registry=r
        )

    def record_run(self, summary: Any, connector_name: str, stats: Any = None, api_usage: Any = None) -> None:
        """Fold one run's Summary (and its connector's CallStats / api_usage) into the metrics."""
        sync = summary.sync
        rejected = summary.rejected + getattr(summary, "bad_rejected", 0)
        for outcome, value in (("succeeded", summary.succeeded), ("failed", summary.failed), ("rejected", rejected)):
            self.records.labels(sync, connector_name, outcome).inc(value)
        self.runs.labels(sync, summary.status).inc()
        self.duration.labels(sync).observe(summary.duration_s)
        if summary.status not in ("failed", "error") or summary.tally.source_rows:  # a run that read the model
            self.source_rows.labels(sync).set(summary.tally.source_rows)
        if stats is not None:
            self.api_calls.labels(connector_name).inc(summary.api_calls)  # as `syncer runs` counts them
            self.api_throttled.labels(connector_name).inc(stats.throttled)
        if summary.status in SUCCESS_STATUSES:
            self.last_success.labels(sync).set(time.time())
        if api_usage and api_usage[1]:
            self.quota.labels(connector_name).set(api_usage[0] / api_usage[1])

    def record_job(self, name: str, status: str, seconds: float) -> None:
        """A daemon job that is not a sync (score, alerts, digest, escalate, report)."""
        self.runs.labels(name, status).inc()
        self.duration.labels(name).observe(seconds)
        if status in SUCCESS_STATUSES:
            self.last_success.labels(name).set(time.time())

    def record_guard(self, state: str) -> None:
        """The scoring data-quality guard's verdict ("ok" or "failing") of the score job that just ran."""
        self.guard_ok.set(1 if state == "ok" else 0)
        if not self._guard_seen:
            self._guard_seen = True
            self.registry.register(self.guard_ok)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


_current: Metrics | None = None


def current() -> Metrics:
    """This process's metrics (the daemon's while it runs): other stages increment through this,

    e.g. `metrics.current().alerts_fired.labels(trigger, priority).inc()`, without plumbing.
    """
    global _current
    if _current is None:
        _current = Metrics()
    return _current


def install(metrics: Metrics) -> None:
    global _current
    _current = metrics
