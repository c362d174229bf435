"""A state store already at head opens without loading alembic; one that is not is upgraded.

Every command opens the state store, so the at-head check is on every command's path; the
migration kill test (test_migration_kills.py) covers stores left behind head.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from syncer.state import newest_revision
from syncer.state_repair import head_revision

OPEN = (
    "import sys; from syncer.state import StateStore; StateStore(sys.argv[1]).close(); print('alembic' in sys.modules)"
)


def test_the_newest_migration_file_is_alembics_head() -> None:
    assert newest_revision() == head_revision()


def _opens_with_alembic(url: str) -> bool:
    result = subprocess.run([sys.executable, "-c", OPEN, url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip() == "True"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_only_a_store_behind_head_loads_alembic(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    assert _opens_with_alembic(url)  # empty: migrated from nothing to head
    assert not _opens_with_alembic(url)  # at head: one SELECT, no alembic
