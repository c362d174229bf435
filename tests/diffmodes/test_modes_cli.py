"""Every diff mode through the CLI on a DuckDB warehouse: what reaches the destination.

- a no-change run makes 0 write calls in every mode;
- warehouse mode survives a SIGKILL between acknowledgement and snapshot merge, and a dropped
  snapshot schema: the next run heals from local state, re-sends nothing and misses nothing;
- a plan never writes the snapshot (a plan with no usable snapshot plans columnar);
- the columnar path never holds more than `stream_batch` rows of the model at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.columnar import batches
from syncer.secrets import mask
from tests.engine.conftest import Project, create_accounts

ROWS = 300


def duckdb_project(root: Path, receiver: WebhookReceiver, mode: str, stream_batch: int = 5000) -> Project:
    url = f"duckdb:///{root / 'w.duckdb'}"
    with duckdb.connect(str(root / "w.duckdb")) as conn:
        conn.execute(
            "CREATE OR REPLACE TABLE accounts AS SELECT i AS account_id, 'Account ' || i AS name, "
            "'acct' || i || '.example.com' AS domain, CAST((i * 7) % 101 AS DOUBLE) AS pql_score, "
            "CASE i % 3 WHEN 0 THEN 'monitor' WHEN 1 THEN 'nurture' ELSE 'escalate' END AS tier "
            f"FROM range(1, {ROWS + 1}) r(i)"
        )
    project = Project(root, url, hook_url=f"{receiver.base_url}/hooks")
    project.write()
    project.config.write_text(
        project.config.read_text().replace(
            "[warehouse]\n", f'[warehouse]\ndiff = "{mode}"\nstream_batch = {stream_batch}\n'
        )
    )
    mask.clear()
    return project


def sql(project: Project, statement: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(project.warehouse_url.removeprefix("duckdb:///")) as conn:
        return conn.execute(statement).fetchall()


@pytest.mark.parametrize("mode", ["rows", "columnar", "warehouse"])
def test_a_no_change_run_makes_no_write_calls(tmp_path: Path, receiver: WebhookReceiver, mode: str) -> None:
    project = duckdb_project(tmp_path, receiver, mode)
    code, first, err = project.cli("run", "accounts", "--json")
    assert code == 0 and first["added"] == ROWS and first["succeeded"] == ROWS, err
    calls = receiver.write_calls
    code, again, err = project.cli("run", "accounts", "--json")
    assert code == 0 and again["unchanged"] == ROWS and again["added"] == again["changed"] == 0, err
    assert receiver.write_calls == calls  # not one write call


def test_warehouse_mode_heals_after_a_crash_between_ack_and_merge(tmp_path: Path, receiver: WebhookReceiver) -> None:
    project = duckdb_project(tmp_path, receiver, "warehouse")
    assert project.cli("run", "accounts", "--json")[0] == 0
    sql(project, "UPDATE accounts SET pql_score = pql_score + 1 WHERE account_id <= 7")
    proc = project.subprocess("run", "accounts", "--json", env={"SYNCER_FAILPOINT": "before_snapshot_merge"})
    proc.communicate(timeout=120)
    assert proc.returncode == -9  # killed after state recorded the 7 changes, before the snapshot had them
    sent = receiver.write_calls
    code, plan, _ = project.cli("plan", "accounts", "--json")  # a plan never heals: it plans columnar
    assert plan["changed"] == 0 and plan["unchanged"] == ROWS
    assert sql(project, "SELECT dirty_run IS NOT NULL FROM syncer.snapshot_marker") == [(True,)]

    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 0 and run["changed"] == 0 and run["unchanged"] == ROWS, err
    assert receiver.write_calls == sent  # nothing re-sent
    assert sql(project, "SELECT dirty_run IS NOT NULL FROM syncer.snapshot_marker") == [(False,)]
    assert sql(project, "SELECT COUNT(*) FROM syncer.snapshot") == [(ROWS,)]

    sql(project, "UPDATE accounts SET tier = 'x' WHERE account_id = 3")
    code, run, _ = project.cli("run", "accounts", "--json")
    assert run["changed"] == 1 and run["succeeded"] == 1  # nothing missed


def test_warehouse_mode_rebuilds_a_dropped_schema(tmp_path: Path, receiver: WebhookReceiver) -> None:
    project = duckdb_project(tmp_path, receiver, "warehouse")
    assert project.cli("run", "accounts", "--json")[0] == 0
    sql(project, "DROP SCHEMA syncer CASCADE")
    sql(project, "UPDATE accounts SET pql_score = pql_score + 1 WHERE account_id <= 4")
    sql(project, "DELETE FROM accounts WHERE account_id = 300")
    calls = receiver.write_calls
    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 0 and (run["changed"], run["left_model"], run["unchanged"]) == (4, 1, ROWS - 5), err
    assert receiver.write_calls == calls + 1  # the 4 changes in one batch; the removal is forgotten (upsert mode)
    assert sql(project, "SELECT COUNT(*) FROM syncer.snapshot") == [(ROWS - 1,)]
    code, again, _ = project.cli("run", "accounts", "--json")
    assert again["unchanged"] == ROWS - 1 and receiver.write_calls == calls + 1


def test_the_columnar_diff_holds_at_most_stream_batch_rows(
    tmp_path: Path, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = duckdb_project(tmp_path, receiver, "columnar", stream_batch=100)
    sizes: list[int] = []
    original = batches._from_arrow

    def counting(batch: Any, names: list[str]) -> batches.RowBatch:
        sizes.append(batch.num_rows)
        return original(batch, names)

    monkeypatch.setattr(batches, "_from_arrow", counting)
    _, plan, _ = project.cli("plan", "accounts", "--json")
    assert plan["added"] == ROWS and sum(sizes) == ROWS  # every row came through the native Arrow path
    assert max(sizes) <= 100


@pytest.mark.parametrize("command", [["plan", "accounts"], ["run", "accounts"], ["check"]])
def test_warehouse_mode_on_a_warehouse_without_it_is_a_config_error(
    tmp_path: Path, receiver: WebhookReceiver, command: list[str]
) -> None:
    project = Project(tmp_path, f"sqlite:///{tmp_path / 'w.sqlite'}", hook_url=f"{receiver.base_url}/hooks")
    create_accounts(project.warehouse_url, 3)
    project.write()
    project.config.write_text(project.config.read_text().replace("[warehouse]\n", '[warehouse]\ndiff = "warehouse"\n'))
    code, out, err = project.cli(*command)
    assert code == 2 and "warehouse.diff" in err and 'diff = "columnar"' in err and "Traceback" not in err, (out, err)
