"""The docs name only commands and flags that exist: every `syncer CMD ... --flag` in README.md and docs/
(inline code and code blocks) is checked against what `syncer CMD --help` prints, run as a process."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from syncer.cli import app

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
CODE_SPAN = re.compile(r"`([^`\n]+)`")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```$", re.S | re.M)
MENTION = re.compile(r"(?:^|[\s(;&|])syncer\s+([^|;&#>]*)")
FLAG = re.compile(r"^\[?(--[a-z][a-z0-9-]*)")


def mentions(text: str) -> list[tuple[list[str], str]]:
    """(command words, flag) for each `syncer ...` in inline code or a code block that names a --flag."""
    snippets = CODE_SPAN.findall(FENCE.sub("", text)) + [
        line for block in FENCE.findall(text) for line in block.splitlines()
    ]
    found: list[tuple[list[str], str]] = []
    root = typer.main.get_command(app)
    for snippet in snippets:
        for match in MENTION.finditer(snippet):
            words = match.group(1).split()
            command: object = root
            path: list[str] = []
            while words and words[0] in getattr(command, "commands", {}):
                command = command.commands[words[0]]  # type: ignore[attr-defined]
                path.append(words.pop(0))
            found += [(path, m.group(1)) for w in words if (m := FLAG.match(w))]
    return found


MENTIONS = sorted({(" ".join(path), flag) for page in PAGES for path, flag in mentions(page.read_text())})


def test_the_extractor_finds_flags() -> None:
    assert mentions(
        "run `syncer run SYNC [--full] [--wait [SECONDS]]` or\n```sh\nsyncer state check --x=1 | tee\n```\n"
    ) == [
        (["run"], "--full"),
        (["run"], "--wait"),
        (["state", "check"], "--x"),
    ]
    assert ("run", "--json") in MENTIONS  # the README's own table, so a changed format cannot silently match nothing


@functools.cache
def help_text(command: str) -> tuple[int, str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    args = [sys.executable, "-m", "syncer", *command.split(), "--help"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize(("command", "flag"), MENTIONS, ids=[f"{c or 'syncer'} {f}" for c, f in MENTIONS])
def test_documented_flag_is_in_the_commands_help(command: str, flag: str) -> None:
    code, text = help_text(command)
    assert code == 0, text
    assert re.search(rf"{re.escape(flag)}\b", text), f"`syncer {command} --help` has no {flag}:\n{text}"


def readme_commands(readme: str) -> list[str]:
    """The commands of the README's "Commands" table: each code span of a row's first cell, up to its arguments."""
    section = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    words = [re.match(r"(?:syncer )?([a-z][a-z ]*[a-z])", span) for cell in cells for span in CODE_SPAN.findall(cell)]
    return list(dict.fromkeys(m.group(1) for m in words if m))


README_COMMANDS = readme_commands((ROOT / "README.md").read_text())


def test_readme_lists_commands() -> None:
    assert {"check", "plan", "run", "state check", "alerts run", "emulator"} <= set(README_COMMANDS)


def test_every_command_is_in_the_readme_table() -> None:
    import typer.main

    from syncer.cli import app

    listed = {command.split()[0] for command in README_COMMANDS}
    commands = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert commands - listed == set(), "commands missing from the README's Commands table"


@pytest.mark.parametrize("command", README_COMMANDS)
def test_readme_command_has_help(command: str) -> None:
    code, text = help_text(command)
    assert code == 0, text
    assert "Usage" in text, text
