"""Every command names config.toml the same way: the path as the user gave it (leftovers4 #1).

Repro: with `-c /abs/proj/config.toml` run from /abs/proj, the daemon's errors named `/abs/proj/config.toml`
while `check` said `config.toml:` -- load_config named the file relative to the working directory, the
warehouse errors by its base name, the daemon and the other sections as given. Each row plants one problem
that a different part of syncer reports, and runs the commands that report it as processes, the file given
three ways.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from tests.engine.conftest import SECRET, Project


@dataclass(frozen=True)
class Problem:
    """One problem in config.toml: `old` is replaced by `new`; `key` is what the message names."""

    old: str
    new: str
    key: str
    commands: tuple[tuple[str, ...], ...]


PROBLEMS = {
    "a [syncer] key (load_config)": Problem(
        "[syncer]\n", "[syncer]\nbogus = 1\n", "syncer.bogus", (("check",), ("daemon",))
    ),
    "a [daemon] key (daemon settings)": Problem(
        "[syncer]\n", "[daemon]\nport = 0\nbogus = 1\n[syncer]\n", "daemon.bogus", (("check",), ("daemon",))
    ),
    "the warehouse unreachable (source)": Problem(
        "sqlite:///", "sqlite:////nonexistent-dir-lo4/", "warehouse.url", (("check",), ("plan", "accounts"))
    ),
}
GIVEN = {  # how the file is given -> (working directory, the path given), from the project's root
    "absolute, run from its folder": lambda root: (root, str(root / "config.toml")),
    "relative, run from its folder": lambda root: (root, "config.toml"),
    "relative, run from the folder above": lambda root: (root.parent, f"{root.name}/config.toml"),
}
CASES = [(p, g, c) for p in PROBLEMS for g in GIVEN for c in PROBLEMS[p].commands]


@pytest.mark.parametrize(("problem", "given", "command"), CASES, ids=[f"{p} / {g} / {c[0]}" for p, g, c in CASES])
def test_the_config_file_is_named_as_given(
    project: Project, problem: str, given: str, command: tuple[str, ...]
) -> None:
    bad = PROBLEMS[problem]
    text = project.config.read_text()
    assert bad.old in text, bad.old
    project.config.write_text(text.replace(bad.old, bad.new, 1))
    cwd, path = GIVEN[given](project.root)
    env = {k: v for k, v in os.environ.items() if k != "SYNCER_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-m", "syncer", *command, "-c", path],
        cwd=cwd,
        env={**env, "HOOK_SECRET": SECRET},
        capture_output=True,
        text=True,
        timeout=120,
    )
    flat = " ".join(done.stderr.split())  # the terminal wraps long lines
    assert done.returncode == 2, done.stderr
    assert f" {path}: {bad.key}" in flat, done.stderr
    assert "Traceback" not in done.stderr
