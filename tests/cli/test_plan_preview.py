"""`plan --show` is the run's preview: every record a run sends (its op, key, the fields and values on the wire)
is in the plan's samples, nothing a run does not send is, and the plan's counts are the run's.

Newcomer trial: in mirror mode the samples left out the deletes a run sends (the departed records a mirror run
deletes, the upsert of a re-keyed row); in the other modes they listed "removed" records a run never deletes;
with `null_policy = "skip"` a NULL showed as `to: null` though a run does not send the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import MAPPING, SECRET, Project

OPS = {"mirror": "upsert", "upsert": "upsert", "update": "update", "insert": "insert"}
COUNTS = ("added", "changed", "removed", "left_model", "unchanged", "departed", "rekeyed", "held_deletes")


def cli(project: Project, *args: str) -> dict[str, Any]:
    env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(project.config)}
    done = subprocess.run([sys.executable, "-m", "syncer", *args, "--json"], env=env, text=True, capture_output=True)
    assert done.returncode in (0, 1), done.stderr
    return dict(json.loads(done.stdout))


def change_model(url: str, rekey: bool) -> None:
    """Row 1 leaves the model, row 2 changes its name and gets a NULL score, row 26 arrives; `rekey`: row 3's
    match value moves."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM accounts WHERE account_id = 1"))
        conn.execute(sa.text("UPDATE accounts SET name = 'Renamed', pql_score = NULL WHERE account_id = 2"))
        conn.execute(sa.text("INSERT INTO accounts VALUES (26, 'Account 26', 'acct26.example.com', NULL, 'monitor')"))
        if rekey:
            conn.execute(sa.text("UPDATE accounts SET domain = 'moved3.example.com' WHERE account_id = 3"))
    engine.dispose()


# (mode of the first run, mode of the planned run, what leaves the model earlier: a departed record)
CASES = [
    ("mirror", "mirror", False),
    ("upsert", "upsert", False),
    ("upsert", "update", False),  # update never creates: the records exist first
    ("insert", "insert", False),
    ("upsert", "mirror", True),  # a mirror run deletes the records an upsert sync left, and re-keys row 3
]


@pytest.mark.parametrize(("first", "mode", "departed_before"), CASES)
def test_plan_show_is_what_run_sends(
    project: Project, receiver: WebhookReceiver, first: str, mode: str, departed_before: bool
) -> None:
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:  # twenty rows are enough
        conn.execute(sa.text("DELETE FROM accounts WHERE account_id > 20"))
    project.write(mode=first)
    if departed_before:  # row 5 leaves the model under upsert: its record stays, state keeps it departed
        cli(project, "run", "accounts")
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM accounts WHERE account_id = 5"))
    engine.dispose()
    project.write(mode=first)
    cli(project, "run", "accounts")
    project.write(mapping=MAPPING.format(mode=mode))
    change_model(project.warehouse_url, rekey=mode == "mirror")

    plan = cli(project, "plan", "accounts", "--show", "20")
    receiver.received.clear()
    run = cli(project, "run", "accounts")

    sent = [(r["key"], r["op"]) for r in receiver.received]
    for s in plan.get("samples", []):  # (a release whose samples named no op: the op its kind stands for)
        s.setdefault("op", {"removed": "delete"}.get(s["kind"], OPS[mode]))
    planned = [(s["key"], s["op"]) for s in plan.get("samples", []) if s["op"] is not None]
    assert sorted(planned) == sorted(sent)
    assert {k: plan[k] for k in COUNTS} == {k: run[k] for k in COUNTS}
    if mode != "mirror":
        assert run["removed"] == 0 and plan["left_model"] >= 1
        kept = [s for s in plan["samples"] if s["key"] == "1"]
        assert [s["kind"] for s in kept] == ["left_model"] and "stays at the destination" in kept[0]["note"]
    else:
        assert ("1", "delete") in planned and ("5" in dict(planned)) is departed_before
    on_wire = {(r["key"], r["op"]): r["fields"] for r in receiver.received}
    for sample in plan["samples"]:
        fields = on_wire.get((sample["key"], sample["op"]), {})
        assert sample.get("fields", fields) == fields
        for name, change in sample.get("changes", {}).items():
            if "to" in change:
                assert fields[name] == change["to"]
            else:  # a NULL under null_policy skip: not on the wire
                assert name not in fields and change["skipped"].startswith("null")
    if mode in ("upsert", "mirror", "update"):
        renamed = next(s for s in plan["samples"] if s["key"] == "2")
        assert "to" not in renamed["changes"]["pql_score"]
