"""SIGKILL between the server's acknowledgement and the state write (child process + failpoint), then rerun.

The SMTP server is the standalone emulator in its own process, writing every accepted message to a
Maildir before it answers 250; the webhook receiver keeps its state in SQLite. Both survive the kill.
"""

from __future__ import annotations

import datetime as dt
import json
import mailbox
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from syncer_connectors.email.emulator import maildir_copies
from syncer_connectors.slack.emulator import SlackEmulator
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.alerts.support import T0, Clock, row, sqlite_url, workspace
from tests.tiers.support import SECRET, tier_engine

ROOT = Path(__file__).resolve().parents[2]
OWNER = "ae1@example.com"
NINE_NY = T0 + dt.timedelta(hours=14)


@pytest.fixture
def live_slack() -> Iterator[SlackEmulator]:
    with SlackEmulator(channel_rate=1000.0, channel_burst=1000) as emu:
        yield workspace(emu, None)


@pytest.fixture
def smtp_process(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    maildir = tmp_path / "mail"
    cmd = [sys.executable, "-m", "syncer_connectors.email.emulator", "--port", "0", "--maildir", str(maildir)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("READY"), line
    yield int(line.split()[1]), maildir
    proc.terminate()
    proc.wait(10)


def sections(in_doubt: str = "hold") -> dict[str, Any]:
    return {
        "alerts": {"recipients": {OWNER: {"prefer": "email"}}, "email_delivery": {"in_doubt": in_doubt}},
        "actions": {"monitor": {"webhook": "inapp", "notify": "none"}},
    }


def run(tmp: Path, job: dict[str, Any], op: str, now: dt.datetime, failpoint: str = "") -> Any:
    path = tmp / f"job-{op}.json"
    path.write_text(json.dumps({**job, "op": op, "now": now.isoformat()}))
    env = {**os.environ, "SYNCER_FAILPOINT": failpoint}
    cmd = [sys.executable, "-m", "tests.tiers.child", str(path)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def ok(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def killed(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def test_alert_and_digest_emails_arrive_once_after_sigkill_between_send_and_state(
    tmp_path: Path, live_slack: SlackEmulator, smtp_process: tuple[int, Path]
) -> None:
    port, maildir = smtp_process
    rows = [row(0, owner_email=OWNER), row(1, trigger="storage_limit_approaching", owner_email=OWNER)]
    job = {
        "state_url": sqlite_url(tmp_path),
        "slack_url": live_slack.api_url,
        "slack_token": live_slack.token,
        "smtp": {"port": port},
        "sections": sections(),
        "rows": rows,
    }
    killed(run(tmp_path, job, "evaluate", T0, "email_after_send:1"))
    [key] = maildir_copies(maildir)  # the alert key names its episode (opening floored to the cooldown window)
    assert key.startswith("acct-00000:seat_limit_approaching:")
    assert maildir_copies(maildir) == {key: 1}  # accepted by the server, then the process died
    again = ok(run(tmp_path, job, "evaluate", T0 + dt.timedelta(hours=1)))
    assert again["opened"] == 0 and again["emails"] == 0

    killed(run(tmp_path, job, "digest", NINE_NY, "email_after_send:1"))
    digest = f"email-digest:{OWNER}:2026-03-02"
    assert maildir_copies(maildir) == {key: 1, digest: 1}
    after = ok(run(tmp_path, job, "digest", NINE_NY + dt.timedelta(minutes=5)))
    assert after["email_built"] == [] and after["emails"] == 0
    ok(run(tmp_path, job, "evaluate", NINE_NY + dt.timedelta(hours=1)))
    ok(run(tmp_path, job, "digest", NINE_NY + dt.timedelta(hours=2)))
    assert maildir_copies(maildir) == {key: 1, digest: 1}

    eng = tier_engine(job["state_url"], live_slack.api_url, live_slack.token, Clock(), smtp={"port": port})
    [alert] = [a for a in eng.open_alerts(NINE_NY) if a["priority"] == "high"]
    assert alert["email"].startswith("in_doubt: interrupted mid-send")  # visible, never re-sent by itself
    print(f"\nafter SIGKILL + rerun: {dict(maildir_copies(maildir))}; alert email state: {alert['email'][:60]}...")


def test_resend_policy_sends_again_with_the_same_message_id(
    tmp_path: Path, live_slack: SlackEmulator, smtp_process: tuple[int, Path]
) -> None:
    port, maildir = smtp_process
    job = {
        "state_url": sqlite_url(tmp_path),
        "slack_url": live_slack.api_url,
        "slack_token": live_slack.token,
        "smtp": {"port": port},
        "sections": sections("resend"),
        "rows": [row(0, owner_email=OWNER)],
    }
    killed(run(tmp_path, job, "evaluate", T0, "email_after_send:1"))
    assert ok(run(tmp_path, job, "evaluate", T0 + dt.timedelta(hours=1)))["emails"] == 1
    assert list(maildir_copies(maildir).values()) == [2]  # at least once: one Message-ID twice (README's edge)
    ids = {str(m["Message-ID"]) for m in mailbox.Maildir(maildir, create=False)}
    assert len(ids) == 1


def test_webhook_crash_after_ack_is_applied_once_per_version(tmp_path: Path, live_slack: SlackEmulator) -> None:
    receiver = WebhookReceiver(SECRET)
    url = receiver.start() + "/hooks"
    try:
        rows = [row(i, trigger="high_engagement_growth", priority="low", tier="monitor") for i in range(3)]
        job = {
            "state_url": sqlite_url(tmp_path),
            "slack_url": live_slack.api_url,
            "slack_token": live_slack.token,
            "hooks": {"inapp": url},
            "sections": sections(),
            "rows": rows,
        }
        killed(run(tmp_path, job, "evaluate", T0, "webhook_after_ack:1"))
        assert len(receiver.records) == 3
        assert ok(run(tmp_path, job, "evaluate", T0 + dt.timedelta(minutes=15)))["webhooks"] == 3
        assert len(receiver.records) == 3  # inserted once per key: the receiver's state is the same
        assert set(receiver.applied.values()) == {2}  # the same (key, fingerprint) twice: a receiver skips it
        assert len(receiver.deliveries) == 1  # ... and the same Idempotency-Key for the whole batch
    finally:
        receiver.stop()
