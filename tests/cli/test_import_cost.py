"""Commands that never read a model's rows do not import the columnar libraries.

polars, pyarrow, numpy and DuckDB cost about 0.3-0.5 s of CPU to import (measured with `python -X importtime`
on 2026-12-01: polars alone 0.2-0.34 s), and every `syncer` process used to pay for polars at start-up because
a module on the CLI's import path imported it at module level. A command that reads only state or config
must not pay for them: each row runs the command as a process and lists the heavy modules it loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.engine.conftest import SECRET, Project

HEAVY = ("polars", "pyarrow", "numpy", "duckdb")
PROBE = (
    "import atexit, sys\n"
    f"atexit.register(lambda: print('LOADED', *[m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr))\n"
    "from syncer.cli import main\n"
    "main(sys.argv[1:])\n"
)


@pytest.mark.parametrize(
    "args",
    [("--help",), ("status",), ("runs",), ("state", "check"), ("audit", "accounts"), ("plan", "--help")],
    ids=" ".join,
)
def test_a_command_that_reads_no_rows_imports_no_columnar_library(project: Project, args: tuple[str, ...]) -> None:
    env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(project.config)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, timeout=120, cwd=project.root
    )
    assert result.returncode == 0, result.stderr
    loaded = next(line for line in result.stderr.splitlines() if line.startswith("LOADED"))
    assert loaded.split()[1:] == [], f"`syncer {' '.join(args)}` imported {loaded.split()[1:]}"
