"""Write the report back to the warehouse: the per-trigger table and the per-alert outcome table.

Both are replaced on each report in one transaction (create if missing, DELETE, INSERT), with
SQLAlchemy Core only, so the same code runs on DuckDB, SQLite, PostgreSQL (and Snowflake/BigQuery
through their dialects). BI tools can then join alert outcomes with anything else in the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from syncer.outcomes.model import WritebackConfig
from syncer.outcomes.report import Report
from syncer.scoring.synthetic import insert_rows
from syncer.timestamps import UtcDateTime

TS = UtcDateTime(timezone=False)  # stored as UTC without zone: portable across the dialects


def _split(name: str) -> tuple[str | None, str]:
    schema, _, table = name.rpartition(".")
    return schema or None, table


def trigger_table(name: str, md: sa.MetaData) -> sa.Table:
    schema, table = _split(name)
    return sa.Table(
        table,
        md,
        sa.Column("trigger", sa.String(200), primary_key=True),
        sa.Column("priority", sa.String(20)),
        sa.Column("alerts_fired", sa.Integer),
        sa.Column("alerts_matured", sa.Integer),
        sa.Column("alerts_with_task", sa.Integer),
        sa.Column("worked", sa.Integer),
        sa.Column("worked_within_sla", sa.Integer),
        sa.Column("median_hours_to_action", sa.Double),
        sa.Column("converted", sa.Integer),
        sa.Column("conversion_rate", sa.Double),
        sa.Column("conversion_ci_low", sa.Double),
        sa.Column("conversion_ci_high", sa.Double),
        sa.Column("expected_conversion", sa.String(40)),
        sa.Column("expected_vs_measured", sa.String(20)),
        sa.Column("accuracy", sa.Double),
        sa.Column("attributed_mrr", sa.Double),
        sa.Column("threshold", sa.Double),
        sa.Column("report_at", TS),
        schema=schema,
    )


def alert_table(name: str, md: sa.MetaData) -> sa.Table:
    schema, table = _split(name)
    return sa.Table(
        table,
        md,
        sa.Column("alert_key", sa.String(600), primary_key=True),
        sa.Column("account_id", sa.String(300)),
        sa.Column("trigger", sa.String(200)),
        sa.Column("priority", sa.String(20)),
        sa.Column("delivery", sa.String(20)),
        sa.Column("owner_email", sa.String(320)),
        sa.Column("fired_at", TS),
        sa.Column("task_state", sa.String(20)),
        sa.Column("worked_at", TS),
        sa.Column("hours_to_action", sa.Double),
        sa.Column("worked_within_sla", sa.Boolean),
        sa.Column("matured", sa.Boolean),
        sa.Column("stage", sa.String(20)),
        sa.Column("converted_at", TS),
        sa.Column("expansion_kind", sa.String(40)),
        sa.Column("expansion_mrr", sa.Double),
        sa.Column("relevant", sa.Boolean),
        sa.Column("attributed_mrr", sa.Double),
        sa.Column("report_at", TS),
        schema=schema,
    )


@dataclass(frozen=True)
class Written:
    triggers_table: str
    triggers: int
    alerts_table: str
    alerts: int


def _naive(value: Any) -> Any:
    return value.replace(tzinfo=None) if hasattr(value, "tzinfo") and value.tzinfo is not None else value


def write_back(engine: sa.Engine, report: Report, config: WritebackConfig | None = None) -> Written:
    """Replace both tables with this report's rows (one transaction)."""
    config = config or report.settings.outcomes.writeback
    md = sa.MetaData()
    triggers, alerts = trigger_table(config.triggers_table, md), alert_table(config.alerts_table, md)
    at = _naive(report.generated_at)
    trigger_rows = [
        {
            "trigger": t.trigger,
            "priority": t.priority,
            "alerts_fired": t.fired,
            "alerts_matured": t.matured,
            "alerts_with_task": t.with_task,
            "worked": t.worked,
            "worked_within_sla": t.worked_within_sla,
            "median_hours_to_action": t.median_hours_to_action,
            "converted": t.converted,
            "conversion_rate": t.conversion_rate,
            "conversion_ci_low": t.ci_low,
            "conversion_ci_high": t.ci_high,
            "expected_conversion": t.expected_conversion,
            "expected_vs_measured": t.expected_vs_measured,
            "accuracy": t.accuracy,
            "attributed_mrr": t.attributed_mrr,
            "threshold": t.threshold,
            "report_at": at,
        }
        for t in report.triggers
    ]
    alert_rows = [{k: _naive(v) for k, v in {**o.as_row(), "report_at": at}.items()} for o in report.outcomes]
    with engine.begin() as conn:
        md.create_all(conn, checkfirst=True)
        conn.execute(triggers.delete())
        conn.execute(alerts.delete())
        if trigger_rows:
            conn.execute(triggers.insert(), trigger_rows)
        insert_rows(conn, alerts, alert_rows)  # multi-row VALUES; DuckDB loads a CSV (binding is slow there)
    return Written(config.triggers_table, len(trigger_rows), config.alerts_table, len(alert_rows))
