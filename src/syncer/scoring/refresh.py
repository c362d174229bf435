"""`refresh_scores`: build metrics, scores and triggers in the warehouse, guard, then publish.

Order of work (every step is SQL executed by the warehouse; no usage row enters Python):
1. account_metrics            CREATE TABLE AS (one GROUP BY pass over the usage window)
2. fired_triggers__staging    CREATE TABLE AS (UNION ALL of every trigger)
3. account_scores__staging    CREATE TABLE AS (scores + top signal from the staged triggers)
4. data-quality guard         a few one-row aggregate queries
5. publish, only if the guard passed: in one transaction, DELETE + INSERT ... SELECT from staging
   into account_scores and fired_triggers. A failing guard leaves the last good ones in place and
   the staging tables for inspection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from syncer.errors import ConfigError, ConfigIssue
from syncer.scoring.execution import WarehouseSession
from syncer.scoring.metrics import metrics_select
from syncer.scoring.model import ScoringConfig
from syncer.scoring.quality import GuardResult, run_guard
from syncer.scoring.scores import scores_select, triggers_select
from syncer.secrets import masked_first_line


@dataclass(frozen=True)
class ScoreSummary:
    """What one refresh did; counts describe the computed (staged) batch, published or not."""

    as_of: date
    published: bool
    guard: GuardResult
    accounts_scored: int
    triggers_fired: int
    triggers_by_name: dict[str, int]
    pql_tiers: dict[str, int]
    health_bands: dict[str, int]
    rows_fetched: int
    seconds: float
    statements: list[str] = field(repr=False, default_factory=list)

    @property
    def state(self) -> str:
        return self.guard.state


def check_triggers(engine: sa.Engine, config: ScoringConfig, as_of: date) -> list[ConfigIssue]:
    """Run each trigger's SQL against the existing metrics table (zero rows kept); list the broken ones.

    `refresh_scores` calls this when the trigger statement fails, so a typo in one user trigger is
    reported by name; `syncer check` can call it after the first refresh has built `account_metrics`.
    """
    issues = []
    for trigger in config.triggers:
        one = config.model_copy(update={"triggers": (trigger,)})
        probe = sa.select(sa.func.count()).select_from(triggers_select(one, as_of).subquery("probe"))
        try:
            with engine.connect() as conn:
                WarehouseSession(conn, config.tables.schema_).fetch(probe.where(sa.false()))
        except sa.exc.DBAPIError as exc:
            message = masked_first_line(str(exc.orig)) if exc.orig else str(exc)
            issues.append(ConfigIssue("config", f"scoring.triggers.{trigger.name}", f"invalid SQL: {message}"))
    return issues


def staging_name(config: ScoringConfig, table: str) -> str:
    return table + config.tables.staging_suffix


def _counts(ws: WarehouseSession, config: ScoringConfig, table: str, column: str) -> dict[str, int]:
    t = sa.table(table, sa.column(column), schema=config.tables.schema_)
    rows = ws.fetch(sa.select(t.c[column], sa.func.count()).group_by(t.c[column]))
    return {str(k): int(v) for k, v in rows}


def refresh_scores(engine: sa.Engine, config: ScoringConfig, as_of: date) -> ScoreSummary:
    """Recompute scores and triggers for `as_of` (the last usage day to score) and publish if trusted."""
    started = time.perf_counter()
    tables = config.tables
    scores_stage, triggers_stage = staging_name(config, tables.scores), staging_name(config, tables.triggers)
    with engine.begin() as conn:
        ws = WarehouseSession(conn, tables.schema_)
        ws.create_table_as(tables.metrics, metrics_select(config, as_of))
    try:
        with engine.begin() as conn:
            ws.conn = conn
            ws.create_table_as(triggers_stage, triggers_select(config, as_of))
            ws.create_table_as(scores_stage, scores_select(config, as_of, triggers_stage))
    except sa.exc.DBAPIError as exc:
        issues = check_triggers(engine, config, as_of)
        if issues:
            raise ConfigError(issues) from exc
        raise
    with engine.begin() as conn:
        ws.conn = conn
        guard = run_guard(ws, config, as_of)
        by_trigger = _counts(ws, config, triggers_stage, "trigger")
        tiers = _counts(ws, config, scores_stage, "pql_tier")
        bands = _counts(ws, config, scores_stage, "health_band")
    if guard.state == "ok":
        with engine.begin() as conn:
            ws.conn = conn
            ws.replace_contents(tables.scores, scores_stage)
            ws.replace_contents(tables.triggers, triggers_stage)
    return ScoreSummary(
        as_of=as_of,
        published=guard.state == "ok",
        guard=guard,
        accounts_scored=sum(tiers.values()),
        triggers_fired=sum(by_trigger.values()),
        triggers_by_name=by_trigger,
        pql_tiers=tiers,
        health_bands=bands,
        rows_fetched=ws.rows_fetched,
        seconds=time.perf_counter() - started,
        statements=ws.statements,
    )
