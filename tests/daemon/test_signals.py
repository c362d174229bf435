"""The real `syncer daemon` process, started the way the container starts it (SYNCER_CONFIG, no args).

SIGHUP with a broken config keeps the schedule; SIGTERM mid-run lets the current batch finish and
exits 0 within the grace period; a rerun converges to every record.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.daemon.conftest import REPO, configure, replica_env, wait_for
from tests.engine.conftest import Project, create_accounts

GRACE = 5.0


def _get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_daemon_process_sighup_then_sigterm_mid_run(
    project: Project, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    configure(project, "every_minutes = 0.02", daemon=f"grace_seconds = {GRACE}\n", batch_size=10)
    create_accounts(project.warehouse_url, 2000)
    receiver.latency = 0.05  # a slow destination: the run lasts seconds, so SIGTERM lands mid-run
    port_file = tmp_path / "port"
    log = (tmp_path / "daemon.log").open("w")
    # The image's command line: ENTRYPOINT ["syncer"], CMD ["daemon"], config from SYNCER_CONFIG.
    syncer_bin = str(Path(sys.executable).parent / "syncer")
    proc = subprocess.Popen(
        [syncer_bin, "daemon"],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=replica_env(project, SYNCER_PORT_FILE=str(port_file)),
    )
    try:
        port = int(wait_for(lambda: port_file.exists() and port_file.read_text()))
        assert _get(port, "/healthz") == 200
        assert wait_for(lambda: _get(port, "/readyz") == 200)
        probe = subprocess.run(
            [sys.executable, "-m", "syncer.server", "probe", f"http://127.0.0.1:{port}/healthz"],
            cwd=REPO,
            env=os.environ,
            timeout=10,
        )
        assert probe.returncode == 0  # the Dockerfile's HEALTHCHECK command

        # SIGHUP with a broken mapping: logged, the old schedule stays, the process keeps running.
        mapping = project.root / "mappings" / "accounts.toml"
        good = mapping.read_text()
        mapping.write_text(good.replace("every_minutes = 0.02", 'cron = "not a cron"'))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload failed" in (tmp_path / "daemon.log").read_text())
        assert proc.poll() is None and _get(port, "/healthz") == 200
        mapping.write_text(good)

        state = sa.create_engine(f"sqlite:///{project.root / 'data' / 'state.sqlite'}")

        def audited() -> int:
            with state.connect() as conn:
                return int(conn.scalar(sa.text("SELECT count(*) FROM audit")) or 0)

        wait_for(lambda: audited() >= 50, timeout=30)  # mid-run: batches are being acknowledged
        sent_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=GRACE + 5)
        took = time.monotonic() - sent_at
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"\nSIGTERM -> exit {code} in {took:.2f}s (grace {GRACE}s)")
    assert code == 0 and took < GRACE
    with state.connect() as conn:
        runs = conn.execute(sa.text("SELECT status, succeeded FROM runs ORDER BY id")).all()
    state.dispose()
    assert runs[-1][0] == "stopped" and 0 < runs[-1][1] < 2000, runs
    assert len(receiver.records) < 2000

    receiver.latency = 0.0
    code, out, err = project.cli("run", "accounts", "--json")
    assert code == 0, err
    assert len(receiver.records) == 2000  # the rerun converges
    assert out["added"] == 2000 - runs[-1][1]  # nothing acknowledged before the stop is sent again
