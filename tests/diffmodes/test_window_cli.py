"""The `updated_at` window from the command line, each case a `syncer` process as a user runs it.

A row dated in the future is warned of (check, plan, run) and does not park the watermark ahead.

`--full-diff`: a row updated without bumping `updated_at` is missed by the window (the contract);
before, the only ways to find it at once were `--full` (re-sends every record) or a short
`full_diff_every`. `run --full-diff` compares the whole model once, sends only the real change and
records the watermark as a full diff does; `plan --full-diff` shows it and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.state import StateStore
from syncer.warehouse_diff import future_dated, watermark
from tests.diffmodes.test_modes_cli import ROWS, duckdb_project, sql
from tests.engine.conftest import Project

WATERMARK = "SELECT watermark, full_diff_at FROM diff_watermarks"


def _state_sql(project: Project, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(project.root / "data" / "state.sqlite") as conn:
        return conn.execute(query).fetchall()


def _windowed(tmp_path: Path, receiver: WebhookReceiver, mode: str = "warehouse") -> Project:
    """A project diffing in `mode` with `updated_at`, synced once (a full diff: the watermark is written);
    the window then reads account 1 only."""
    project = duckdb_project(tmp_path, receiver, mode)
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


# A row dated in the future: before, the watermark jumped to it and every later real change fell
# outside the window until the next full diff. Each command warns (sync, column, how far); a run
# stores a watermark no later than its start, so the next real change is found.
FUTURE = dt.timedelta(days=400, minutes=30)
SAID = re.compile(r"sync accounts: model\.updated_at: column 'updated_at' holds a value 400d(29|30)m in the future")


COMMANDS = [("check",), ("plan", "accounts", "--json"), ("run", "accounts", "--json")]


@pytest.mark.parametrize(
    ("mode", "args"),
    [("warehouse", c) for c in COMMANDS] + [("columnar", c) for c in COMMANDS if c[0] != "plan"],
    ids=lambda v: v if isinstance(v, str) else v[0],
)
def test_a_future_updated_at_is_warned_of_and_does_not_park_the_watermark(
    tmp_path: Path, receiver: WebhookReceiver, mode: str, args: tuple[str, ...]
) -> None:
    project = _windowed(tmp_path, receiver, mode)
    before = _state_sql(project, WATERMARK)
    future = (dt.datetime.now(dt.UTC) + FUTURE).replace(tzinfo=None)
    sql(project, f"UPDATE accounts SET updated_at = TIMESTAMP '{future:%Y-%m-%d %H:%M:%S}' WHERE account_id = 2")

    code, _, err = _process(project, *args)
    assert code == 0 and "Traceback" not in err, err
    assert len([line for line in err.splitlines() if SAID.search(line)]) == 1, err
    stored = _state_sql(project, WATERMARK)[0][0]
    if args[0] != "run":
        assert _state_sql(project, WATERMARK) == before  # check and plan write nothing
        return
    assert watermark.decode(stored) <= dt.datetime.now(dt.UTC).replace(tzinfo=None), stored  # not parked ahead
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    sql(
        project,
        f"UPDATE accounts SET tier = 'x', updated_at = TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}' WHERE account_id = 5",
    )
    code, again, err = project.cli("run", "accounts", "--json")
    assert code == 0 and (again["changed"], again["succeeded"]) == (1, 1), (again, err)  # the real change is found


NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
PLUS_TWO = dt.timezone(dt.timedelta(hours=2))
# value: (how far ahead of NOW, the value a watermark may hold)
STAMPS: dict[dt.datetime | dt.date, tuple[dt.timedelta, dt.datetime | dt.date]] = {
    dt.datetime(2026, 3, 1, 8, 0): (-dt.timedelta(hours=1), dt.datetime(2026, 3, 1, 8, 0)),  # past: kept
    dt.datetime(2026, 3, 1, 9, 0): (dt.timedelta(0), dt.datetime(2026, 3, 1, 9, 0)),  # now: kept
    dt.datetime(2026, 3, 3, 9, 0): (dt.timedelta(days=2), dt.datetime(2026, 3, 1, 9, 0)),  # naive: read as UTC
    dt.datetime(2026, 3, 1, 12, 0, tzinfo=PLUS_TWO): (
        dt.timedelta(hours=1),
        dt.datetime(2026, 3, 1, 11, 0, tzinfo=PLUS_TWO),
    ),
    dt.datetime(2026, 3, 1, 10, 0, tzinfo=PLUS_TWO): (
        -dt.timedelta(hours=1),
        dt.datetime(2026, 3, 1, 10, 0, tzinfo=PLUS_TWO),
    ),
    dt.date(2026, 3, 1): (dt.timedelta(0), dt.date(2026, 3, 1)),  # today: kept
    dt.date(2027, 3, 1): (dt.timedelta(days=365), dt.date(2026, 3, 1)),
}


@pytest.mark.parametrize("value", list(STAMPS), ids=[repr(v) for v in STAMPS])
def test_how_far_a_stamp_is_ahead_and_where_the_watermark_stops(value: dt.datetime | dt.date) -> None:
    distance, kept = STAMPS[value]
    assert future_dated.ahead(value, NOW) == distance
    held = future_dated.at_most(value, NOW)
    assert (
        held == kept and type(held) is type(value) and getattr(held, "tzinfo", None) == getattr(value, "tzinfo", None)
    )


def test_a_window_records_no_watermark_later_than_its_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`Window.record` after a full diff and after a window that read a future value (the clock patched)."""
    monkeypatch.setattr(watermark, "utcnow", lambda: NOW)
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    try:
        for since in (None, dt.datetime(2026, 2, 1)):
            window = watermark.Window("m", "spec", since, NOW if since else None)
            window.start(dt.datetime(2027, 1, 1))
            window.record(state, failed=0, unsent=0)
            assert state.diff_watermark("m")[0] == "datetime:2026-03-01T09:00:00"
    finally:
        state.close()
