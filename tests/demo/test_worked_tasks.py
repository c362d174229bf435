"""The reps' work the demo prints is the work state holds: `syncer demo` run as a process, then its state and
`syncer alerts sla --json` (F1: the history's worked tasks were looked up by the bare alert key while the CRM
ledger holds tasks by their project-scoped key, so state kept 1 of 472 worked tasks)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa


def _env(folder: Path) -> dict[str, str]:
    """The environment the demo prints for exploring it (`env $(cat syncer-demo/demo.env) syncer ...`)."""
    pairs = (line.split("=", 1) for line in (folder / "demo.env").read_text().split() if "=" in line)
    return {**os.environ, **dict(pairs)}


def test_the_worked_tasks_the_demo_prints_are_in_state_and_in_alerts_sla(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    ran = subprocess.run(
        [sys.executable, "-m", "syncer", "demo", "--dir", str(folder), "--accounts", "150", "--days", "45"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = ran.stdout + ran.stderr
    assert ran.returncode == 0, out
    history = re.search(r"([\d,]+) tasks? worked by their owners", out)
    overnight = re.search(r"account owners completed (\d+) of the CRM tasks", out)
    assert history and overnight, out
    printed = int(history.group(1).replace(",", "")) + int(overnight.group(1))
    assert printed > 0, out  # the small world's reps do work some tasks

    with sa.create_engine(f"sqlite:///{folder / 'data' / 'state.sqlite'}").connect() as conn:
        completed, with_time = conn.execute(
            sa.text("SELECT count(*), count(worked_at) FROM alerts WHERE task_state = 'completed'")
        ).one()
    assert completed == with_time == printed, (completed, with_time, printed)

    sla = subprocess.run(
        [sys.executable, "-m", "syncer", "alerts", "sla", "--json", "-c", str(folder / "config.toml")],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(folder),
        cwd=folder.parent,
    )
    assert sla.returncode == 0, sla.stdout + sla.stderr
    worked = json.loads(sla.stdout)["worked"]
    assert sum(row["met"] + row["missed"] for row in worked.values()) == printed, worked
