"""The `updated_at` window from the command line, each case a `syncer` process as a user runs it.

`--full-diff`: a row updated without bumping `updated_at` is missed by the window (the contract);
before, the only ways to find it at once were `--full` (re-sends every record) or a short
`full_diff_every`. `run --full-diff` compares the whole model once, sends only the real change and
records the watermark as a full diff does; `plan --full-diff` shows it and writes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.diffmodes.test_modes_cli import ROWS, duckdb_project, sql
from tests.engine.conftest import Project

WATERMARK = "SELECT watermark, full_diff_at FROM diff_watermarks"


def _state_sql(project: Project, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(project.root / "data" / "state.sqlite") as conn:
        return conn.execute(query).fetchall()


def _windowed(tmp_path: Path, receiver: WebhookReceiver) -> Project:
    """A warehouse-mode project with `updated_at`, synced once (a full diff: the watermark is written);
    the window then reads account 1 only."""
    project = duckdb_project(tmp_path, receiver, "warehouse")
    sql(project, "ALTER TABLE accounts ADD COLUMN updated_at TIMESTAMP")
    sql(project, "UPDATE accounts SET updated_at = TIMESTAMP '2026-02-01 00:00:00'")
    sql(project, "UPDATE accounts SET updated_at = TIMESTAMP '2026-03-01 00:00:00' WHERE account_id = 1")
    mapping = project.root / "mappings" / "accounts.toml"
    mapping.write_text(mapping.read_text().replace("[model]\n", '[model]\nupdated_at = "updated_at"\n'))
    code, first, err = project.cli("run", "accounts", "--json")
    assert code == 0 and first["added"] == ROWS, err
    return project


def _process(project: Project, *args: str) -> tuple[int, str, str]:
    proc = project.subprocess(*args)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


# args: (changed, records the destination applied, does the watermark record a new full diff)
FULL_DIFF = {
    ("run", "accounts", "--json"): (0, 0, False),  # the window misses the update (the contract)
    ("plan", "accounts", "--full-diff", "--json"): (1, 0, False),  # found; a plan writes nothing
    ("run", "accounts", "--full-diff", "--json"): (1, 1, True),  # found and sent alone
}


@pytest.mark.parametrize("args", list(FULL_DIFF), ids=[" ".join(a[:1] + a[2:-1]) for a in FULL_DIFF])
def test_full_diff_finds_an_unbumped_update_and_sends_only_it(
    tmp_path: Path, receiver: WebhookReceiver, args: tuple[str, ...]
) -> None:
    changed, applied, recorded = FULL_DIFF[args]
    project = _windowed(tmp_path, receiver)
    before, sent = _state_sql(project, WATERMARK), sum(receiver.applied.values())
    sql(project, "UPDATE accounts SET pql_score = pql_score + 1 WHERE account_id = 5")  # updated_at not bumped

    code, out, err = _process(project, *args)
    assert code == 0 and "Traceback" not in err, err

    summary = json.loads(out)
    assert (summary["changed"], summary["added"], summary["removed"]) == (changed, 0, 0), summary
    assert sum(receiver.applied.values()) - sent == applied
    after = _state_sql(project, WATERMARK)
    assert after[0][0] == before[0][0]  # the model's newest updated_at did not move
    assert (after[0][1] > before[0][1]) is recorded, (before, after)  # a full diff's time, or the old one
    if args[0] == "run" and recorded:  # the next run reads the window again: nothing left, nothing sent
        code, again, err = project.cli("run", "accounts", "--json")
        assert code == 0 and again["changed"] == 0 and sum(receiver.applied.values()) - sent == applied, err


def test_full_diff_is_in_the_help_of_plan_and_run(tmp_path: Path, receiver: WebhookReceiver) -> None:
    project = duckdb_project(tmp_path, receiver, "warehouse")
    for command in ("plan", "run"):
        code, out, _ = project.cli(command, "--help")
        assert code == 0 and "--full-diff" in out and "only real changes are sent" in " ".join(out.split()), out
