"""A total loss of alert state between two alert runs sends no second ping, CRM task or email.

Slack, HubSpot and SMTP are the loopback emulators; the state is a real SQLite file that is deleted
(or whose alert tables are made unreadable and then moved aside by `syncer state rebuild`) between
the runs. The connectors find what the first run created by the alert's stable key (account,
trigger, episode date: lifecycle.alert_key) in its project (syncer.project), so nothing is created
twice. A deleted state keeps its project only by name (`[syncer] project`); a rebuilt one keeps the
id it had. (A deleted state without a name is a new project: its open episodes are sent once more,
a duplicate rather than the loss of another project's alert.)
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from syncer_connectors.email.emulator import SmtpEmulator
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from tests.alerts.support import T0, Clock, all_keys, row, sqlite_url
from tests.tiers.support import tier_engine

ACCOUNTS = 6
EMAIL_OWNER = "ae1@example.com"


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpEmulator]:
    with SmtpEmulator() as emu:
        yield emu


@pytest.fixture
def smtp(smtp_server: SmtpEmulator) -> SmtpEmulator:
    smtp_server.reset()
    return smtp_server


def rows() -> list[dict[str, Any]]:
    """ACCOUNTS high-priority alerts; account 0's owner gets email as well as Slack."""
    return [row(i, owner_email=EMAIL_OWNER) if i == 0 else row(i) for i in range(ACCOUNTS)]


def lose_all(state: Path) -> None:
    state.unlink()


def corrupt_and_rebuild(state: Path) -> None:
    """Alert tables unreadable (dropped and replaced by garbage), then `syncer state rebuild` as a process."""
    with sqlite3.connect(state) as db:
        names = [r[0] for r in db.execute("select name from sqlite_master where type='table' and name like 'alert%'")]
        for name in names:
            db.execute(f'drop table "{name}"')
            db.execute(f'create table "{name}" (garbage blob)')
    config = state.with_name("syncer.toml")
    (state.parent / "mappings").mkdir(exist_ok=True)
    warehouse = state.with_name("warehouse.sqlite")
    config.write_text(f'[syncer]\nstate_url = "sqlite:///{state}"\n\n[warehouse]\nurl = "sqlite:///{warehouse}"\n')
    done = subprocess.run(
        [str(Path(sys.executable).with_name("syncer")), "state", "rebuild", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("loss", "project"), [(lose_all, "acme-prod"), (corrupt_and_rebuild, None)], ids=["deleted", "rebuilt"]
)
@pytest.mark.parametrize("quiet", [True, False], ids=["quiet-activation", "loud-activation"])
def test_a_second_alert_run_after_total_state_loss_duplicates_nothing(
    tmp_path: Path,
    slack: SlackEmulator,
    fake: Clock,
    crm: HubSpotEmulator,
    smtp: SmtpEmulator,
    loss: Any,
    project: str | None,
    quiet: bool,
) -> None:
    state = tmp_path / "state.sqlite"
    alerts = {"activation": {"quiet": quiet, "backlog_tasks": True}, "recipients": {EMAIL_OWNER: {"prefer": "both"}}}

    def run(at: dt.datetime, fired: list[dict[str, Any]]) -> None:
        eng = tier_engine(
            sqlite_url(tmp_path),
            slack.api_url,
            slack.token,
            fake,
            hubspot_url=crm.base_url,
            smtp={"port": smtp.port},
            alerts=alerts,
            project=project,
        )
        eng.evaluate_and_deliver(at, rows=fired)

    run(T0, [row(ACCOUNTS)])  # the trigger's first activation (a backlog of one), so the next run pings
    run(T0 + dt.timedelta(hours=1), rows())
    before = measure(slack, crm, smtp)
    loss(state)
    run(T0 + dt.timedelta(hours=3), [row(ACCOUNTS), *rows()])
    after = measure(slack, crm, smtp)
    print(f"\n{loss.__name__} quiet={quiet}: before {before}, after {after}")
    assert before == {
        "pings": ACCOUNTS + (0 if quiet else 1),
        "duplicate_pings": 0,
        "tasks": ACCOUNTS + 1,
        "message_ids": 2,
        "emails": 2,
    }
    assert after["tasks"] == before["tasks"]
    assert after["pings"] == before["pings"]
    assert after["duplicate_pings"] == 0
    assert after["message_ids"] == before["message_ids"]  # a re-sent email keeps its Message-ID
    if quiet:  # SMTP has no history to ask: the backlog after a loss is summarised, not e-mailed again
        assert after["emails"] == before["emails"]


def measure(slack: SlackEmulator, crm: HubSpotEmulator, smtp: SmtpEmulator) -> dict[str, int]:
    pings = [k for k in all_keys(slack) if not k.startswith("digest")]
    return {
        "pings": len(pings),
        "duplicate_pings": sum(n - 1 for n in Counter(pings).values()),
        "tasks": len(crm.store.live("tasks")),
        "message_ids": len(smtp.by_message_id()),
        "emails": len(smtp.messages),
    }
