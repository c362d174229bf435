"""Daemon test helpers: a project with schedules and a [daemon] section, replicas as processes."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syncer.config import load_config
from syncer.daemon import Daemon, load_settings
from syncer.state import StateStore
from tests.engine.conftest import MAPPING, SECRET, Project, create_accounts, project, receiver  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
# the replicas import this checkout's syncer (src/), not whichever one the venv installed editable: a worktree's
# migration or engine change must be what they run
PYTHONPATH = os.pathsep.join((str(REPO), str(REPO / "src")))


def configure(
    proj: Project,
    schedule: str = "every_minutes = 5",
    daemon: str = "",
    state_url: str | None = None,
    batch_size: int = 100,
) -> None:
    """Rewrite the project with a schedule on the `accounts` sync and a [daemon] section."""
    proj.write(batch_size=batch_size)
    text = proj.config.read_text()
    if state_url:
        text = text.replace('data_dir = "data"', f'data_dir = "data"\nstate_url = "{state_url}"', 1)
    proj.config.write_text(text + "\n[daemon]\nport = 0\n" + textwrap.dedent(daemon))
    mapping = MAPPING.format(mode="upsert") + f"\n[schedule]\n{schedule}\n"
    (proj.root / "mappings" / "accounts.toml").write_text(mapping)


def make_daemon(proj: Project, **kwargs: Any) -> Daemon:
    os.environ["HOOK_SECRET"] = SECRET
    config = load_config(proj.config)
    settings = load_settings(config)
    return Daemon(config, settings, StateStore(config.state_url()), **kwargs)


def replica_env(proj: Project, **extra: str) -> dict[str, str]:
    return {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(proj.config), "PYTHONPATH": PYTHONPATH, **extra}


def start_replica(
    proj: Project,
    out: Path,
    replica_id: str,
    start: str,
    hours: float,
    go: Path | None = None,
    env: dict[str, str] | None = None,
    tick: float = 0.0,
) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        "-m",
        "tests.daemon.replica",
        str(proj.config),
        "--start",
        start,
        "--hours",
        str(hours),
        "--out",
        str(out),
        "--replica-id",
        replica_id,
        "--tick",
        str(tick),
    ]
    if go is not None:
        cmd += ["--go", str(go)]
    log = out.with_suffix(".log").open("w")  # a file, not a pipe: a chatty replica must never block
    return subprocess.Popen(cmd, cwd=REPO, env=env or replica_env(proj), text=True, stdout=subprocess.PIPE, stderr=log)


def release(go: Path, at: float) -> None:
    """Open a replica start barrier: write the shared start time atomically (write + rename)."""
    tmp = go.with_suffix(".tmp")
    tmp.write_text(repr(at))
    tmp.rename(go)


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, every: float = 0.02) -> Any:
    """Poll until predicate() is truthy (tests never sleep a fixed time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The CLI run in-process points the root logger at CliRunner's stream, closed afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture(autouse=True)
def hook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
