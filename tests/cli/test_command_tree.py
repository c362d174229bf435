"""Every command in typer's own registry answers `--help` as a process: usage, exit 0, no `<bool>`.

The tree is walked from `typer.main.get_command(app)`, so a command added anywhere is covered here
without editing this test (issue 13: `syncer alerts run --help` printed nothing and exited 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

from syncer.cli import app


def command_paths() -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, command) for every node of the command tree, groups included, the root first.

    typer vendors its own click (typer._click), so groups are recognised by their `list_commands`.
    """
    root = typer.main.get_command(app)

    def walk(path: tuple[str, ...], command: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
        yield path, command
        if hasattr(command, "list_commands"):
            ctx = command.context_class(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                yield from walk((*path, name), sub)

    yield from walk((), root)


def _syncer(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "100", "SYNCER_CONFIG": "/nonexistent/config.toml"}
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "syncer"), *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_the_tree_holds_every_command_group() -> None:
    paths = {" ".join(p) for p, _ in command_paths()}
    # a floor, not the list: commands added later are walked too
    assert {"check", "plan", "run", "runs", "audit", "alerts", "alerts run", "alerts list"} <= paths
    print(f"command tree: {len(paths)} commands (groups and root included)")


def test_every_command_prints_its_usage_with_help() -> None:
    paths = [p for p, _ in command_paths()]
    results: dict[tuple[str, ...], tuple[int, str, str]] = {}
    for i in range(0, len(paths), 4):  # a few at a time: the machine is shared
        procs = {p: _syncer(*p, "--help") for p in paths[i : i + 4]}
        for p, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=120)
            results[p] = (proc.returncode, stdout, stderr)
    for path, (code, stdout, stderr) in results.items():
        name = " ".join(("syncer", *path))
        assert code == 0, (name, stderr)
        assert stdout.startswith(f"Usage: {name} "), (name, stdout[:200])
        assert "<bool>" not in stdout, (name, stdout)  # a flag is shown as a flag
        assert "Options:" in stdout and "--help" in stdout, name
    print(f"--help ran for {len(results)} commands")


def test_version() -> None:
    proc = _syncer("--version")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert stdout.startswith("syncer ") and stdout.split()[1][0].isdigit(), stdout
