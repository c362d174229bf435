"""Escalation reaches every alert whose CRM task is still open past the SLA, however the alert was
delivered (adv6 #3: high alerts the ping budget deferred to the digest kept their open task and were
never escalated). Left out on purpose: the quiet first activation's backlog, and worked tasks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts.store import alerts
from tests.alerts.support import ESCALATE, T0, Clock, complete_task, engine, keys_in, row, sqlite_url

NO_BUDGET = {"budget": {"per_recipient": 0, "per_channel": 0}}
CASES: list[tuple[str, dict[str, Any], bool, str, bool]] = [
    # (case, config sections, quiet backlog, delivery recorded, escalated)
    ("pinged", {}, False, "ping", True),
    ("deferred past the ping budget", {"alerts": NO_BUDGET}, False, "deferred", True),
    (
        "digest tier with its CRM task",
        {"actions": {"escalate": {"notify": "digest", "crm_task": True}}},
        False,
        "digest",
        True,
    ),
    (
        "tier that notifies nobody, task only",
        {"actions": {"escalate": {"notify": "none", "crm_task": True}}},
        False,
        "none",
        True,
    ),
    (
        "quiet backlog with backlog_tasks",
        {"alerts": {"activation": {"quiet": True, "backlog_tasks": True}}},
        True,
        "backlog",
        False,
    ),
]


@pytest.mark.parametrize(("case", "sections", "backlog", "delivery", "escalated"), CASES, ids=[c[0] for c in CASES])
def test_open_task_past_the_sla_escalates_whatever_the_delivery(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, crm: HubSpotEmulator,
    case: str, sections: dict[str, Any], backlog: bool, delivery: str, escalated: bool,
) -> None:  # fmt: skip
    url = sqlite_url(tmp_path)
    eng = engine(url, slack.api_url, slack.token, fake, crm.base_url, **sections)
    rows = [row(1), row(2)]
    eng.evaluate_and_deliver(T0, rows=rows)
    with sa.create_engine(url).connect() as conn:
        opened = list(conn.execute(sa.select(alerts.c.key, alerts.c.delivery, alerts.c.task_state)))
    assert {(d, t) for _, d, t in opened} == {(delivery, "open")}, case
    assert complete_task(crm, opened[0].key, T0 + dt.timedelta(hours=2), eng.engine)  # worked: never escalated

    later = T0 + dt.timedelta(hours=25)
    done = eng.escalate(later)
    expected = [opened[1].key] if escalated else []
    assert (done.escalated, keys_in(slack, ESCALATE)) == (expected, [f"escalation:{k}" for k in expected]), case
    assert done.priority_raised == len(expected)
    assert eng.escalate(later + dt.timedelta(hours=1)).escalated == []  # once
