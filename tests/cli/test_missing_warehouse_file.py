"""A SQLite or DuckDB warehouse path that does not exist is a config error, and no empty file is left behind.

Both drivers create an empty database where a path does not exist, so a mistyped path used to be read as an
empty warehouse ("no such table") and left a stray file (seen in a newcomer's trial: `check` made one). Every
command that opens the warehouse now says which key is wrong, exits 2, and creates nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.conftest import SECRET, Project

COMMANDS = [("check",), ("plan", "accounts"), ("run", "accounts")]


@pytest.mark.parametrize("scheme", ["sqlite", "duckdb"])
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_warehouse_file_that_does_not_exist_is_named_and_not_created(
    project: Project, scheme: str, args: tuple[str, ...]
) -> None:
    typo = project.root / f"warehuose.{scheme}"
    config = project.config.read_text().replace(project.warehouse_url, f"{scheme}:///{typo}")
    project.config.write_text(config)
    env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(project.config)}
    result = subprocess.run(
        [sys.executable, "-m", "syncer", *args], env=env, capture_output=True, text=True, timeout=120, cwd=project.root
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "warehouse.url: no database file at" in result.stderr and str(typo) in result.stderr
    assert "Traceback" not in result.stderr
    assert not typo.exists() and not Path(f"{typo}.wal").exists()
