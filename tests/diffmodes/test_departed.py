"""Records that left the model outside mirror mode (adv9w #1): a webhook sync in `mode = "upsert"` whose
row leaves the model keeps its record at the destination, so state keeps it too, as departed (not sent,
not live); a later switch to mirror deletes it under the delete guard, a row that comes back is matched to
its record, and `plan` / `run` / `status` say how many remain (a run outside mirror mode counts such a row as
`left_model`, never `removed`: nothing is deleted; a mirror plan says `departed 0`, as its run leaves it).
Before, the run said `removed 1, succeeded 0`,
state forgot the record and the mirror switch deleted nothing: it stayed at the destination for good.

Every case in every diff mode (DuckDB warehouse, webhook receiver) on SQLite state, and on PostgreSQL state.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.diffmodes.test_modes_cli import ROWS, duckdb_project, sql
from tests.engine.conftest import Project

ROW_3 = "(3, 'Account 3', 'acct3.example.com', CAST(21 AS DOUBLE), 'monitor')"  # as duckdb_project made it
Step = tuple[str, Callable[[Project], None] | tuple[str, ...], int, dict[str, Any], Callable[[WebhookReceiver], bool]]


def _mode(mode: str) -> Callable[[Project], None]:
    def switch(project: Project) -> None:
        mapping = project.root / "mappings" / "accounts.toml"
        mapping.write_text(mapping.read_text().replace('mode = "upsert"', f'mode = "{mode}"'))

    return switch


def _sql(statement: str) -> Callable[[Project], None]:
    return lambda project: (sql(project, statement), None)[1]


def _has(*keys: str) -> Callable[[WebhookReceiver], bool]:
    return lambda rx: all(k in rx.records for k in keys)


def _lacks(*keys: str) -> Callable[[WebhookReceiver], bool]:
    return lambda rx: not any(k in rx.records for k in keys)


def _name(key: str, name: str) -> Callable[[WebhookReceiver], bool]:
    return lambda rx: rx.records[key]["name"] == name


ANY = lambda rx: True  # noqa: E731
# (case, steps): each step is (what, a change or a command, exit code, counts its --json must show, destination check)
CASES: dict[str, list[Step]] = {
    "upsert, a row leaves, switch to mirror: the record is deleted then": [
        ("remove row 3", _sql("DELETE FROM accounts WHERE account_id = 3"), 0, {}, ANY),
        (
            "upsert run keeps it",
            ("run", "accounts"),
            0,
            {"removed": 0, "left_model": 1, "departed": 1, "succeeded": 0},
            _has("3"),
        ),
        ("plan says it remains", ("plan", "accounts"), 0, {"removed": 0, "departed": 1}, _has("3")),
        (
            "upsert run again: not live",
            ("run", "accounts"),
            0,
            {"removed": 0, "departed": 1, "unchanged": ROWS - 1},
            _has("3"),
        ),
        ("switch to mirror", _mode("mirror"), 0, {}, ANY),
        ("mirror plan", ("plan", "accounts"), 0, {"removed": 1, "departed": 0, "held_deletes": 0}, _has("3")),
        ("mirror run deletes it", ("run", "accounts"), 0, {"removed": 1, "succeeded": 1, "departed": 0}, _lacks("3")),
        ("and later runs agree", ("run", "accounts"), 0, {"removed": 0, "added": 0, "departed": 0}, _lacks("3")),
    ],
    "a departed row comes back unchanged: matched to its record, nothing sent": [
        ("remove row 3", _sql("DELETE FROM accounts WHERE account_id = 3"), 0, {}, ANY),
        ("upsert run keeps it", ("run", "accounts"), 0, {"removed": 0, "left_model": 1, "departed": 1}, _has("3")),
        ("row 3 is back", _sql(f"INSERT INTO accounts VALUES {ROW_3}"), 0, {}, ANY),
        ("plan: not added", ("plan", "accounts"), 0, {"added": 0, "changed": 0, "departed": 0}, ANY),
        ("run: matched", ("run", "accounts"), 0, {"added": 0, "changed": 0, "succeeded": 0, "departed": 0}, _has("3")),
        ("switch to mirror", _mode("mirror"), 0, {}, ANY),
        ("mirror deletes nothing", ("run", "accounts"), 0, {"removed": 0, "added": 0}, _has("3")),
    ],
    "a departed row comes back changed: sent to its record as a change": [
        ("remove row 3", _sql("DELETE FROM accounts WHERE account_id = 3"), 0, {}, ANY),
        ("upsert run keeps it", ("run", "accounts"), 0, {"removed": 0, "left_model": 1, "departed": 1}, _has("3")),
        (
            "row 3 is back, renamed",
            _sql(f"INSERT INTO accounts VALUES {ROW_3.replace('Account 3', 'Back 3')}"),
            0,
            {},
            ANY,
        ),
        (
            "run: changed, not added",
            ("run", "accounts"),
            0,
            {"added": 0, "changed": 1, "succeeded": 1, "departed": 0},
            _name("3", "Back 3"),
        ),
    ],
    "many left in upsert mode: the mirror switch is held by the delete guard": [
        ("remove 90 rows (30%)", _sql("DELETE FROM accounts WHERE account_id <= 90"), 0, {}, ANY),
        ("upsert run keeps them", ("run", "accounts"), 0, {"left_model": 90, "departed": 90}, _has("1", "90")),
        ("switch to mirror", _mode("mirror"), 0, {}, ANY),
        ("mirror plan: held", ("plan", "accounts"), 0, {"held_deletes": 90, "departed": 0}, ANY),
        ("mirror run: held", ("run", "accounts"), 1, {"held_deletes": 90, "succeeded": 0}, _has("1", "90")),
        (
            "--allow-deletes",
            ("run", "accounts", "--allow-deletes"),
            0,
            {"removed": 90, "succeeded": 90},
            _lacks("1", "90"),
        ),
    ],
    "insert mode: a departed row that comes back is not inserted twice": [
        ("switch to insert", _mode("insert"), 0, {}, ANY),
        ("remove row 3", _sql("DELETE FROM accounts WHERE account_id = 3"), 0, {}, ANY),
        ("insert run keeps it", ("run", "accounts"), 0, {"removed": 0, "left_model": 1, "departed": 1}, _has("3")),
        (
            "row 3 is back, renamed",
            _sql(f"INSERT INTO accounts VALUES {ROW_3.replace('Account 3', 'Back 3')}"),
            0,
            {},
            ANY,
        ),
        (
            "run: matched, not sent",
            ("run", "accounts"),
            0,
            {"added": 0, "succeeded": 0, "departed": 0},
            _name("3", "Account 3"),
        ),
    ],
}


# every diff mode on SQLite state; PostgreSQL state with the default diff mode (the state code is shared)
STORES = [("sqlite", "rows"), ("sqlite", "columnar"), ("sqlite", "warehouse"), ("postgresql", "columnar")]


def _state_url(request: pytest.FixtureRequest, tmp_path: Path, store: str) -> str:
    if store == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


def upsert_project(tmp_path: Path, receiver: WebhookReceiver, diff: str, state_url: str) -> Project:
    project = duckdb_project(tmp_path, receiver, diff)
    text = project.config.read_text().replace("[syncer]\n", f'[syncer]\nstate_url = "{state_url}"\n')
    project.config.write_text(text)
    code, first, err = project.cli("run", "accounts", "--json")
    assert code == 0 and first["added"] == ROWS and len(receiver.records) == ROWS, err
    return project


@pytest.mark.parametrize(("store", "diff"), STORES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_records_that_left_the_model_are_kept_until_deleted(
    request: pytest.FixtureRequest, tmp_path: Path, receiver: WebhookReceiver, store: str, diff: str, case: str
) -> None:
    project = upsert_project(tmp_path, receiver, diff, _state_url(request, tmp_path, store))
    for what, step, code, counts, destination in CASES[case]:
        if callable(step):
            step(project)
            continue
        got, out, err = project.cli(*step, "--json")
        assert got == code, (what, got, out, err)
        assert {k: out[k] for k in counts} == counts, (what, out)
        assert destination(receiver), (what, sorted(receiver.records)[:5], len(receiver.records))
