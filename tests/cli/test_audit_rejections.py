"""`audit --status rejected` lists the rows rejected now, and `status` counts the same rows; a rejection a later
run resolved (the fixed row was sent, or the changed row was rejected again) is left out, and `--history` lists
it marked resolved. Newcomer trial: the audit still listed rejections of rows that had been fixed and synced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import REJECT_VALUE

from tests.engine.conftest import SECRET, Project


def cli(project: Project, *args: str) -> Any:
    env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(project.config)}
    done = subprocess.run([sys.executable, "-m", "syncer", *args], env=env, text=True, capture_output=True)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout) if "--json" in args else done.stdout


def names(project: Project, **by_id: str) -> None:
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        for account, name in by_id.items():
            conn.execute(sa.text("UPDATE accounts SET name = :n WHERE account_id = :i"), {"n": name, "i": account[1:]})
    engine.dispose()


# (case, edits before each run after the first, keys rejected now, keys of every rejection: key -> resolved)
CASES = [
    ("fixed and synced", [{"a1": "Fixed 1"}], ["2"], {"1": [True], "2": [False]}),
    (
        "fixed, then rejected again",
        [{"a1": "Fixed 1"}, {"a1": REJECT_VALUE}],
        ["1", "2"],
        {"1": [True, False], "2": [False]},
    ),
    ("never fixed, held", [{}], ["1", "2"], {"1": [False], "2": [False]}),
]


@pytest.mark.parametrize(("case", "edits", "now", "history"), CASES, ids=[c[0] for c in CASES])
def test_audit_lists_the_rejections_status_counts(
    project: Project, case: str, edits: list[dict[str, str]], now: list[str], history: dict[str, list[bool]]
) -> None:
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM accounts WHERE account_id > 10"))
    engine.dispose()
    names(project, a1=REJECT_VALUE, a2=REJECT_VALUE)
    cli(project, "run", "accounts")
    for edit in edits:
        names(project, **edit)
        cli(project, "run", "accounts")

    current = cli(project, "audit", "accounts", "--status", "rejected", "--json")
    assert sorted(r["key"] for r in current) == now
    assert all(r["resolved"] is False for r in current)
    status = {s["sync"]: s for s in cli(project, "status", "--json")["syncs"]}
    assert status["accounts"]["rejected"] == len(current)
    every = cli(project, "audit", "accounts", "--status", "rejected", "--history", "--json")
    resolved: dict[str, list[bool]] = {}
    for r in reversed(every):  # oldest first
        resolved.setdefault(r["key"], []).append(r["resolved"])
    assert resolved == history
    table = cli(project, "audit", "accounts", "--status", "rejected", "--history")
    assert ("rejected (resolved)" in table) is any(any(v) for v in resolved.values())
