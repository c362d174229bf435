"""`syncer emulator NAME` as a user runs it: a process that prints its URL and env lines, answers
like the service, and exits 0 on Ctrl-C (SIGINT). The five start side by side to keep this fast."""

from __future__ import annotations

import mailbox
import os
import queue
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from slack_sdk import WebClient

Env = dict[str, str]


def _hubspot(env: Env, folder: Path) -> None:
    headers = {"Authorization": f"Bearer {env['HUBSPOT_TOKEN']}"}
    reply = httpx.get(f"{env['HUBSPOT_BASE_URL']}/crm/v3/properties/companies", headers=headers)
    assert reply.status_code == 200
    assert "product_account_id" in {p["name"] for p in reply.json()["results"]}
    assert httpx.get(f"{env['HUBSPOT_BASE_URL']}/crm/v3/properties/companies").status_code == 401


def _salesforce(env: Env, folder: Path) -> None:
    # https with the printed CA bundle; without a session the data API answers 401 INVALID_SESSION_ID
    url = f"{env['SALESFORCE_INSTANCE_URL']}/services/data/v60.0/sobjects/Account/describe"
    reply = httpx.get(url, verify=env["SALESFORCE_CA_BUNDLE"])
    assert reply.status_code == 401
    assert reply.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def _slack(env: Env, folder: Path) -> None:
    client = WebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_BASE_URL"])
    assert client.auth_test()["ok"] is True
    posted = client.chat_postMessage(channel=env["SLACK_FALLBACK_CHANNEL"], text="hello from the test")
    assert posted["ok"] is True


def _webhook(env: Env, folder: Path) -> None:
    reply = httpx.post(env["INAPP_WEBHOOK_URL"], json={"records": []})
    assert reply.status_code == 401  # unsigned: refused, as a careful receiver does


def _smtp(env: Env, folder: Path) -> None:
    with smtplib.SMTP(env["SMTP_HOST"], int(env["SMTP_PORT"]), timeout=10) as smtp:
        smtp.sendmail(env["SMTP_FROM"], ["ann@example.com"], b"Subject: trial\r\n\r\nhello\r\n")
    assert len(mailbox.Maildir(folder / "maildir", create=False)) == 1


CHECKS: dict[str, Callable[[Env, Path], None]] = {
    "hubspot": _hubspot,
    "salesforce": _salesforce,
    "slack": _slack,
    "webhook": _webhook,
    "smtp": _smtp,
}


def _read_until(proc: subprocess.Popen[str], last: str, timeout: float = 60.0) -> list[str]:
    """Lines of stdout up to one starting with `last` (a reader thread: a pipe's buffer defeats select)."""
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    stream = proc.stdout

    def pump() -> None:
        for line in iter(stream.readline, ""):
            lines.put(line.rstrip("\n"))
            if line.startswith(last):
                return
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if line.startswith(last):
            return seen
    raise AssertionError(f"no {last!r} line: {seen!r}, exit {proc.poll()}")


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[dict[str, subprocess.Popen[str]]]:
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "syncer", "emulator", name, "--port", "0", "--dir", str(tmp_path / name)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        for name in CHECKS
    }
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_each_emulator_starts_answers_and_stops_on_sigint(
    processes: dict[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    for name, proc in processes.items():
        lines = _read_until(proc, "Ctrl-C stops it.")
        assert lines[0].startswith(f"{name} emulator listening on "), lines
        env = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
        assert env, lines
        CHECKS[name](env, tmp_path / name)
        proc.send_signal(signal.SIGINT)
    for name, proc in processes.items():
        stdout, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, (name, stderr)
        assert f"{name} emulator stopped" in stdout
        assert "Traceback" not in stderr


def test_unknown_emulator_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "syncer", "emulator", "zendesk"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "hubspot" in result.stderr and "Traceback" not in result.stderr


def test_every_launcher_is_a_cli_choice() -> None:
    from syncer.cli.emulator import Service
    from syncer.emulator_launch import STARTERS

    assert [s.value for s in Service] == list(STARTERS)
