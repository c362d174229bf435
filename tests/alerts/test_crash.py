"""SIGKILL between Slack's acknowledgement and the state write (failpoints in a child process), then rerun."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from tests.alerts.support import ESCALATE, OWNERS, T0, Clock, all_keys, engine, hubspot, row, sqlite_url, workspace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def live_slack() -> Iterator[SlackEmulator]:
    """Rate limits out of the way: the child process has its own clock, the emulator keeps real time."""
    with SlackEmulator(channel_rate=1000.0, channel_burst=1000) as emu:
        yield workspace(emu, None)  # type: ignore[arg-type]


@pytest.fixture
def live_crm() -> Iterator[HubSpotEmulator]:
    emu = hubspot(Clock(), 10)
    emu.limits = type(emu.limits).for_plan("increase", time.time)
    yield emu
    emu.stop()


def run(
    tmp: Path,
    slack: SlackEmulator,
    crm: HubSpotEmulator,
    op: str,
    now: dt.datetime,
    failpoint: str = "",
    rows: list[dict[str, Any]] | None = None,
) -> subprocess.CompletedProcess[str]:
    job = {
        "state_url": sqlite_url(tmp),
        "slack_url": slack.api_url,
        "slack_token": slack.token,
        "hubspot_url": crm.base_url,
        "op": op,
        "now": now.isoformat(),
        "rows": rows or [],
    }
    path = tmp / f"job-{op}.json"
    path.write_text(json.dumps(job))
    env = {**os.environ, "SYNCER_FAILPOINT": failpoint}
    return subprocess.run(
        [sys.executable, "-m", "tests.alerts.child", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def local(tmp: Path, slack: SlackEmulator, crm: HubSpotEmulator) -> Any:
    """The same engine in this process (set-up and after-checks need no child)."""
    return engine(sqlite_url(tmp), slack.api_url, slack.token, Clock(), crm.base_url, fast=True)


def killed(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def test_ping_crash_after_post_posts_once(tmp_path: Path, live_slack: SlackEmulator, live_crm: HubSpotEmulator) -> None:
    rows = [row(i) for i in range(1, 4)]
    killed(run(tmp_path, live_slack, live_crm, "evaluate", T0, "alert_after_post:1", rows))
    assert len(all_keys(live_slack)) == 3  # posted, then killed before the state write
    done = run(tmp_path, live_slack, live_crm, "evaluate", T0 + dt.timedelta(hours=1), "", rows)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["opened"] == 0 and report["still_firing"] == 3 and report["pings"] == 3  # found in history
    keys = all_keys(live_slack)
    assert len(keys) == len(set(keys)) == 3
    assert len(live_crm.store.live("tasks")) == 3


def test_task_crash_after_create_creates_once(
    tmp_path: Path, live_slack: SlackEmulator, live_crm: HubSpotEmulator
) -> None:
    rows = [row(i) for i in range(1, 4)]
    killed(run(tmp_path, live_slack, live_crm, "evaluate", T0, "task_after_create:1", rows))
    done = run(tmp_path, live_slack, live_crm, "evaluate", T0 + dt.timedelta(hours=1), "", rows)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["tasks"] == 3 and len(live_crm.store.live("tasks")) == 3
    assert len(all_keys(live_slack)) == 3


def test_digest_crash_mid_send_sends_each_part_once(
    tmp_path: Path, live_slack: SlackEmulator, live_crm: HubSpotEmulator
) -> None:
    owner = "ae3@example.com"
    rows = [row(i, trigger="storage_limit_approaching", owner_email=owner) for i in range(3000)]
    local(tmp_path, live_slack, live_crm).evaluate_and_deliver(T0, rows=rows)
    nine = T0 + dt.timedelta(hours=14)
    killed(run(tmp_path, live_slack, live_crm, "digest", nine, "digest_after_post:1"))
    dm = live_slack.dm_channel(OWNERS[owner])
    first = len(live_slack.messages(dm))
    done = run(tmp_path, live_slack, live_crm, "digest", nine + dt.timedelta(minutes=5))
    assert done.returncode == 0, done.stderr[-2000:]
    keys = [m["metadata"]["event_payload"]["key"] for m in live_slack.messages(dm)]
    parts = json.loads(done.stdout)["messages"]
    print(f"\ndigest crash: {first} parts posted before SIGKILL, {len(keys)} after rerun ({parts} acknowledged)")
    assert 0 < first < len(keys) and len(keys) == len(set(keys)) == parts
    assert keys == [f"digest:{OWNERS[owner]}:2026-03-02:{n}" for n in range(1, len(keys) + 1)]
    again = local(tmp_path, live_slack, live_crm).send_due_digests(nine + dt.timedelta(hours=3))
    assert again["built"] == [] and len(live_slack.messages(dm)) == len(keys)


def test_escalation_crash_after_post_escalates_once(
    tmp_path: Path, live_slack: SlackEmulator, live_crm: HubSpotEmulator
) -> None:
    rows = [row(1), row(2)]
    local(tmp_path, live_slack, live_crm).evaluate_and_deliver(T0, rows=rows)
    late = T0 + dt.timedelta(hours=25)
    killed(run(tmp_path, live_slack, live_crm, "escalate", late, "escalation_after_post:1"))
    assert len(live_slack.messages(ESCALATE)) == 2
    done = run(tmp_path, live_slack, live_crm, "escalate", late + dt.timedelta(hours=1))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["escalated"] == []  # already decided; only delivery was pending
    assert local(tmp_path, live_slack, live_crm).escalate(late + dt.timedelta(days=3)).escalated == []
    keys = [m["metadata"]["event_payload"]["key"] for m in live_slack.messages(ESCALATE)]
    assert len(keys) == len(set(keys)) == 2 and all(k.startswith("escalation:") for k in keys)
