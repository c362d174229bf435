"""A destination that refuses connections: one line per sync naming the connector and the URL, exit 2, fast.

Repro (after `make demo`, whose emulators stop with it): `plan hubspot_companies` exited 1 with
`error read companies properties: ConnectError: [Errno 111] Connection refused`, `plan
salesforce_accounts` exited 1 with 342 characters of urllib3 text and the host masked as ***, the
webhook sync exited 2, and `check` took 28.8 s of retries. Every connector walks the same table here.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tenacity

from syncer.config import load_config
from syncer.connector import Record
from syncer.errors import DestinationUnreachable
from syncer.retry import RetryPolicy
from syncer.runner import Runtime, SyncJob
from syncer.secrets import MASK, mask
from syncer.state import StateStore
from tests.conftest import free_port
from tests.engine.conftest import MAPPING, Project, create_accounts

# connector section (the URL from ${DEST_URL}, as the demo writes it), scheme of the URL shown
CONNECTORS = {
    "hubspot": (
        'type = "hubspot"\nbase_url = "${DEST_URL}"\naccess_token = "${TOKEN}"\nplan_tier = "increase"',
        "http",
    ),
    "salesforce": (
        'type = "salesforce"\ninstance_url = "${DEST_URL}"\nlogin_url = "${DEST_URL}"\nauth = "password"\n'
        'username = "${SF_USER}"\npassword = "${TOKEN}"\nsecurity_token = "${SF_TOKEN}"',
        "https",
    ),
    "slack": ('type = "slack"\nbase_url = "${DEST_URL}/api/"\nbot_token = "${TOKEN}"', "http"),
    "webhook": ('type = "webhook"\nurl = "${DEST_URL}/hooks?token=q1"\nsigning_secret = "${TOKEN}"', "http"),
    # SMTP has a host and a port, not a URL: the line names it as smtp://host:port all the same
    "email": (
        'type = "email"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "starttls"\nusername = "${SF_USER}"\n'
        'password = "${TOKEN}"\nfrom_address = "Syncer <alerts@example.com>"',
        "smtp",
    ),
}
OBJECT = {"hubspot": "companies", "salesforce": "Account", "slack": "message", "webhook": "accounts", "email": "email"}
FIELDS = {  # an email sync maps to / subject / text, a Slack one channel / text; the others the engine's fields
    "email": '[fields]\nto = "domain"\nsubject = "name"\ntext = "name"\n',
    "slack": '[fields]\nchannel = "name"\ntext = "name"\n',
}
ENV = {"TOKEN": "dest-secret-8842", "SF_USER": "u@example.com", "SF_TOKEN": "sf-tok-5521"}


def _section(kind: str, name: str, var: str) -> tuple[str, str]:
    """`[connectors.NAME]` of `kind` on a closed loopback port (its URL from ${VAR}), and the origin shown."""
    section, scheme = CONNECTORS[kind]
    port = free_port()
    section = section.replace("{port}", str(port)).replace("${DEST_URL}", "${" + var + "}")
    return f"[connectors.{name}]\n{section}\n", f"{scheme}://127.0.0.1:{port}"


def _mapping(kind: str, connector: str) -> str:
    mode = "insert" if kind in ("slack", "email") else "upsert"  # messages are only ever inserted
    mapping = MAPPING.format(mode=mode).replace('connector = "hook"', f'connector = "{connector}"')
    mapping = mapping.replace('object = "accounts"', f'object = "{OBJECT[kind]}"')
    if kind in FIELDS:
        mapping = mapping[: mapping.index("[fields]")] + FIELDS[kind]
    return mapping


def _world(tmp_path: Path, kinds: dict[str, str], demo: bool = False) -> tuple[Project, dict[str, str]]:
    """A project with one connector and one sync per entry of `kinds` (name -> connector kind), each connector
    on its own closed port; returns the project and each connector's origin as the problem line names it."""
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    create_accounts(url, 3)
    (tmp_path / "mappings").mkdir()
    sections, origins, env = [], {}, dict(ENV)
    for name, kind in kinds.items():
        var = f"DEST_URL_{name.upper()}"
        section, origins[name] = _section(kind, name, var)
        env[var] = origins[name]
        sections.append(section)
        (tmp_path / "mappings" / f"{name}.toml").write_text(_mapping(kind, name))
    project = Project(tmp_path, url, env=env)
    head = f'[syncer]\ndata_dir = "data"\n[warehouse]\nurl = "{url}"\n'
    project.config.write_text(head + "".join(sections))
    if demo:
        (tmp_path / "demo.env").write_text("DEST_URL=x\n")
    mask.clear()
    return project, origins


def _project(tmp_path: Path, kind: str, demo: bool) -> tuple[Project, str]:
    """One connector `dest` of `kind` on a closed port and one sync `accounts` on it."""
    project, origins = _world(tmp_path, {"dest": kind}, demo)
    (tmp_path / "mappings" / "dest.toml").rename(tmp_path / "mappings" / "accounts.toml")
    return project, origins["dest"]


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait a retry policy of this process computes, none waited out: the tests assert none is asked for."""
    asked: list[float] = []
    real = RetryPolicy.wait_seconds

    def recorded(self: RetryPolicy, state: tenacity.RetryCallState) -> float:
        asked.append(real(self, state))
        return 0.0

    monkeypatch.setattr(RetryPolicy, "wait_seconds", recorded)
    return asked


@pytest.mark.parametrize("demo", [False, True], ids=["project", "demo-folder"])
@pytest.mark.parametrize("command", [["plan", "accounts"], ["plan", "accounts", "--json"], ["check"]])
@pytest.mark.parametrize("kind", sorted(CONNECTORS))
def test_a_refused_connection_is_one_line_naming_sync_connector_and_url(
    tmp_path: Path, kind: str, command: list[str], demo: bool, waits: list[float]
) -> None:
    project, origin = _project(tmp_path, kind, demo)
    code, _out, stderr = project.cli(*command)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, (code, stderr)  # README: environment to fix
    assert len(lines) == 1, stderr
    line = lines[0]
    # plan names the sync it plans; check reports per connector, naming the syncs that use it
    who = "connector 'dest' (sync accounts)" if command == ["check"] else "sync accounts (connector 'dest')"
    assert who in line and f"not reachable at {origin} " in line, line
    assert "connection refused" in line and MASK not in line and "token=" not in line, line
    assert ("syncer demo --serve" in line) is demo, line
    assert "dest-secret-8842" not in stderr
    assert waits == [], waits  # reported at once: no backoff before the answer


# `python -m syncer ARGS` with time.sleep recorded instead of waited out: the waits the process asked for
# land in $SLEPT_FILE as JSON when it exits (the retry policy's sleep is bound when syncer is imported, after this)
NO_SLEEP = """
import atexit, json, os, runpy, sys, time
asked = []
time.sleep = asked.append
atexit.register(lambda: open(os.environ["SLEPT_FILE"], "w").write(json.dumps(asked)))
sys.argv[0] = "syncer"
runpy.run_module("syncer", run_name="__main__", alter_sys=True)
"""


def test_check_as_a_process_reports_every_unreachable_connector_at_once(tmp_path: Path) -> None:
    """`syncer check` (its own process) over one sync per connector kind, every one on a closed port: one line
    per connector, in one wording, exit 2, and no wait asked for (Slack retried auth.test for ~8 s of backoff,
    then called it "auth.test failed: URLError ..." and its connector "answered")."""
    project, origins = _world(tmp_path, {kind: kind for kind in CONNECTORS})
    slept = tmp_path / "slept.json"
    env = {**os.environ, "HOOK_SECRET": "whsec-unreachable-1", "SYNCER_CONFIG": str(project.config), **project.env}
    done = subprocess.run(
        [sys.executable, "-c", NO_SLEEP, "check"],
        env={**env, "SLEPT_FILE": str(slept)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    shown = f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, shown
    assert len(lines) == len(CONNECTORS), shown  # one line per connector, nothing else (no library's log line)
    for kind, origin in origins.items():
        line = f"problem connector {kind!r} (sync {kind}): destination not reachable at {origin} (connection refused)"
        assert line in lines, f"{kind}: {shown}"
    assert "answered" not in done.stdout, shown
    assert json.loads(slept.read_text()) == [], shown


def test_a_refused_connection_is_not_retried_by_check(tmp_path: Path) -> None:
    """One connection attempt per check (was 4 rounds of backoff: 28.8 s in the demo)."""
    project, _origin = _project(tmp_path, "webhook", demo=False)
    attempts = 0
    real = socket.socket.connect

    def counting(self: socket.socket, address: object) -> None:
        nonlocal attempts
        if isinstance(address, tuple) and address[1] == int(_origin.rsplit(":", 1)[1]):
            attempts += 1
        real(self, address)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", counting)
        code, _out, _err = project.cli("check")
    assert code == 2
    assert attempts == 1, attempts


@pytest.mark.parametrize("demo", [True, False], ids=["demo folder", "elsewhere"])
def test_every_command_gives_the_demo_hint_in_the_demo_folder(
    tmp_path: Path, demo: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """Commands that meet a stopped destination without naming a sync (`report` reading Salesforce
    outcomes after a plain `make demo`, digests, alert commands) end the same way as `plan`: the
    one line, exit 2, and in the demo's folder how to bring the emulators back."""

    from syncer.cli import base
    from syncer.errors import DestinationUnreachable

    if demo:
        (tmp_path / "demo.env").write_text("DEST_URL=x\n")
    base._OPENED[:] = [tmp_path]
    try:
        with pytest.raises(base.Exit) as ended, base._errors():
            raise DestinationUnreachable("Salesforce login (password)", "https://127.0.0.1:9")
    finally:
        base._OPENED.clear()
    line = capsys.readouterr().err.strip()
    assert ended.value.code == 2
    assert line.startswith("error Salesforce login (password): destination not reachable at https://127.0.0.1:9"), line
    assert ("run `syncer demo --serve`" in line) is demo, line


# how the socket fails under every client library (httpx, requests, urllib, smtplib), by the reason shown
SOCKET_FAILURES: dict[str, tuple[str, BaseException | None]] = {
    "connection refused": ("connect", None),  # the closed port itself
    "unknown host": ("getaddrinfo", socket.gaierror(socket.EAI_NONAME, "Name or service not known")),
    "no route to host": ("connect", OSError(errno.EHOSTUNREACH, "No route to host")),
}
RECORD_FIELDS = {
    "email": {"to": "ops@example.com", "subject": "s", "text": "t"},
    "slack": {"channel": "C0ALERTS", "text": "t"},
}


@pytest.mark.parametrize("reason", list(SOCKET_FAILURES))
@pytest.mark.parametrize("kind", sorted(CONNECTORS))
def test_every_connector_classifies_an_unreachable_destination_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waits: list[float], kind: str, reason: str
) -> None:
    """Each connector, each way nothing answers: `check` reports it at once (no wait), while a run's write
    still retries it with the policy's backoff (RetryPolicy: a refused connection is a RetryableError)."""
    project, origins = _world(tmp_path, {"dest": kind})
    for name, value in {**project.env, "HOOK_SECRET": "whsec-unreachable-1"}.items():
        monkeypatch.setenv(name, value)
    port = int(origins["dest"].rsplit(":", 1)[1])
    where, error = SOCKET_FAILURES[reason]
    if where == "connect" and error is not None:
        real_connect = socket.socket.connect

        def connect(self: socket.socket, address: Any) -> None:
            if isinstance(address, tuple) and address[1] == port:
                raise error
            real_connect(self, address)

        monkeypatch.setattr(socket.socket, "connect", connect)
    elif error is not None:
        real_lookup = socket.getaddrinfo

        def getaddrinfo(host: Any, at: Any, *args: Any, **kwargs: Any) -> Any:
            if str(at) == str(port):
                raise error
            return real_lookup(host, at, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    config = load_config(project.config)
    slept: list[float] = []  # the sleeps the policy asks for (each 0: `waits` computed the backoff)
    job = SyncJob(config, "dest", StateStore(config.state_url()), Runtime(retry=RetryPolicy(sleep=slept.append)))
    connector = job.connector()
    try:
        with pytest.raises(DestinationUnreachable) as reported:
            job.destination_problems(connector)
        assert f"destination not reachable at {origins['dest']} ({reason})" in str(reported.value)
        assert waits == [], waits  # check, plan: at once

        fields = RECORD_FIELDS.get(kind, {"name": "Acme", "pql_score": 1, "tier": "A"})
        record = Record("a1", "upsert", fields, "f1", "k1", match_value="a1.example.com")
        [result] = connector.send([record])
    finally:
        connector.close()
        job.close()
    assert result.status == "failed" and f"not reachable at {origins['dest']}" in str(result.reason), result
    assert slept == [0.0] * (RetryPolicy.max_attempts - 1), slept  # a run: every attempt, as before
    assert waits and all(w >= RetryPolicy.initial_wait for w in waits), waits  # each after its backoff
