"""Every shell example marked ```sh runnable in README.md and docs/ runs as written, against the
bundled emulators (started the way `syncer emulator` starts them). The blocks of one page run in
order as one shell session in an empty folder; a `# expect: TEXT` line says what its output holds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncer.emulator_launch import launch

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```sh runnable\n(.*?)^```$", re.S | re.M)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def runnable_blocks(text: str) -> list[str]:
    return [m.group(1) for m in FENCE.finditer(text)]


def expectations(script: str) -> list[str]:
    return [line.split("# expect:", 1)[1].strip() for line in script.splitlines() if "# expect:" in line]


RUNNABLE = {p: runnable_blocks(p.read_text()) for p in PAGES}
RUNNABLE = {p: blocks for p, blocks in RUNNABLE.items() if blocks}


def test_some_pages_have_runnable_examples() -> None:
    assert ROOT / "docs/getting-started.md" in RUNNABLE  # a renamed fence would silently test nothing
    assert runnable_blocks("```sh runnable\necho hi\n```\n```sh\nnot me\n```\n") == ["echo hi\n"]


@pytest.fixture(scope="module")
def emulator_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("emulators")
    started = [launch(name, 0, folder / name) for name in ("hubspot", "salesforce", "slack", "webhook")]
    try:
        yield {k: v for s in started for k, v in s.env.items()}
    finally:
        for s in started:
            s.stop()


@pytest.mark.parametrize("page", sorted(RUNNABLE), ids=lambda p: str(p.relative_to(ROOT)))
def test_runnable_examples_run_as_written(page: Path, tmp_path: Path, emulator_env: dict[str, str]) -> None:
    script = "set -euo pipefail\n" + "\n".join(RUNNABLE[page])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCER_")}
    env.update(emulator_env)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `syncer`, `python`
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{page.name} failed:\n{done.stdout}\n{done.stderr}"
    missing = [text for text in expectations(script) if text not in done.stdout]
    assert missing == [], f"{page.name}: not in the output: {missing}\n{done.stdout}"
