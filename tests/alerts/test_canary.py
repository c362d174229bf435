"""Canary: a changed trigger runs on a share of accounts beside the current definition; a worse one is
rolled back automatically with an ops alert. Slack + HubSpot emulators on loopback, state in SQLite."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts.canary import in_canary, report, statuses
from syncer.alerts.sla import worked_report
from syncer.ops_alerts import OpsAlert, OpsAlerts, OpsAlertSettings
from syncer.outcomes.model import OutcomesConfig
from syncer.outcomes.tracking import sync_task_states
from tests.alerts.support import T0, complete_task, engine, row, sqlite_url

TRIGGER = "seat_limit_approaching"
SHARE = 0.5
DAY = dt.timedelta(days=1)


class Capture:
    def __init__(self) -> None:
        self.sent: list[OpsAlert] = []

    def notify(self, alert: OpsAlert) -> None:
        self.sent.append(alert)


def rows_for(day: int) -> list[dict[str, Any]]:
    """Current definition (>= 0.8): 2 new accounts a day. The canary (>= 0.5, the worse change): 40 a day."""
    current = [row(100 * day + i, value=0.85) for i in range(2)]
    canary = [row(100 * day + i, value=0.6 if i >= 2 else 0.85, threshold=0.5, variant="canary") for i in range(40)]
    return current + canary


def test_worse_canary_is_rolled_back_automatically_with_an_ops_alert(
    tmp_path: Path, slack: SlackEmulator, crm: HubSpotEmulator, fake: Any
) -> None:
    alerts = {
        "activation": {"quiet": False},
        "canary": {"share": SHARE, "min_alerts": 3},
        "budget": {"per_recipient": 5},
    }
    eng = engine(sqlite_url(tmp_path), slack.api_url, slack.token, fake, crm.base_url, fast=True, alerts=alerts)
    eng.lifecycle.canaried = {TRIGGER}
    capture = Capture()
    eng.ops_alerts = OpsAlerts(eng.engine, [capture], OpsAlertSettings())
    first = eng.evaluate_and_deliver(T0, rows=rows_for(0))
    opened = first.evaluation.opened
    canary_accounts = sum(in_canary(SHARE, TRIGGER, r["account_id"]) for r in rows_for(0) if r.get("variant"))
    current_accounts = sum(not in_canary(SHARE, TRIGGER, r["account_id"]) for r in rows_for(0) if not r.get("variant"))
    assert opened == canary_accounts + current_accounts  # one variant per account, never both
    seen = report(eng.engine, TRIGGER, T0 + DAY, 14)
    print("\ncanary after day 1:", seen)
    assert seen["canary"]["fired"] == canary_accounts and seen["current"]["fired"] == current_accounts
    # the canary pings more per rep than the budget allows at full roll-out: rolled back at once
    assert statuses(eng.engine) == {TRIGGER: "rolled_back"}
    assert [(a.sync, a.kind, a.state) for a in capture.sent] == [(f"trigger {TRIGGER}", "canary_rollback", "firing")]
    assert "at full roll-out" in capture.sent[0].text and "budget 5" in capture.sent[0].text
    # after the rollback every account is on the current definition: canary rows open nothing
    later = eng.evaluate_and_deliver(T0 + DAY, rows=rows_for(0) + rows_for(1))
    with eng.engine.connect() as conn:
        newest = conn.exec_driver_sql("SELECT canary FROM alerts WHERE opened_at > ?", (T0.isoformat(),)).all()
    assert later.evaluation.opened == sum(1 for r in rows_for(1) if not r.get("variant")) and len(newest) >= 1
    assert all(c == "" for (c,) in newest)
    eng.close()


def test_worked_rate_drop_rolls_back(tmp_path: Path, slack: SlackEmulator, crm: HubSpotEmulator, fake: Any) -> None:
    """The canary judges "worked within SLA" by the report's rule (alerts/sla.py): an alert not yet due counts
    neither way, so 6 h after firing nothing is decided; past the 24 h SLA the unworked canary alerts are breached
    and the canary (worked about 1 in 4) is rolled back against the current definition (worked 4 in 4). Its counts are
    the ones `alerts sla` / `syncer report` print for the same alerts at both instants."""
    alerts = {
        "activation": {"quiet": False},
        "canary": {"share": SHARE, "min_alerts": 3},
        "budget": {"per_recipient": 1000},
    }
    eng = engine(sqlite_url(tmp_path), slack.api_url, slack.token, fake, crm.base_url, fast=True, alerts=alerts)
    eng.lifecycle.canaried = {TRIGGER}
    capture = Capture()
    eng.ops_alerts = OpsAlerts(eng.engine, [capture], OpsAlertSettings())
    same = [row(i, value=0.85) for i in range(40)] + [row(i, value=0.85, variant="canary") for i in range(40)]
    eng.evaluate_and_deliver(T0, rows=same)
    assert statuses(eng.engine) == {}  # same alert volume: no verdict yet
    with eng.engine.connect() as conn:
        keys = conn.exec_driver_sql("SELECT key, canary FROM alerts").all()
    for n, (key, canary) in enumerate(keys):  # reps work every current alert within the SLA, one canary in four
        if canary == "" or n % 4 == 0:
            complete_task(crm, key, T0 + dt.timedelta(hours=3), eng.engine)
    sync_task_states(eng.engine, eng.crm, T0 + dt.timedelta(hours=5))  # type: ignore[arg-type]
    hours = dict(OutcomesConfig().sla_hours)  # [outcomes] sla_hours: the report's hours, high 24 h
    for at, decided in ((T0 + dt.timedelta(hours=6), {}), (T0 + dt.timedelta(hours=25), {TRIGGER: "rolled_back"})):
        eng.evaluate_and_deliver(at, rows=same)
        assert statuses(eng.engine) == decided, at  # 6 h: the unworked canary alerts are not yet due
        seen = report(eng.engine, TRIGGER, at, 14)
        print(f"\nworked-rate canary at {at:%H:%M}:", seen)
        shared = worked_report(eng.engine, at, hours)["high"]  # every alert here is high, on this one trigger
        groups = (seen["current"], seen["canary"])
        assert sum(g["worked_in_sla"] for g in groups) == shared["met"], (groups, shared)
        assert (
            sum(g["sla_due"] for g in groups) == shared["due"]
            and sum(g["with_task"] for g in groups) == shared["alerts"]
        )
        assert statuses(eng.engine) == decided, at  # 6 h: the unworked canary alerts are not yet due
    rate = seen["canary"]["worked_in_sla"] / seen["canary"]["with_task"]  # every canary alert is due by now
    assert len(capture.sent) == 1 and f"worked within SLA {rate:.0%} vs 100%" in capture.sent[0].text, capture.sent
    eng.close()
