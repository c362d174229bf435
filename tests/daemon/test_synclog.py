"""Sync logs copied to the warehouse after each run (DuckDB and SQLite), idempotently."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.state import StateStore
from syncer.synclog import SyncLog, SynclogSettings
from tests.daemon.conftest import configure, make_daemon
from tests.engine.conftest import Project, create_accounts

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def test_daemon_writes_runs_and_audit_rows_to_the_warehouse(project: Project, receiver: WebhookReceiver) -> None:
    configure(project, daemon='[daemon.synclog]\nruns_table = "sync_runs"\naudit_table = "sync_audit"\n')
    daemon = make_daemon(project)
    daemon.run_slot("accounts", T0)
    create_accounts(project.warehouse_url, 300, score_offset=3)
    daemon.run_slot("accounts", T0 + dt.timedelta(minutes=5))
    engine = sa.create_engine(project.warehouse_url)
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT run_id, status, succeeded FROM sync_runs ORDER BY run_id")).all()
        per_run = dict(conn.execute(sa.text("SELECT run_id, count(*) FROM sync_audit GROUP BY run_id")).all())
        # BI can join the log to the model on the record key.
        joined = conn.scalar(
            sa.text("SELECT count(*) FROM sync_audit a JOIN accounts m ON a.key = CAST(m.account_id AS TEXT)")
        )
    engine.dispose()
    state_runs = sorted(daemon.state.recent_runs("accounts"), key=lambda r: r["id"])
    assert [(r.run_id, r.status, r.succeeded) for r in runs] == [
        (r["id"], r["status"], r["succeeded"]) for r in state_runs
    ]
    assert per_run == {r["id"]: r["succeeded"] for r in state_runs if r["succeeded"]}
    assert joined == sum(per_run.values())
    daemon.close()


@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_copy_is_idempotent(kind: str, tmp_path: Path, project: Project, receiver: WebhookReceiver) -> None:
    configure(project)
    daemon = make_daemon(project)
    daemon.run_slot("accounts", T0)
    run_id = daemon.state.recent_runs("accounts")[0]["id"]
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}" if kind == "duckdb" else f"sqlite:///{tmp_path / 'wh.sqlite'}"
    warehouse = sa.create_engine(url)
    if kind == "duckdb":
        with warehouse.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA ops"))
    log = SyncLog(warehouse, SynclogSettings(schema="ops" if kind == "duckdb" else None, payloads=True))
    state: StateStore = daemon.state
    assert log.write_run(state, run_id) == 300
    assert log.write_run(state, run_id) == 300  # a redo replaces, never duplicates
    table = "ops.syncer_audit" if kind == "duckdb" else "syncer_audit"
    with warehouse.connect() as conn:
        assert conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) == 300
        assert conn.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE payload LIKE '%pql_score%'")) == 300
    warehouse.dispose()
    daemon.close()
