"""Listings a person reads: `alerts` shows 20 rows within 80 columns with "N more: --all or --limit", filters by
status / owner / account, and every listing that comes back empty says why and what to do (an empty digest
preview says when the last digest went out and when the next is due). Real processes, real pipes."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from syncer_connectors.slack.emulator import SlackEmulator
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.alerts.store import digest_queue
from tests.daemon.test_alert_jobs import SLACK_TOKEN, alert_project, fired_triggers
from tests.engine.conftest import SECRET, Project

OTHER = "rep9@example.com"  # not in Slack: their alerts go to the fallback channel, with the reason


def _syncer(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOOK_SECRET": SECRET, "SLACK_TOKEN": SLACK_TOKEN, "SYNCER_CONFIG": str(project.config)}
    env.pop("COLUMNS", None)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "syncer"), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def _yesterday(project: Project) -> None:
    """The queued alerts as if queued a day earlier: a digest lists only what was queued before the
    day's send instant (syncer.alerts.digest), and the test cannot wait for tomorrow's."""
    engine = sa.create_engine(f"sqlite:///{project.root / 'data' / 'state.sqlite'}")
    with engine.begin() as conn:
        for alert_id, queued_at in conn.execute(sa.select(digest_queue.c.alert_id, digest_queue.c.queued_at)).all():
            earlier = digest_queue.update().where(digest_queue.c.alert_id == alert_id)
            conn.execute(earlier.values(queued_at=queued_at - dt.timedelta(days=1)))
    engine.dispose()


def test_alert_listing_defaults_filters_and_empty_results(
    project: Project, receiver: WebhookReceiver, slack: SlackEmulator
) -> None:
    alert_project(project, slack, None)
    # the digest is due whatever the hour the test runs at (00:00 UTC has always passed today)
    text = project.config.read_text().replace('time = "09:00"\ntimezone = "America/New_York"', 'time = "00:00"')
    project.config.write_text(text)
    triggers = ("storage_limit_approaching", "high_engagement_growth", "advanced_features_power_users")
    rows = [
        (f"acct-{i}", triggers[i % 3], "medium", 0.9, 0.75, "ae1@example.com" if i % 2 else OTHER) for i in range(1, 26)
    ]
    fired_triggers(project.warehouse_url, rows)

    # 8 processes (about 1.5 s each): empty, filled, filtered, sent
    assert "no open alerts: no trigger is firing, or no evaluation has run yet" in _syncer(project, "alerts").stdout
    never = _syncer(project, "digest", "--preview").stdout
    assert "no digest has been built yet" in never and "next digest is due" in never, never

    _syncer(project, "alerts", "run", "--json")
    listed = _syncer(project, "alerts").stdout
    lines = listed.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80, listed
    assert sum(1 for line in lines if line[:1].isdigit() and line.split()[0][-1] in "mhd") == 20, listed
    assert "25 open alerts" in listed and "5 more open alerts: --all or --limit 25" in listed, listed

    theirs = json.loads(_syncer(project, "alerts", "--owner", "rep9", "--status", "fallback", "--json").stdout)
    assert len(theirs) == 12 and {a["owner"] for a in theirs} == {OTHER}  # not in Slack: the fallback channel
    assert all(a["fallback_reason"] for a in theirs)
    none = _syncer(project, "alerts", "--status", "ping", "--account", "acct-7").stdout
    assert "no open alert matches --status ping --account acct-7 (25 open alerts: drop a filter" in none, none

    _yesterday(project)  # queued before today's send instant (00:00 UTC): today's digest takes them
    _syncer(project, "digest")  # the digests go out: nothing is queued any more
    after = _syncer(project, "digest", "--preview").stdout
    assert "no alert is queued for a digest: the last digests went out" in after, after
    assert "(2 messages to 2 recipients, 25 alerts)" in after and "due " in after, after
