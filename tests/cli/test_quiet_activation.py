"""Quiet first activation is not used up by an evaluation that did not see the trigger (adv6 #10): `syncer alerts
run` (the CLI, in-process: the fix is in the engine, no process boundary matters), first on a model without the
trigger's rows, then on the book. The book must arrive as the backlog (no pings), as docs/alerts.md says of a
first run, not as new crossings."""

from __future__ import annotations

from typing import Any

import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.daemon.test_alert_jobs import HS_TOKEN, SLACK_TOKEN, alert_project, fired_triggers
from tests.engine.conftest import Project

SEAT, STORAGE = "seat_limit_approaching", "storage_limit_approaching"
BOOK = [(f"acct-{i}", SEAT, "high", 0.9, 0.8, "ae1@example.com") for i in range(1, 3)]
OTHER = [("acct-9", STORAGE, "medium", 0.8, 0.75, "ae2@example.com")]
BELOW = [(f"acct-{i}", SEAT, "high", 0.5, 0.8, "ae1@example.com") for i in range(1, 3)]
CASES: list[tuple[str, list[Any], list[Any], int, int]] = [
    # (case, first evaluation's rows, second evaluation's rows, pings, backlog in the second)
    ("empty model first", [], BOOK, 0, 2),
    ("only another trigger's rows first", OTHER, OTHER + BOOK, 0, 2),
    ("book first (activates at once)", BOOK, BOOK, 0, 0),
    ("trigger seen below its threshold first: then a crossing", BELOW, BOOK, 2, 0),
]


@pytest.mark.parametrize(("case", "first", "second", "pings", "backlog"), CASES, ids=[c[0] for c in CASES])
def test_activation_waits_for_an_evaluation_that_sees_the_trigger(
    project: Project, receiver: WebhookReceiver, slack: SlackEmulator, crm: HubSpotEmulator,
    case: str, first: list[Any], second: list[Any], pings: int, backlog: int,
) -> None:  # fmt: skip
    alert_project(project, slack, crm)
    quiet = project.config.read_text().replace("activation = { quiet = false }", "activation = { quiet = true }")
    project.config.write_text(quiet)
    project.env.update(SLACK_TOKEN=SLACK_TOKEN, HS_TOKEN=HS_TOKEN)
    for rows in (first, second):
        fired_triggers(project.warehouse_url, rows)
        code, report, err = project.cli("alerts", "run", "--json")
        assert code == 0, (case, report, err)
    assert (report["pings"], report["backlog"]) == (pings, backlog), (case, report)
