"""`syncer runs` shows a killed run as interrupted with what the destination acknowledged (its audit rows: one per
answered record, written with state per batch), and the counts only a finished run knows as "?" (--json: null),
never 0 changed / 0 ok beside an audit that lists its records. Real processes killed (SIGKILL) at failpoints,
a SQLite warehouse of 300 rows, batches of 100, the webhook receiver."""

from __future__ import annotations

import json

import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import Project

# failpoint (SIGKILL at its Nth hit) -> records the killed run acknowledged by its audit rows
KILLS = [
    ("after_state:2", 200),  # two batches acknowledged and recorded
    ("after_ack:2", 100),  # the second batch acknowledged, killed before it was recorded: the audit holds one
    ("before_send:1", 0),  # killed before anything was sent
]


@pytest.mark.parametrize(("failpoint", "acknowledged"), KILLS)
def test_a_killed_run_shows_what_it_acknowledged(
    project: Project, receiver: WebhookReceiver, failpoint: str, acknowledged: int
) -> None:
    killed = project.subprocess("run", "accounts", env={"SYNCER_FAILPOINT": failpoint})
    killed.communicate(timeout=120)
    assert killed.returncode == -9, killed.returncode
    rerun = project.subprocess("run", "accounts", "--json")
    stdout, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0 and json.loads(stdout)["succeeded"] == 300 - acknowledged, (stdout, stderr[-500:])

    listing = project.subprocess("runs", "--json")
    stdout, _ = listing.communicate(timeout=120)
    first = next(r for r in json.loads(stdout) if r["id"] == 1)
    assert first["status"] == "interrupted", first
    assert (first["succeeded"], first["failed"], first["rejected"]) == (acknowledged, 0, 0), first
    assert first["added"] is None and first["changed"] is None and first["source_rows"] is None, first

    table = project.subprocess("runs")
    stdout, _ = table.communicate(timeout=120)
    line = next(line for line in stdout.splitlines() if line.split()[:2] == ["1", "accounts"])
    assert line.split()[-5:] == ["?", str(acknowledged), "0", "0", "interrupted"], line
    assert "?: not known" in stdout, stdout
