"""The served dashboard in a real Chromium (Debian's, driven by playwright-core from npm): every filter, a
drill-down, the numbers shown checked against the page's JSON, screenshots at 1280 and 390 px in
test-artifacts/, and axe-core with no serious or critical violation. The script is tests/browser/dashboard.mjs;
`make browser-deps` installs its two npm packages (the `test` target does it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.demo.conftest import Served

ROOT = Path(__file__).resolve().parents[2]
BROWSER = ROOT / "tests" / "browser"
ARTIFACTS = ROOT / "test-artifacts"


def test_dashboard_in_chromium(served: Served) -> None:
    missing = [p for p in ("/usr/bin/chromium",) if not Path(p).exists()]
    if shutil.which("node") is None or missing or not (BROWSER / "node_modules" / "playwright-core").is_dir():
        pytest.fail("needs node, /usr/bin/chromium and tests/browser/node_modules: run `make chromium browser-deps`")
    done = subprocess.run(
        ["node", str(BROWSER / "dashboard.mjs"), served.base, str(ARTIFACTS)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    summary = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["failures"] == []
    assert len(summary["filters"]) >= 4 and summary["drill_down"]["account"]
    for shot in summary["screenshots"]:
        assert Path(shot).stat().st_size > 10_000, shot
