"""One runner per sync: `syncer run` takes the daemon's lease. Real processes, real state, real receiver.

A second run of a sync that is running exits 3 at once, naming the holder (host, pid, since when);
`--wait` waits for it instead; a lease whose holder died is taken over once it expires.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.emulator import Request, Response
from syncer.errors import ExitCode
from tests.engine.conftest import SECRET, Project


def _state(project: Project) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{project.root / 'data' / 'state.sqlite'}")


def _until(condition: object, timeout: float = 60.0) -> None:
    """Poll a real process's progress (the only waiting here is for other processes to get there)."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_run_exits_3_naming_the_holder_and_wait_runs_after_it(
    project: Project, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    gate, arrived = threading.Event(), threading.Event()
    handle = receiver.handle

    def held_first_batch(request: Request) -> Response:  # A's first batch waits until the test lets it go
        if not arrived.is_set():
            arrived.set()
            assert gate.wait(120)
        return handle(request)

    receiver.handle = held_first_batch  # type: ignore[method-assign]
    a = project.subprocess("run", "accounts", "--json")
    _until(arrived.is_set)  # A holds the lease and has a batch in flight
    b = project.subprocess("run", "accounts")
    _, b_err = b.communicate(timeout=120)
    assert b.returncode == ExitCode.LEASE_HELD == 3, b_err
    assert f"host {socket.gethostname()}, pid {a.pid}, running since" in b_err, b_err
    assert "--wait" in b_err and b_err.strip().count("\n") == 0, b_err  # one line, what to do included
    c_log = tmp_path / "c.err"
    with c_log.open("w") as sink:
        env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(project.config)}
        c = subprocess.Popen(
            [sys.executable, "-m", "syncer", "run", "accounts", "--wait", "--json"],
            env=env, text=True, stdout=subprocess.PIPE, stderr=sink,
        )  # fmt: skip
        _until(lambda: "waiting for the lease held by" in c_log.read_text())  # C is queued behind A
        gate.set()
        a_out, a_err = a.communicate(timeout=120)
        c_out, _ = c.communicate(timeout=120)
    assert a.returncode == 0 and c.returncode == 0, (a_err, c_log.read_text())
    first, second = json.loads(a_out), json.loads(c_out)
    assert (first["added"], first["succeeded"]) == (300, 300), first
    assert (second["added"], second["unchanged"], second["succeeded"]) == (0, 300, 0), second  # ran after A
    assert receiver.write_calls == 3 and len(receiver.records) == 300  # nothing sent twice
    with _state(project).connect() as conn:
        statuses = [s for (s,) in conn.execute(sa.text("SELECT status FROM runs ORDER BY id"))]
        assert statuses == ["ok", "ok"], statuses  # B never started a run
        assert conn.scalar(sa.text("SELECT COUNT(*) FROM leases")) == 0  # both released theirs


def test_the_lease_of_a_runner_that_died_here_is_taken_over_at_once(
    project: Project, receiver: WebhookReceiver
) -> None:
    a = project.subprocess("run", "accounts", env={"SYNCER_FAILPOINT": "after_ack:1"})
    a.communicate(timeout=120)
    assert a.returncode == -9  # SIGKILL: its lease stays behind, unreleased, for up to its TTL
    with _state(project).connect() as conn:
        assert conn.scalar(sa.text("SELECT owner FROM leases")).startswith(f"{socket.gethostname()}:{a.pid}:")
    c = project.subprocess("run", "accounts", "--json")
    c_out, c_err = c.communicate(timeout=120)
    assert c.returncode == 0, c_err  # pid a is gone from this host: no need to wait for the TTL
    assert f"taken over from pid {a.pid}" in c_err, c_err
    assert json.loads(c_out)["succeeded"] == 300  # the acknowledged-but-unrecorded batch is re-sent, idempotently
    assert sorted(receiver.records, key=int) == [str(i) for i in range(1, 301)]
    with _state(project).connect() as conn:
        statuses = [s for (s,) in conn.execute(sa.text("SELECT status FROM runs ORDER BY id"))]
    assert statuses == ["interrupted", "ok"], statuses


def test_a_holder_on_another_host_is_named_and_taken_over_once_its_lease_expires(
    project: Project, receiver: WebhookReceiver
) -> None:
    assert project.cli("runs")[0] == 0  # creates the state
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    with _state(project).begin() as conn:
        conn.execute(
            sa.text("INSERT INTO leases (name, owner, expires_at) VALUES ('accounts', 'worker-7:4242:abc', :t)"),
            {"t": later},
        )
    b = project.subprocess("run", "accounts")
    _, b_err = b.communicate(timeout=120)
    assert b.returncode == 3 and "host worker-7, pid 4242" in b_err, b_err
    # Time passes: nobody renews the other host's lease, so it expires (the test skips the TTL's wait).
    with _state(project).begin() as conn:
        conn.execute(sa.text("UPDATE leases SET expires_at = :t"), {"t": dt.datetime.now(dt.UTC)})
    c = project.subprocess("run", "accounts", "--json")
    c_out, c_err = c.communicate(timeout=120)
    assert c.returncode == 0 and json.loads(c_out)["succeeded"] == 300, c_err
