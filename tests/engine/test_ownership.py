"""One state store per project (adv9w #3): two configs sharing one state store, each with a sync of the same
name, deleted (mirror) and re-sent each other's records for ever. Each sync now has an owning project (its
`[syncer] project`, else the warehouse it reads); a plan or run of a sync another project owns is refused
with exit 2 naming the store, the sync and the fix, and `syncer state takeover SYNC` is the explicit way over."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import Project, create_accounts

REFUSED = "sync 'accounts' belongs to another project"


def _project(root: Path, receiver: WebhookReceiver, state: Path, rows: int) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{root / 'warehouse.sqlite'}"
    create_accounts(url, rows)
    project = Project(root, url, hook_url=f"{receiver.base_url}/hooks")
    project.write(mode="mirror")
    text = project.config.read_text().replace("[syncer]\n", f'[syncer]\nstate_url = "sqlite:///{state}"\n')
    project.config.write_text(text)
    return project


def _named(project: Project) -> Callable[[str], None]:
    def name(line: str) -> None:
        project.config.write_text(project.config.read_text().replace("[syncer]\n", f"[syncer]\n{line}\n"))

    return name


def _said(out: object, err: str) -> str:
    return re.sub(r"\s+", " ", f"{out} {err}")


def test_a_second_project_on_one_state_store_is_refused(tmp_path: Path, receiver: WebhookReceiver) -> None:
    shared = tmp_path / "shared-state.sqlite"
    a = _project(tmp_path / "a", receiver, shared, 300)
    b = _project(tmp_path / "b", receiver, shared, 200)  # another warehouse, the same sync name
    moved = tmp_path / "moved-a"
    # (what, project, command, exit code, words, records at the destination afterwards)
    steps: list[tuple[str, Project, tuple[str, ...], int, list[str], int]] = [
        ("A runs first: it owns the sync", a, ("run", "accounts"), 0, [], 300),
        (
            "B's plan is refused",
            b,
            ("plan", "accounts"),
            2,
            [
                f"state {shared}",
                REFUSED,
                f"warehouse sqlite:///{tmp_path / 'a' / 'warehouse.sqlite'}",
                "`syncer state takeover accounts`",
                "One state store per project",
            ],
            300,
        ),
        ("B's run is refused: nothing of A's deleted", b, ("run", "accounts"), 2, [REFUSED], 300),
        ("B's check says so", b, ("check",), 2, [REFUSED], 300),
        ("A again: no ping-pong", a, ("run", "accounts", "--json"), 0, ["'removed': 0", "'added': 0"], 300),
    ]
    for what, project, command, code, words, records in steps:
        got, out, err = project.cli(*command)
        said = _said(out, err)
        assert got == code, (what, got, said)
        assert all(w in said for w in words), (what, said)
        assert len(receiver.records) == records, what
    got, runs, err = a.cli("runs", "--json")
    assert [r["status"] for r in runs] == ["ok", "ok"], runs  # B's refused run left nothing in A's history
    shutil.copytree(tmp_path / "a", moved)  # A's folder moved (the warehouse named by its absolute path)
    moved_a = Project(moved, a.warehouse_url, hook_url=a.hook_url)
    got, out, err = moved_a.cli("run", "accounts", "--json")
    assert got == 0 and out["removed"] == out["added"] == 0, (out, err)
    _named(a)('project = "acme"')  # a new project identity: refused until taken over
    got, out, err = a.cli("run", "accounts")
    assert got == 2 and REFUSED in _said(out, err)
    got, out, err = a.cli("state", "takeover", "accounts")
    assert got == 0 and "accounts now belongs to this project ([syncer] project = 'acme')" in _said(out, err), err
    got, out, err = a.cli("run", "accounts", "--json")
    assert got == 0 and out["removed"] == 0 and len(receiver.records) == 300, (out, err)


def test_as_processes_b_is_refused_and_its_own_store_works(tmp_path: Path, receiver: WebhookReceiver) -> None:
    shared = tmp_path / "shared-state.sqlite"
    a = _project(tmp_path / "a", receiver, shared, 300)
    b = _project(tmp_path / "b", receiver, shared, 200)

    def syncer(project: Project, *args: str) -> tuple[int, str]:
        proc = project.subprocess(*args)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, _said(out, err)

    assert syncer(a, "run", "accounts")[0] == 0
    code, said = syncer(b, "run", "accounts")
    assert code == 2 and REFUSED in said and len(receiver.records) == 300, said
    b.config.write_text(b.config.read_text().replace(str(shared), str(tmp_path / "b-state.sqlite")))
    code, said = syncer(b, "run", "accounts")
    assert code == 0, said
