"""`syncer demo --serve`: the dashboard and "what landed" are served, every printed command works as
printed (from the project root, no venv activation), and Ctrl-C stops everything with exit 0."""

from __future__ import annotations

import re
import signal
import subprocess
import urllib.request
from pathlib import Path

from tests.demo.conftest import Served

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read()


def test_pages_are_served(served: Served) -> None:
    for path, marker in (("/report", b"<!doctype html"), ("/landed", b"<!doctype html"), ("/readyz", b'"ready"')):
        code, body = _get(served.base + path)
        assert code == 200 and marker in body.lower(), path


def test_every_printed_command_works_as_printed(served: Served) -> None:
    lines = [line.strip() for line in served.stdout().splitlines() if line.strip().startswith("env $(cat ")]
    assert len(lines) >= 6, served.stdout()
    for line in lines:
        assert re.search(r" (\S*/)?syncer |-m syncer ", line), line
        # the served daemon runs the same syncs on its schedule: a printed `run` must wait out its lease
        assert " run " not in line or "--wait" in line, line
        done = subprocess.run(line, shell=True, cwd=Path.cwd(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"


def test_metrics_carry_no_account_data(served: Served) -> None:
    code, body = _get(served.base + "/metrics")
    text = body.decode()
    assert code == 200 and "syncer_" in text
    assert "acc_0" not in text and "@example.com" not in text and "Account" not in text


def test_ctrl_c_stops_with_exit_0(served: Served) -> None:
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(timeout=60) == 0
    assert served.stdout().rstrip().endswith("stopped")
