"""Crash and resume: SIGKILL `syncer run` at many exact instants, rerun, and converge.

The receiver runs as its own process and survives every kill; it de-duplicates nothing, so the
number of times a (key, fingerprint) was applied measures re-delivery directly. Kills land at
failpoints (see syncer/failpoints.py): between batches, with a request in flight, after the
destination acknowledged but before state was written, and right after a state commit. Between
some runs the warehouse changes, so "latest value" is tested, not only "some value".
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import load_receiver_state

from syncer.mapping import Mapper, parse_field
from tests.engine.conftest import SECRET, Project, create_accounts

# 90 batches: between two changes of the data there are 4 kills, each at most at the 20th batch of
# what is left, so every kill point is reached. The soak is the same test with
# more rows: SYNCER_CRASH_ACCOUNTS=200000 .venv/bin/pytest tests/engine/test_crash.py (benchmarks/README.md).
N = int(os.environ.get("SYNCER_CRASH_ACCOUNTS", "9000"))
BATCH = 100
POINTS = ("before_send", "in_flight", "after_ack", "after_state")


@pytest.fixture
def receiver_process(tmp_path: Path) -> tuple[str, Path]:
    state = tmp_path / "receiver.sqlite"
    env = {**os.environ, "HOOK_SECRET": SECRET}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "syncer_connectors.webhook.emulator",
            "--port",
            "0",
            "--state",
            str(state),
            "--secret-env",
            "HOOK_SECRET",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line and line[0] == "READY", line
    yield f"http://127.0.0.1:{line[1]}/hooks", state
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


def expected_records(url: str) -> dict[str, dict[str, object]]:
    """What the receiver must hold: every source row through the same mapping the sync uses."""
    mapper = Mapper(
        {
            "name": parse_field("name"),
            "pql_score": parse_field({"column": "pql_score", "round": 0}),
            "tier": parse_field({"column": "tier", "case": "upper"}),
        },
        "domain",
    )
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM accounts"))]
    engine.dispose()
    return {str(r["account_id"]): mapper.map(r)[1] for r in rows}


def run(project: Project, failpoint: str | None) -> subprocess.CompletedProcess[str]:
    proc = project.subprocess("run", "accounts", "--json", env={"SYNCER_FAILPOINT": failpoint or ""})
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_sigkill_at_random_points_then_rerun_converges(tmp_path: Path, receiver_process: tuple[str, Path]) -> None:
    hook_url, receiver_state = receiver_process
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    create_accounts(url, N)
    project = Project(tmp_path, url, hook_url=hook_url)
    project.write(batch_size=BATCH)
    rng = random.Random(20261123)

    kills = []
    for i in range(12):
        point = POINTS[i % len(POINTS)]
        nth = rng.randint(1, 20)
        result = run(project, f"{point}:{nth}")
        assert result.returncode == -signal.SIGKILL, (point, nth, result.returncode, result.stderr[-2000:])
        kills.append((point, nth))
        if i in (3, 7):  # the data moves on between crashes: the latest value must win
            create_accounts(url, N, score_offset=i)

    final = run(project, None)
    assert final.returncode == 0, final.stderr[-2000:]
    records, applied = load_receiver_state(receiver_state)

    expected = expected_records(url)
    assert records == expected  # every record, with its latest value, and nothing else

    # Re-delivery is bounded: a record re-applied with the same fingerprint only because a kill hit
    # while its batch was in flight or acknowledged-but-not-recorded (one batch per kill, times the
    # connector's concurrency).
    reapplied = sum(n - 1 for n in applied.values() if n > 1)
    concurrency = 4
    print(
        f"\nkills={kills}\nre-applied (key, fingerprint) deliveries: {reapplied} "
        f"(bound {len(kills)} kills x {BATCH} x {concurrency} = {len(kills) * BATCH * concurrency})"
    )
    assert reapplied <= len(kills) * BATCH * concurrency
    assert reapplied > 0  # the after_ack kills must have caused some re-delivery, or the test proves nothing
    per_key = Counter(key for key, _fp in applied)
    assert set(per_key) == set(expected)
