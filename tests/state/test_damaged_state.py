"""A damaged or missing state is a named, recoverable condition (issue 13, repro 3).

Truncating state.sqlite to half its size used to make every run exit 1 with "internal error
DatabaseError: database disk image is malformed". Now: exit 2, the file named, what happened and
what is safe to do; `syncer state check` says what is wrong; `syncer state rebuild` moves it aside,
keeps what is readable, and the next run converges with nothing lost.
"""

from __future__ import annotations

import os
from pathlib import Path

from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import Project, create_accounts


def _state_file(project: Project) -> Path:
    return project.root / "data" / "state.sqlite"


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the main file, as a clean shutdown would, so truncating it damages real pages."""
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_a_truncated_state_is_named_checked_and_rebuilt(project: Project, receiver: WebhookReceiver) -> None:
    create_accounts(project.warehouse_url, 3000)
    code, _, err = project.cli("run", "accounts", "--json")
    assert code == 0, err
    path = _state_file(project)
    _checkpoint(path)
    os.truncate(path, path.stat().st_size // 2)

    for args in (("run", "accounts"), ("plan", "accounts"), ("runs",)):
        code, stdout, err = project.cli(*args)
        assert code == 2, (args, code, stdout, err)
        assert f"state {path.resolve()}" in err.replace("\n", ""), err  # names the file
        assert "damaged" in err and "syncer state rebuild" in err, err  # what happened, what to do
        assert "internal error" not in err and "Traceback" not in err

    code, report, err = project.cli("state", "check", "--json")
    assert code == 2 and report["damaged"] is True, (report, err)
    assert report["checks"][0]["name"] == "integrity" and not report["checks"][0]["ok"], report

    code, rebuilt, err = project.cli("state", "rebuild", "--json")
    assert code == 0, err
    assert Path(rebuilt["moved_to"]).exists() and path.exists()
    assert any("sent again" in note for note in rebuilt["next_run"]), rebuilt

    code, report, err = project.cli("state", "check", "--json")
    assert code == 0 and not report["damaged"], (report, err)
    before = receiver.write_calls
    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 0, err
    lost = run["added"]
    assert 0 < lost <= 3000 and run["succeeded"] == lost, run  # only what state lost is sent again
    assert run["added"] + run["unchanged"] == 3000, run
    assert len(receiver.records) == 3000 and receiver.write_calls > before
    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 0 and run["added"] == 0 and run["unchanged"] == 3000, run  # converged


def test_rebuild_of_a_healthy_state_keeps_every_row(project: Project, receiver: WebhookReceiver) -> None:
    assert project.cli("run", "accounts")[0] == 0
    code, rebuilt, err = project.cli("state", "rebuild", "--json")
    assert code == 0 and rebuilt["lost"] == {}, (rebuilt, err)
    assert rebuilt["copied"]["synced_records"] == 300 and rebuilt["copied"]["runs"] == 1, rebuilt
    calls = receiver.write_calls
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and run["unchanged"] == 300 and receiver.write_calls == calls  # nothing re-sent


def test_an_unwritable_state_folder_is_named(project: Project, receiver: WebhookReceiver) -> None:
    blocker = project.root / "blocked"
    blocker.write_text("a file where the data folder should be")
    project.config.write_text(project.config.read_text().replace('data_dir = "data"', 'data_dir = "blocked/data"'))
    code, _, err = project.cli("runs")
    assert code == 2 and "blocked/data/state.sqlite" in err and "data_dir" in err, err
