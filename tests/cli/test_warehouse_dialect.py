"""A warehouse URL whose scheme SQLAlchemy cannot load names the dialect, the ones syncer reads, and the closest.

Seen in a newcomer's trial: `sqlit:///x.db` printed SQLAlchemy's "Can't load plugin: sqlalchemy.dialects:sqlit".
`syncer check` as a process, table-driven over typos of each kind: one line naming config.toml and
`warehouse.url`, exit 2, no traceback, never the URL's password.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = {  # warehouse.url -> what the one line says
    "sqlit:///x.db": "unknown warehouse dialect 'sqlit' (did you mean 'sqlite'?)",
    "duckd:///x.duckdb": "unknown warehouse dialect 'duckd' (did you mean 'duckdb'?)",
    "postgress://u:hunter2@h/db": "unknown warehouse dialect 'postgress' (did you mean 'postgresql'?)",
    "snowflak://u:hunter2@acct/db": "unknown warehouse dialect 'snowflak' (did you mean 'snowflake'?)",
    "nosuchdb://h/db": "unknown warehouse dialect 'nosuchdb': syncer reads sqlite, duckdb, postgresql",
    "postgresql+nodriver://u:hunter2@h/db": "no driver 'nodriver' for postgresql",
}


@pytest.mark.parametrize("url", sorted(CASES))
def test_an_unknown_dialect_is_named_with_the_closest(tmp_path: Path, url: str) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "config.toml").write_text(f'[syncer]\ndata_dir = "data"\n[warehouse]\nurl = "{url}"\n')
    result = subprocess.run(
        [sys.executable, "-m", "syncer", "check", "-c", "config.toml"],
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1 and "config.toml: warehouse.url: " in lines[0] and CASES[url] in lines[0], lines
    assert "Traceback" not in result.stderr and "hunter2" not in result.stdout + result.stderr
