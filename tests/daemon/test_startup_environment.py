"""`syncer daemon` start-up problems are the environment to fix: exit 2, one line naming the key (prodfix 3),
and the container health probe asks the address the daemon listens on (prodfix 4).

Repro: a port in use, a host that cannot be bound, an unknown warehouse dialect and an unparsable state URL
each exited 70 ("a bug in syncer") with a traceback file; the Dockerfile's HEALTHCHECK probed $SYNCER_PORT
(9108) while the daemon listened on `[daemon] port`, so a container with another port was never healthy.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dockerfile_parse import DockerfileParser

from syncer.server import DaemonHTTPServer, probe_url

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def taken_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _config(tmp_path: Path, state_url: str = "", warehouse: str = "", daemon: str = "port = 0") -> Path:
    (tmp_path / "mappings").mkdir(exist_ok=True)
    duckdb.connect(str(tmp_path / "wh.duckdb")).close()  # the default warehouse: a file that exists
    config = tmp_path / "config.toml"
    state = f'state_url = "{state_url}"' if state_url else ""
    config.write_text(
        textwrap.dedent(f"""
        [syncer]
        data_dir = "data"
        {state}
        [warehouse]
        url = "{warehouse or f"duckdb:///{tmp_path / 'wh.duckdb'}"}"
        [daemon]
        """)
        + daemon
        + "\n"
    )
    return config


# (config.toml pieces, extra environment) -> the key the one error line names, and what it says
CASES = {
    "port in use": ({"daemon": "port = {taken}"}, {}, "daemon.port", "another process listens there"),
    "host not on this machine": ({"daemon": 'host = "192.0.2.1"\nport = 0'}, {}, "daemon.host", "an address of this"),
    "host unknown": ({"daemon": 'host = "no-such-host.invalid"\nport = 0'}, {}, "daemon.host", "cannot listen on"),
    "unknown warehouse dialect": ({"warehouse": "nosuchdb://h/db"}, {}, "warehouse.url", "nosuchdb"),
    "unparsable state URL": (
        {"state_url": "${STATE_URL}"},
        {"STATE_URL": "not a url"},
        "syncer.state_url",
        "SQLAlchemy",
    ),
    "unknown state dialect": (
        {"state_url": "nosuchdb://u:${PW}@h/db"},
        {"PW": "pw-51c0"},
        "syncer.state_url",
        "nosuchdb",
    ),
    "port file unwritable": ({}, {"SYNCER_PORT_FILE": "/nonexistent/dir/port"}, "SYNCER_PORT_FILE", "cannot write"),
}


@pytest.mark.parametrize(("pieces", "env", "key", "says"), CASES.values(), ids=list(CASES))
def test_a_start_up_problem_exits_2_naming_its_key(
    tmp_path: Path, taken_port: int, pieces: dict[str, str], env: dict[str, str], key: str, says: str
) -> None:
    pieces = {k: v.replace("{taken}", str(taken_port)) for k, v in pieces.items()}
    config = _config(tmp_path, **pieces)
    done = subprocess.run(
        [sys.executable, "-m", "syncer", "daemon", "-c", str(config)],
        env={**os.environ, "SYNCER_CRASH_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and f"{key}:" in lines[0] and says in lines[0], lines
    assert "pw-51c0" not in done.stderr and "internal error" not in done.stderr
    assert not list(tmp_path.glob("syncer-crash-*")), "a traceback file was written"


PROBES = {
    "defaults": ("", {}, "http://127.0.0.1:9108/healthz"),
    "daemon.port": ("port = 9311", {}, "http://127.0.0.1:9311/healthz"),
    "daemon.host": ('host = "127.0.0.2"\nport = 9312', {}, "http://127.0.0.2:9312/healthz"),
    "port from ${NAME}": ('port = "${PORT}"', {"PORT": "9313"}, "http://127.0.0.1:9313/healthz"),
    "IPv6 wildcard": ('host = "::"\nport = 9314', {}, "http://[::1]:9314/healthz"),
}


@pytest.mark.parametrize(("daemon", "env", "url"), PROBES.values(), ids=list(PROBES))
def test_the_probe_asks_the_address_in_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, daemon: str, env: dict[str, str], url: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SYNCER_CONFIG", str(_config(tmp_path, daemon=daemon)))
    assert probe_url() == url


def test_the_container_probe_finds_a_daemon_on_its_configured_port(tmp_path: Path) -> None:
    """The Dockerfile's HEALTHCHECK command, as the container runs it (SYNCER_CONFIG from the image, no
    SYNCER_PORT), against a daemon server listening where `[daemon] port` says."""
    parser = DockerfileParser(path=str(REPO / "Dockerfile"))
    health = next(i["value"] for i in reversed(parser.structure) if i["instruction"] == "HEALTHCHECK")
    command = health.split("CMD", 1)[1].strip()
    assert command == '["python", "-m", "syncer.server", "probe"]'
    assert "SYNCER_PORT" not in parser.envs  # the daemon never read it: one source of truth, the config
    server = DaemonHTTPServer("127.0.0.1", 0, lambda: {}, lambda: b"").start()
    try:
        config = _config(tmp_path, daemon=f'host = "127.0.0.1"\nport = {server.port}')
        env = {k: v for k, v in os.environ.items() if k != "SYNCER_PORT"}
        done = subprocess.run(
            [sys.executable, "-m", "syncer.server", "probe"],
            env={**env, "SYNCER_CONFIG": str(config)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    finally:
        server.stop()
