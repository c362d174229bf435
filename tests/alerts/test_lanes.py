"""Trigger lanes: seed defaults, the sweep scope of a lane's evaluation, latency quantiles, the lane query."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from syncer.alerts.lifecycle import SweepScope
from syncer.alerts.store import metadata, pairs
from syncer.intraday.latency import summary
from syncer.intraday.query import WarehouseMeter, fired_rows, lane_select
from syncer.intraday.settings import IntradaySettings
from syncer.scoring.triggers import DEFAULT_TRIGGERS

INTRADAY = {"seat_limit_approaching", "storage_limit_approaching", "api_limit_approaching", "billing_anomaly"}


@pytest.mark.parametrize("trigger", DEFAULT_TRIGGERS, ids=lambda t: t.name)
def test_seed_triggers_on_current_state_are_intraday_and_history_ones_daily(trigger: object) -> None:
    name, lane = trigger.name, trigger.lane  # type: ignore[attr-defined]
    assert lane == ("intraday" if name in INTRADAY else "daily")


PAIRS = [("a1", "seat"), ("a1", "growth"), ("a2", "seat"), ("a3", "storage")]


@pytest.mark.parametrize(
    ("scope", "swept"),
    [
        (SweepScope(), set(PAIRS)),  # the daily lane before lanes: everything
        (SweepScope(exclude=frozenset({"seat", "storage"})), {("a1", "growth")}),  # daily lane with an intraday lane
        (SweepScope(triggers=frozenset({"seat", "storage"})), {("a1", "seat"), ("a2", "seat"), ("a3", "storage")}),
        (SweepScope(triggers=frozenset({"seat", "storage"}), accounts=frozenset({"a1"})), {("a1", "seat")}),
        (SweepScope(triggers=frozenset({"seat"}), accounts=frozenset()), set()),  # nothing changed: nothing swept
        (SweepScope(accounts=frozenset(f"x{i}" for i in range(2000)) | {"a3"}), {("a3", "storage")}),  # chunked
    ],
    ids=["all", "daily-excludes-intraday", "intraday-triggers", "changed-accounts", "no-accounts", "many-accounts"],
)
def test_sweep_scope_selects_only_the_pairs_the_lane_looked_at(scope: SweepScope, swept: set[tuple[str, str]]) -> None:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine, tables=[pairs])
    with engine.begin() as conn:
        conn.execute(pairs.insert(), [{"account_id": a, "trigger": t, "open_alert_id": 1} for a, t in PAIRS])
        found = {
            (r.account_id, r.trigger)
            for clause in scope.clauses()
            for r in conn.execute(sa.select(pairs.c.account_id, pairs.c.trigger).where(clause))
        }
    assert found == swept


@pytest.mark.parametrize(
    ("values", "p50", "p95", "top"),
    [
        ([42.0], 42.0, 42.0, 42.0),
        ([float(i) for i in range(1, 101)], 50.5, 95.05, 100.0),
        ([10.0, 300.0], 155.0, 285.5, 300.0),
    ],
)
def test_latency_summary_quantiles(values: list[float], p50: float, p95: float, top: float) -> None:
    got = summary(values)
    assert (got["alerts"], got["p50_seconds"], got["p95_seconds"], got["max_seconds"]) == (
        len(values),
        p50,
        round(p95, 1),
        top,
    )


def test_lane_query_is_one_statement_and_reads_only_rows_after_the_watermark(tmp_path: object) -> None:
    engine = sa.create_engine("duckdb:///:memory:")
    t0 = dt.datetime(2026, 3, 10, 9, 0)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE account_current (account_id VARCHAR, owner_email VARCHAR, seats_used INT, seat_limit INT,"
                " seat_utilisation DOUBLE, storage_used INT, storage_limit INT, storage_utilisation DOUBLE,"
                " api_calls_7d INT, api_limit INT, api_projected_utilisation DOUBLE, overage_30d DOUBLE,"
                " payment_failed_30d INT, updated_at TIMESTAMP)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO account_current VALUES"
                " ('a1', 'o@x.io', 17, 20, 0.85, 1, 10, 0.1, 1, 100, 0.01, 0, 0, :t0),"
                " ('a2', 'o@x.io', 1, 20, 0.05, 1, 10, 0.1, 1, 100, 0.01, 0, 1, :t1)"
            ),
            {"t0": t0, "t1": t0 + dt.timedelta(minutes=1)},
        )
    triggers = [t for t in DEFAULT_TRIGGERS if t.lane == "intraday"]
    settings = IntradaySettings()
    meter = WarehouseMeter()
    with meter.attach(engine), engine.connect() as conn:
        everything = list(conn.execute(lane_select(settings, triggers, since=False)))
        later = list(conn.execute(lane_select(settings, triggers, since=True), {"watermark": t0}))
        none = list(
            conn.execute(lane_select(settings, triggers, since=True), {"watermark": t0 + dt.timedelta(hours=1)})
        )
    assert meter.queries == 3 and (len(everything), len(later), len(none)) == (2, 1, 0)
    fired = {(r["account_id"], r["trigger"]) for row in everything for r in fired_rows(row, triggers) if r["fired"]}
    assert fired == {("a1", "seat_limit_approaching"), ("a2", "billing_anomaly")}
    first = next(fired_rows(everything[0], triggers))
    assert first["signal_at"] == t0.replace(tzinfo=dt.UTC).isoformat()
