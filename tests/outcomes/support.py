"""The simulated world for the outcome tests: DuckDB warehouse, SQLite state, Slack + HubSpot emulators."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts import AlertEngine
from syncer.config import AppSettings, Config, WarehouseConfig
from syncer.outcomes.simulate import Simulation, simulate
from syncer.outcomes.tracking import sync_task_states
from syncer.scoring import ScoringConfig, build_world
from syncer.state import StateStore
from tests.alerts.support import FALLBACK, HS_TOKEN, Clock, complete_task, hubspot_connector, settings, slack_connector

ACCOUNTS, SEED, WEEKS, USAGE_DAYS = 600, 7, 13, 150
AS_OF = dt.date(2025, 6, 30)
FIRST_EVAL = AS_OF - dt.timedelta(days=7 * (WEEKS - 1))  # the last evaluation scores the world's last day


@dataclass
class World:
    config: Config
    state: StateStore
    warehouse: sa.Engine
    sim: Simulation
    scoring: ScoringConfig


def make_config(tmp: Path, warehouse_url: str, raw: dict[str, Any] | None = None) -> Config:
    return Config(
        path=tmp / "config.toml",
        app=AppSettings(data_dir=tmp / ".syncer"),
        warehouse=WarehouseConfig(url=warehouse_url),
        connectors={},
        syncs={},
        raw=raw or {},
        scoring=ScoringConfig(),
    )


def run_world(tmp: Path, accounts: int = ACCOUNTS, seed: int = SEED) -> World:
    url = f"duckdb:///{tmp / 'warehouse.duckdb'}"
    warehouse = sa.create_engine(url)
    build_world(warehouse, accounts=accounts, days=USAGE_DAYS, seed=seed, as_of=AS_OF)
    clock = Clock()
    slack = SlackEmulator()
    slack.start()
    slack.reset(clock)
    slack.add_channel(FALLBACK, "alerts-fallback")
    crm = HubSpotEmulator(plan="enterprise", clock=clock, token=HS_TOKEN)
    crm.store.define("companies", "syncer_account_id", "string", unique=True)
    crm.store.define("tasks", "syncer_key", "string")
    for n in range(1, accounts + 1):
        crm.store.create("companies", {"syncer_account_id": f"acc_{n:06d}", "name": f"Account {n}"})
    for i in range(40):
        crm.add_owner(f"owner{i}@example.com")
        slack.add_user(f"U0OWNER{i}", f"owner{i}@example.com")
    crm.start()
    state = StateStore(f"sqlite:///{tmp / 'state.sqlite'}")
    engine = AlertEngine(
        settings(alerts={"escalation_channel": None}),
        state,
        slack_connector(slack.api_url, slack.token, clock, fast=True),
        hubspot_connector(crm.base_url, clock),
    )
    try:
        sim = simulate(
            warehouse,
            engine,
            lambda key, when: complete_task(crm, key, when, state.engine),
            first_day=FIRST_EVAL,
            weeks=WEEKS,
            seed=seed,
        )
        assert engine.crm is not None
        sync_task_states(state.engine, engine.crm, sim.report_at)  # what `syncer report` does first
    finally:
        engine.close()
        crm.stop()
        slack.stop()
    return World(make_config(tmp, url), state, warehouse, sim, ScoringConfig())
