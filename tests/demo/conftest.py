"""One `syncer demo --serve` process per session (a small world), shared by the serve and browser tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Served:
    base: str
    folder: Path
    process: subprocess.Popen[str]
    stdout_file: Path

    def stdout(self) -> str:
        return self.stdout_file.read_text()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("served")
    port_file, out = tmp / "port", tmp / "stdout.txt"
    folder = tmp / "demo"
    env = {**os.environ, "SYNCER_PORT_FILE": str(port_file), "COLUMNS": "250"}
    command = [sys.executable, "-m", "syncer", "demo", "--serve", "--port", "0", "--dir", str(folder)]
    command += ["--accounts", "300", "--days", "130"]
    with out.open("w") as fh:
        process = subprocess.Popen(command, stdout=fh, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 300
    while not port_file.exists() or not port_file.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"demo --serve did not come up (exit {process.poll()}):\n{out.read_text()}")
        time.sleep(0.2)  # waiting on a real child process, not on the clock under test
    served = Served(f"http://127.0.0.1:{port_file.read_text()}", folder, process, out)
    try:
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
