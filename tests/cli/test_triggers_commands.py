"""`syncer triggers backtest | canary | promote | rollback` as processes on a small DuckDB warehouse:
each command's effect is checked (the counts it replays, the canary status it reads and writes)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from syncer.alerts.store import canaries
from syncer.scoring import build_world
from syncer.scoring.model import DEFAULT_TRIGGERS

TRIGGER = "seat_limit_approaching"
AS_OF = dt.date(2025, 6, 30)


def trigger_toml(canary: str | None) -> str:
    """Every built-in trigger as `[[scoring.triggers]]` (giving any replaces them all); one with a canary."""
    out = []
    for trigger in DEFAULT_TRIGGERS:
        fields = trigger.model_dump(exclude_none=True, exclude={"canary"})
        lines = [f"{k} = {json.dumps(list(v) if isinstance(v, tuple) else v)}" for k, v in fields.items()]
        if trigger.name == TRIGGER and canary:
            lines.append(f"canary = {canary}")
        out.append("[[scoring.triggers]]\n" + "\n".join(lines))
    return "\n\n".join(out)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("triggers")
    warehouse = root / "warehouse.duckdb"
    engine = sa.create_engine(f"duckdb:///{warehouse}")
    build_world(engine, accounts=150, days=70, seed=3, as_of=AS_OF)
    engine.dispose()
    (root / "mappings").mkdir()
    config = f'[syncer]\ndata_dir = "data"\n\n[warehouse]\nurl = "duckdb:///{warehouse}"\n\n'
    (root / "config.toml").write_text(config + trigger_toml("{ threshold = 0.7 }") + "\n")
    return root


def syncer(root: Path, *args: str) -> tuple[int, Any, str]:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("syncer")), *args, "--config", str(root / "config.toml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    try:
        data = json.loads(done.stdout) if "--json" in args else done.stdout
    except json.JSONDecodeError:
        data = done.stdout
    return done.returncode, data, done.stderr


def backtest(root: Path, threshold: float) -> dict[str, Any]:
    args = ("triggers", "backtest", TRIGGER, "--set", f"threshold={threshold}", "--since", "56d", "--json")
    code, data, err = syncer(root, *args)
    assert code == 0 and isinstance(data, dict), (code, data, err)
    return data


def test_backtest_replays_the_change_over_the_history(project: Path) -> None:
    same, lower, never = backtest(project, 0.8), backtest(project, 0.5), backtest(project, 1000.0)
    current = same["current"]["alerts"]
    print(
        f"\nbacktest {TRIGGER}: current {current}, at 0.8 {same['changed']['alerts']}, "
        f"at 0.5 {lower['changed']['alerts']}, at 1000 {never['changed']['alerts']}"
    )
    assert current > 0 and same["evaluations"] == 9
    assert same["changed"]["alerts"] == current and same["changed"]["by_week"] == same["current"]["by_week"]
    assert lower["current"]["alerts"] == current < lower["changed"]["alerts"]  # a lower bar fires more
    assert never["changed"]["alerts"] == 0 and never["recall"] in (0, 0.0, None)
    code, text, _ = syncer(project, "triggers", "backtest", TRIGGER, "--set", "threshold=0.5", "--since", "56d")
    assert code == 0 and f"alerts {current} -> {lower['changed']['alerts']}" in text, text


def test_backtest_usage_errors_exit_2_naming_the_option(project: Path) -> None:
    code, _, err = syncer(project, "triggers", "backtest", TRIGGER, "--set", "colour=red")
    assert code == 2 and "--set" in err, err
    code, _, err = syncer(project, "triggers", "backtest", TRIGGER, "--set", "threshold=0.5", "--since", "six")
    assert code == 2 and "--since" in err, err
    code, _, err = syncer(project, "triggers", "backtest", "no_such", "--set", "threshold=0.5")
    assert code == 2 and "scoring.triggers" in err and "no_such" in err, err


def stored_status(root: Path) -> str | None:
    engine = sa.create_engine(f"sqlite:///{root / 'data' / 'state.sqlite'}")
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.select(canaries.c.status).where(canaries.c.trigger == TRIGGER))
    finally:
        engine.dispose()


def test_canary_promote_and_rollback_read_and_write_the_decision(project: Path) -> None:
    code, data, err = syncer(project, "triggers", "canary", TRIGGER, "--json")
    assert code == 0 and data["status"] == "running" and data["trigger"] == TRIGGER, (data, err)
    assert {"current", "canary"} <= set(data)
    code, text, err = syncer(project, "triggers", "promote", TRIGGER)
    assert code == 0 and "promoted" in text and "0.7" in text, (text, err)
    assert stored_status(project) == "promoted"
    assert syncer(project, "triggers", "canary", TRIGGER, "--json")[1]["status"] == "promoted"
    code, text, err = syncer(project, "triggers", "rollback", TRIGGER)
    assert code == 0 and "rolled back" in text, (text, err)
    assert stored_status(project) == "rolled_back"
    assert syncer(project, "triggers", "canary", TRIGGER, "--json")[1]["status"] == "rolled_back"
    code, _, err = syncer(project, "triggers", "promote", "storage_limit_approaching")  # no canary change
    assert code == 2 and "scoring.triggers" in err and "canary" in err, err
