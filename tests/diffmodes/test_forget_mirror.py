"""`syncer forget KEY` on a mirror sync, end to end as processes, in every diff mode (DuckDB warehouse,
webhook receiver): forget, remove the row from the model, run again.

What happens: nothing is deleted (the mirror deletes through state's record, which `forget` erased) and
nothing re-creates the record, so it stays at the destination. It is never silent: `forget` names the
record as the destination knows it and says how to remove it, and the way it gives (run while the row is
in the model, then remove the row and run) does delete it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.diffmodes.test_modes_cli import ROWS, duckdb_project, sql
from tests.engine.conftest import Project

MODES = ["rows", "columnar", "warehouse"]
NAMED = "its record stays at the destination: hook accounts with domain = 'acct3.example.com'"


def mirror(tmp_path: Path, receiver: WebhookReceiver, diff: str) -> Project:
    project = duckdb_project(tmp_path, receiver, diff)
    text = project.config.read_text()
    project.write(mode="mirror")
    project.config.write_text(text)  # write() rewrites the config too: keep the diff mode
    code, first, err = project.cli("run", "accounts", "--json")
    assert code == 0 and first["added"] == ROWS and "3" in receiver.records, err
    return project


# (case, forget's options, run before removing the row, words `forget` must say, record left at the end?)
CASES = [
    ("forget, remove the row, run: stays, and forget said so", (), False, "run `syncer run accounts`", True),
    ("forget --suppress, remove the row, run: stays, said so", ("--suppress",), False, "the key is suppressed", True),
    ("the way forget gives: run, remove the row, run: deleted", (), True, "run `syncer run accounts`", False),
]


@pytest.mark.parametrize("diff", MODES)
@pytest.mark.parametrize(("case", "options", "relearn", "words", "left"), CASES, ids=[c[0][:40] for c in CASES])
def test_forget_on_a_mirror_names_what_stays_and_how_to_remove_it(
    tmp_path: Path,
    receiver: WebhookReceiver,
    diff: str,
    case: str,
    options: tuple[str, ...],
    relearn: bool,
    words: str,
    left: bool,
) -> None:
    project = mirror(tmp_path, receiver, diff)
    code, out, err = project.cli("forget", "3", *options)
    said = " ".join(out.split())  # rich wraps long lines
    assert code == 0 and NAMED in said and words in said, said + err
    if relearn:
        code, again, err = project.cli("run", "accounts", "--json")
        assert code == 0 and again["added"] == 1, (again, err)  # sent once more: the sync knows it again
    sql(project, "DELETE FROM accounts WHERE account_id = 3")
    code, run, err = project.cli("run", "accounts", "--json")
    print(f"\n{diff}, {case}: removed {run['removed']}, record at the destination: {'3' in receiver.records}")
    assert code == 0 and run["removed"] == (0 if left else 1) and run["added"] == 0, (run, err)
    assert ("3" in receiver.records) is left and len(receiver.records) == ROWS - (0 if left else 1)
    code, run, err = project.cli("run", "accounts", "--json")  # and later runs agree: nothing re-created
    assert code == 0 and run["removed"] == run["added"] == 0 and ("3" in receiver.records) is left, (run, err)


def test_the_same_as_processes(tmp_path: Path, receiver: WebhookReceiver) -> None:
    """The brief's run, each command its own `python -m syncer` process (warehouse mode, which keeps the most
    state of its own: the snapshot must not hold the forgotten record either)."""

    def run(*args: str) -> tuple[int, str]:
        proc = project.subprocess(*args)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, out + err

    project = mirror(tmp_path, receiver, "warehouse")
    code, said = run("forget", "3")
    assert code == 0 and NAMED in " ".join(said.split()), said
    sql(project, "DELETE FROM accounts WHERE account_id = 3")
    code, out = run("run", "accounts", "--json")
    assert code == 0 and '"removed": 0' in out and "3" in receiver.records, out
    assert sql(project, "SELECT COUNT(*) FROM syncer.snapshot") == [(ROWS - 1,)]  # rebuilt from state: no trace
