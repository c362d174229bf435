"""A long value is shown by its start and its length in every table and preview (`tables.shown`), never printed
in full; `--json` keeps it whole. Newcomer trial: a 70,000-character value filled the terminal in `plan --show`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.engine.conftest import SECRET, Project, create_accounts

LONG = "x" * 70_000
COUNTED = re.compile(r"…' \(70,0\d\d chars\)")  # the value, or the reason / payload quoting it


def cli(project: Project, *args: str) -> str:
    env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(project.config)}
    done = subprocess.run([sys.executable, "-m", "syncer", *args], env=env, text=True, capture_output=True)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


NAME = f"(4, '{LONG}', 'acct4.example.com', 1, 'monitor')"  # row 4's name is long
SCORE = f"(4, 'four', 'acct4.example.com', '{LONG}', 'monitor')"  # a score the mapping cannot round: a bad row
# (display, row 4, the command that shows it (audit: after a run), cut: False for --json, which is never cut)
DISPLAYS = [
    ("plan --show: an added record's field", NAME, ("plan", "accounts", "--show", "5"), True),
    ("plan: a bad row's reason", SCORE, ("plan", "accounts"), True),
    ("audit table: the payload", NAME, ("audit", "accounts", "--key", "4"), True),
    ("audit table: a rejection's reason", SCORE, ("audit", "accounts", "--key", "4"), True),
    ("plan --show --json", NAME, ("plan", "accounts", "--show", "5", "--json"), False),
    ("audit --json", NAME, ("audit", "accounts", "--key", "4", "--json"), False),
]


@pytest.mark.parametrize(("display", "row", "args", "cut"), DISPLAYS, ids=[d[0] for d in DISPLAYS])
def test_a_long_value_is_counted_not_printed(
    project: Project, display: str, row: str, args: tuple[str, ...], cut: bool
) -> None:
    create_accounts(project.warehouse_url, 3)
    cli(project, "run", "accounts")
    create_accounts(project.warehouse_url, 3, extra_rows=row)
    if args[0] == "audit":
        cli(project, "run", "accounts")
    said = cli(project, *args)
    if cut:
        assert COUNTED.search(said) and LONG not in said, said[:2000]
        assert len(said) < 20_000
    else:
        assert LONG in json.dumps(json.loads(said))
