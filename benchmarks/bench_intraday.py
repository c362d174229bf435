"""Intraday lane over a simulated day: event-to-action latency, warehouse queries and rows read.

    python benchmarks/bench_intraday.py [--accounts 100000] [--minutes 2]

A DuckDB warehouse holds `account_current` (docs/scoring.md, the current-state contract) for N accounts,
all below every intraday threshold at 00:00. Through a simulated day, accounts change at a diurnal rate
(business hours 08:00-18:00 UTC carry ~80 %): seats +1 (70 %) or -1, storage and API counters grow. The
`updated_at` of a change is its time in the day. Every `--minutes` the real lane (`syncer.intraday.job.run_lane`)
reads the changed rows, runs the real alert lifecycle on a SQLite state DB and delivers over HTTP to the
Slack and HubSpot loopback emulators (ping + CRM task per high alert). The clock is simulated: the day's
ticks run back to back, and an action's time is tick + the measured wall time of that evaluation, so
latency = wait for the next tick + real processing. A quiet day (~2 % of accounts change once) and a busy
day (~25 % change, some many times) are printed as one table. Event collection into the warehouse (seed 003:
< 10 s) is not simulated: `updated_at` is when the row became visible.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr
from syncer_connectors.hubspot.api import SEARCH_LIMIT
from syncer_connectors.hubspot.connector import HubSpotConnector, HubSpotSettings
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.connector import SlackConnector, SlackSettings
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts import AlertEngine, load_alert_settings
from syncer.connector import Destination
from syncer.intraday.job import run_lane
from syncer.intraday.latency import lane_latency
from syncer.intraday.settings import IntradaySettings
from syncer.ratelimit import RateLimiter
from syncer.retry import no_wait
from syncer.scoring.triggers import DEFAULT_TRIGGERS
from syncer.state import StateStore

DAY = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
OWNERS = [f"ae{i}@example.com" for i in range(20)]
SLACK_TOKEN, HS_TOKEN = "xoxb-bench", "hubspot-bench"
DAYS = {"quiet": 0.02, "busy": 0.25}  # share of accounts changing during the day (busy: repeat changes too)


class Monotonic:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def warehouse(path: Path, n: int, seed: int) -> sa.Engine:
    engine = sa.create_engine(f"duckdb:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS account_current"))
        conn.execute(
            sa.text(f"""
            CREATE TABLE account_current AS
            SELECT 'acct-' || lpad(CAST(i AS VARCHAR), 6, '0') AS account_id,
                   'ae' || CAST(i % 20 AS VARCHAR) || '@example.com' AS owner_email,
                   CAST(10 + (hash(i, {seed}) % 190) AS INTEGER) AS seat_limit,
                   0 AS seats_used, CAST(0 AS DOUBLE) AS seat_utilisation,
                   CAST(1000 AS BIGINT) AS storage_limit, CAST(0 AS BIGINT) AS storage_used,
                   CAST(0 AS DOUBLE) AS storage_utilisation,
                   CAST(100000 AS BIGINT) AS api_limit, CAST(0 AS BIGINT) AS api_calls_7d,
                   CAST(0 AS DOUBLE) AS api_projected_utilisation, CAST(0 AS DOUBLE) AS overage_30d,
                   0 AS payment_failed_30d,
                   TIMESTAMP '{(DAY - dt.timedelta(days=1)):%Y-%m-%d %H:%M:%S}' AS updated_at
            FROM range({n}) t(i)""")
        )
        # below every threshold at the start: seats 20-78 %, storage 10-70 %, API 10-65 % of projected limit
        conn.execute(
            sa.text(f"""
            UPDATE account_current SET
              seats_used = CAST(floor(seat_limit * (0.20 + (hash(account_id, {seed} + 1) % 5800) / 10000.0))
                                AS INTEGER),
              storage_used = 100 + hash(account_id, {seed} + 2) % 600,
              api_calls_7d = 10000 + hash(account_id, {seed} + 3) % 55000""")
        )
        conn.execute(sa.text(_derive("")))
        conn.execute(sa.text("CREATE INDEX ix_current_updated ON account_current (updated_at)"))
    return engine


def _derive(where: str) -> str:
    return (
        "UPDATE account_current SET seat_utilisation = seats_used * 1.0 / seat_limit,"
        " storage_utilisation = storage_used * 1.0 / storage_limit,"
        " api_projected_utilisation = api_calls_7d * 1.0 / api_limit" + where
    )


def rate_shape(minute: int) -> float:
    """Relative change rate at this minute of the day: business hours carry ~80 % of the day's changes."""
    return 6.0 if 8 * 60 <= minute < 18 * 60 else 0.35


def changes_per_tick(n: int, share: float, minutes: float, rng: random.Random) -> list[list[int]]:
    ticks = int(24 * 60 / minutes)
    total = int(n * share * (2.0 if share > 0.1 else 1.0))  # busy days repeat: ~2 changes per changing account
    weights = [rate_shape(int(t * minutes)) for t in range(ticks)]
    scale = total / sum(weights)
    pool = rng.sample(range(n), int(n * share))
    return [[rng.choice(pool) for _ in range(_poisson(w * scale, rng))] for w in weights]


def _poisson(mean: float, rng: random.Random) -> int:
    return max(0, round(rng.gauss(mean, mean**0.5))) if mean > 30 else sum(1 for _ in _knuth(mean, rng))


def _knuth(mean: float, rng: random.Random) -> Any:
    import math

    limit, p = math.exp(-mean), rng.random()
    while p > limit:
        yield 1
        p *= rng.random()


def apply(engine: sa.Engine, batch: list[int], start: dt.datetime, minutes: float, rng: random.Random) -> None:
    """One tick's changes, each at a random instant within the tick (`updated_at`)."""
    if not batch:
        return
    values = []
    for i in batch:
        seats = 1 if rng.random() < 0.7 else -1
        at = start + dt.timedelta(seconds=rng.uniform(0, minutes * 60 - 1))
        stamp = f"TIMESTAMP '{at:%Y-%m-%d %H:%M:%S.%f}'"
        values.append(f"('acct-{i:06d}', {seats}, {rng.randint(0, 8)}, {rng.randint(0, 900)}, {stamp})")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE OR REPLACE TEMP TABLE delta AS SELECT * FROM"
                f" (VALUES {', '.join(values)}) d(id, ds, dst, dapi, ts)"
            )
        )
        conn.execute(
            sa.text(
                "UPDATE account_current SET seats_used = greatest(0, seats_used + s.ds),"
                " storage_used = storage_used + s.dst, api_calls_7d = api_calls_7d + s.dapi, updated_at = s.ts"
                " FROM (SELECT id, sum(ds) AS ds, sum(dst) AS dst, sum(dapi) AS dapi, max(ts) AS ts"
                " FROM delta GROUP BY id) s"
                " WHERE account_current.account_id = s.id"
            )
        )
        conn.execute(sa.text(_derive(" WHERE account_id IN (SELECT id FROM delta)")))


def alert_engine(state_url: str, slack: SlackEmulator, crm: HubSpotEmulator, clock: Monotonic) -> AlertEngine:
    settings = load_alert_settings(
        {
            "alerts": {
                "tasks": {"connector": "hubspot", "match_field": "syncer_account_id"},
                "activation": {"quiet": False},
                "budget": {"per_recipient": 10_000, "per_channel": 10_000},
            },
            "routing": {"fallback_channel": "C0FALLBACK"},
            "digest": {"time": "09:00", "timezone": "UTC"},
        }
    )
    rates = {"channel_rate": 1000.0, "channel_burst": 100, "workspace_calls_per_minute": 100_000}
    slack_settings = SlackSettings(
        base_url=slack.api_url, bot_token=SecretStr(SLACK_TOKEN), fallback_channel="C0FALLBACK", **rates
    )
    limiter = RateLimiter(SlackConnector.rate_limit, clock=clock, sleep=clock.sleep)
    connector = SlackConnector(slack_settings, retry=no_wait(), limiter=limiter, clock=clock, sleep=clock.sleep)
    hs_settings = HubSpotSettings.model_validate(
        {"base_url": crm.base_url, "access_token": HS_TOKEN, "rate_limit_margin": 0.0, "timeout": 10.0}
    )
    hs = HubSpotConnector(
        hs_settings,
        Destination("tasks", "syncer_account_id", "insert"),
        retry=no_wait(),
        limiter=RateLimiter(None, clock=clock, sleep=clock.sleep),
        search_limiter=RateLimiter(SEARCH_LIMIT, clock=clock, sleep=clock.sleep),
    )
    return AlertEngine(settings, StateStore(state_url), connector, hs)


def simulate(name: str, n: int, minutes: float, folder: Path, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    wh = warehouse(folder / f"{name}.duckdb", n, seed)
    mono = Monotonic()
    slack = SlackEmulator(SLACK_TOKEN, channel_rate=1000.0, channel_burst=100)
    slack.__enter__()
    slack.add_channel("C0FALLBACK", "fallback")
    for i, email in enumerate(OWNERS):
        slack.add_user(f"U0AE{i:02d}", email)
    crm = HubSpotEmulator(plan="enterprise", clock=mono, token=HS_TOKEN)
    crm.store.define("companies", "syncer_account_id", "string", unique=True)
    crm.store.define("tasks", "syncer_key", "string")
    for i in range(n):
        crm.store.create("companies", {"syncer_account_id": f"acct-{i:06d}"})
    for email in OWNERS:
        crm.add_owner(email)
    crm.start()
    engine = alert_engine(f"sqlite:///{folder / f'{name}.state.db'}", slack, crm, mono)
    lane = IntradaySettings(every_minutes=minutes)
    triggers = [t for t in DEFAULT_TRIGGERS if t.lane == "intraday"]
    # yesterday's evaluation read everything: the day starts from its watermark
    run_lane(engine, wh, lane, triggers, DAY)
    batches = changes_per_tick(n, DAYS[name], minutes, rng)
    queries: list[int] = []
    rows: list[int] = []
    changed_rows: list[int] = []
    wall = 0.0
    for t, batch in enumerate(batches):
        tick = DAY + dt.timedelta(minutes=minutes * t)
        apply(wh, batch, tick, minutes, rng)
        at = tick + dt.timedelta(minutes=minutes)
        started = time.perf_counter()
        clock = lambda at=at, started=started: at + dt.timedelta(seconds=time.perf_counter() - started)  # noqa: E731
        run = run_lane(engine, wh, lane, triggers, at, clock=clock)
        wall += time.perf_counter() - started
        queries.append(run.queries)
        rows.append(run.rows_read)
        if run.rows_read:
            changed_rows.append(run.rows_read)
    latency = lane_latency(engine.engine).get("intraday") or {"alerts": 0}
    result = {
        "day": name,
        "changes": sum(len(b) for b in batches),
        "evaluations": len(batches),
        "alerts": latency["alerts"],
        "pings": len(crm.store.live("tasks")),
        "p50": latency.get("p50_seconds"),
        "p95": latency.get("p95_seconds"),
        "max": latency.get("max_seconds"),
        "queries_per_hour": sum(queries) / 24,
        "rows_mean": sum(rows) / len(rows),
        "rows_max": max(rows),
        "quiet_evals": sum(1 for r in rows if r == 0),
        "wall_s": wall,
    }
    engine.close()
    crm.stop()
    slack.__exit__(None, None, None)
    wh.dispose()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    print(f"intraday lane: {args.accounts} accounts, every {args.minutes:g} min, one simulated day each")
    header = (
        f"{'day':<6}{'changes':>8}{'alerts':>7}{'tasks':>6}{'p50 s':>8}{'p95 s':>8}{'max s':>8}"
        f"{'queries/h':>10}{'rows/eval':>10}{'max rows':>9}{'0-row evals':>12}{'wall s':>8}"
    )
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for name in DAYS:
            r = simulate(name, args.accounts, args.minutes, Path(tmp), args.seed)
            print(
                f"{r['day']:<6}{r['changes']:>8}{r['alerts']:>7}{r['pings']:>6}{r['p50']!s:>8}{r['p95']!s:>8}"
                f"{r['max']!s:>8}{r['queries_per_hour']:>10.1f}{r['rows_mean']:>10.1f}{r['rows_max']:>9}"
                f"{r['quiet_evals']:>12}{r['wall_s']:>8.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
