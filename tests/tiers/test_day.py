"""A synthetic day on a patched clock: accounts in all three PQL tiers, each gets exactly its tier's actions.

    monitor  -> a signed webhook to the in-app messaging endpoint     (SLA 1 h)
    nurture  -> a CRM task assigned to the SDR queue's owner           (SLA 48 h)
    escalate -> a Slack DM to the owner + the owner's CRM task         (SLA 24 h)

Evaluations every 15 minutes; signals carry `signal_at` 7 minutes before the evaluation that sees
them (warehouse lag); the in-app endpoint answers 503 for 30 minutes in the middle of the day.
What each account got is read back from the emulators (receiver records, HubSpot tasks, Slack DMs),
not from the engine's bookkeeping; the SLA numbers come from `sla_report()`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.emulator import Fault
from tests.alerts.support import OWNERS, T0, Clock, account, all_keys, sqlite_url
from tests.tiers.support import SDR_QUEUE, SECRET, tier_engine

TIERS = ("monitor", "nurture", "escalate")
TRIGGERS = {
    "monitor": ("high_engagement_growth", "low"),
    "nurture": ("api_limit_approaching", "medium"),
    "escalate": ("seat_limit_approaching", "high"),
}
ACCOUNTS = 33  # i % 3 picks the tier; the last three rows carry no tier (mapped from their priority)
STEP = dt.timedelta(minutes=15)
LAG = dt.timedelta(minutes=7)
LASTS = dt.timedelta(hours=6)
OUTAGE = (T0 + dt.timedelta(hours=4), T0 + dt.timedelta(hours=4, minutes=30))
ACTIONS: dict[str, Any] = {
    "monitor": {"webhook": "inapp", "notify": "none", "message": "{account_name}: your team is growing fast"},
    "nurture": {"sdr_task": {"owner": SDR_QUEUE}, "notify": "none"},
    "escalate": {"notify": "ping", "crm_task": True},
}


def tier_of(i: int) -> str:
    return TIERS[i % 3]


def appears(i: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=40 * i)


def rows_at(now: dt.datetime) -> list[dict[str, Any]]:
    out = []
    for i in range(ACCOUNTS):
        if not appears(i) <= now < appears(i) + LASTS:
            continue
        tier = tier_of(i)
        trigger, priority = TRIGGERS[tier]
        owners = list(OWNERS)
        out.append(
            {
                "account_id": account(i),
                "account_name": f"Account {i}",
                "trigger": trigger,
                "priority": priority,
                "value": 0.9,
                "threshold": 0.7,
                "owner_email": owners[i % len(owners)],
                "tier": tier if i < ACCOUNTS - 3 else None,  # untiered rows: [actions] by_priority decides
                "signal_at": (appears(i) - LAG).isoformat(),
            }
        )
    return out


def test_a_day_of_three_tiers(tmp_path: Path, slack: SlackEmulator, fake: Clock, crm: HubSpotEmulator) -> None:
    receiver = WebhookReceiver(SECRET)
    url = receiver.start() + "/hooks"
    try:
        eng = tier_engine(
            sqlite_url(tmp_path),
            slack.api_url,
            slack.token,
            fake,
            hubspot_url=crm.base_url,
            hooks={"inapp": url},
            actions=ACTIONS,
        )
        now = T0
        while now < T0 + dt.timedelta(days=1):
            if now == OUTAGE[0]:
                receiver.faults.add(Fault("status", path="/hooks", status=503, times=10_000, method="POST"))
            if now == OUTAGE[1]:
                receiver.faults.clear()
            fake.now += STEP.total_seconds()
            eng.evaluate_and_deliver(now, rows=rows_at(now))
            now += STEP
        end = now
        report = eng.sla_report(end)
    finally:
        receiver.stop()

    want = {t: {account(i) for i in range(ACCOUNTS) if tier_of(i) == t} for t in TIERS}
    got_webhook = [fields["account_id"] for fields in receiver.records.values()]
    sdr_id = next(o["id"] for o in crm.owners.values() if o["email"] == SDR_QUEUE)
    tasks = [t.properties for t in crm.store.live("tasks")]
    sdr_tasks = [t for t in tasks if t.get("hubspot_owner_id") == sdr_id]
    owner_tasks = [t for t in tasks if t.get("hubspot_owner_id") != sdr_id]
    pinged = [k.split(":")[0] for k in all_keys(slack)]
    sdr_accounts = sorted(account(int(t["hs_task_subject"].rsplit(" ", 1)[1])) for t in sdr_tasks)

    tier_by_account = {account(i): tier_of(i) for i in range(ACCOUNTS)}

    def per_tier(accounts: list[str]) -> dict[str, int]:
        return {t: sum(1 for a in accounts if tier_by_account[a] == t) for t in TIERS}

    def subject_account(task: dict[str, str]) -> str:
        return account(int(task["hs_task_subject"].rsplit(" ", 1)[1]))

    columns = [
        per_tier(got_webhook),
        per_tier(sdr_accounts),
        per_tier(pinged),
        per_tier([subject_account(t) for t in owner_tasks]),
    ]
    counts = {t: tuple(c[t] for c in columns) for t in TIERS}
    print(f"\nsynthetic day: {ACCOUNTS} accounts, {int(dt.timedelta(days=1) / STEP)} evaluations every 15 min")
    print(
        f"  {'tier':<9} {'accounts':>8} {'webhooks':>8} {'sdr tasks':>9} {'slack':>5} {'crm tasks':>9}"
        f" {'SLA h':>5} {'met':>4} {'p50 h':>6} {'p90 h':>6} {'max h':>6}"
    )
    for tier in TIERS:
        hooks, sdr, pings, owner = counts[tier]
        r = report[tier]
        print(
            f"  {tier:<9} {len(want[tier]):>8} {hooks:>8} {sdr:>9} {pings:>5} {owner:>9}"
            f" {r['sla_hours']:>5g} {r['met']:>4} {r['p50_hours']:>6} {r['p90_hours']:>6} {r['max_hours']:>6}"
        )

    n = len(want["monitor"])
    assert counts == {"monitor": (n, 0, 0, 0), "nurture": (0, n, 0, 0), "escalate": (0, 0, n, n)}
    assert sorted(got_webhook) == sorted(want["monitor"])  # each once, signed (the receiver verifies)
    assert all(f["action"] == "inapp_message" and f["tier"] == "monitor" for f in receiver.records.values())
    assert {op for _, op in receiver.operations} == {"insert"}  # an action is sent once, never updated
    assert {f["message"] for f in receiver.records.values() if f["account_id"] == account(0)} == {
        "Account 0: your team is growing fast"
    }
    assert sdr_accounts == sorted(want["nurture"])  # one SDR task per nurture account, assigned to the queue
    assert all(t["hs_task_subject"].startswith("SDR outreach (nurture)") for t in sdr_tasks)
    assert sorted(pinged) == sorted(want["escalate"]) and len(owner_tasks) == len(want["escalate"])
    for tier in TIERS:
        assert report[tier]["alerts"] == report[tier]["met"] == len(want[tier]), report
    outage = (OUTAGE[1] - appears(6) + LAG).total_seconds() / 3600  # account 6 signalled in the outage
    assert report["monitor"]["max_hours"] == round(outage, 3) < 1.0 and report["monitor"]["p50_hours"] == 0.117
    assert report["nurture"]["sla_hours"] == 48 and report["escalate"]["sla_hours"] == 24
    late = [a for a in eng.open_alerts(end) if a["tier"] == "monitor" and a["time_to_action_hours"] > 0.2]
    assert late == [] or all(a["sla"] == "met" for a in late)
