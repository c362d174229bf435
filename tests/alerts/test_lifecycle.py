"""Alert lifecycle, routing fallbacks, listing, digest size, DST, config errors: in-process, emulators on loopback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts import next_send_at
from syncer.alerts.model import load_alert_settings
from syncer.errors import ConfigError
from tests.alerts.support import FALLBACK, OWNERS, T0, Clock, all_keys, engine, keys_in, row, sqlite_url

H = dt.timedelta(hours=1)


def make(tmp_path: Path, slack: SlackEmulator, fake: Clock, crm: HubSpotEmulator | None = None, **kw: Any) -> Any:
    return engine(sqlite_url(tmp_path), slack.api_url, slack.token, fake, crm.base_url if crm else None, **kw)


def test_appear_stay_disappear_and_cooldown(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, crm: HubSpotEmulator
) -> None:
    eng = make(tmp_path, slack, fake, crm)
    dm = slack.dm_channel(OWNERS["ae2@example.com"])
    first = eng.evaluate_and_deliver(T0, rows=[row(1)])
    assert (first.evaluation.opened, first.pings.sent.get("ping"), first.tasks.sent.get("task")) == (1, 1, 1)
    assert len(keys_in(slack, dm)) == 1
    for i in range(1, 4):  # stays: still firing, nothing repeats
        report = eng.evaluate_and_deliver(T0 + i * H, rows=[row(1, value=0.9)])
        assert report.evaluation.still_firing == 1 and report.pings.sent == {}
    assert eng.evaluate_and_deliver(T0 + 4 * H, rows=[]).evaluation.cleared == 0  # one quiet evaluation
    assert eng.evaluate_and_deliver(T0 + 5 * H, rows=[]).evaluation.cleared == 1  # the second clears
    again = eng.evaluate_and_deliver(T0 + 6 * H, rows=[row(1)])  # re-crosses inside the 30-day cooldown
    assert again.evaluation.opened == 0 and again.evaluation.suppressed == {"cooldown": 1}
    assert len(keys_in(slack, dm)) == 1 and len(crm.store.live("tasks")) == 1


def test_hysteresis_margin_clears_only_well_below_threshold(tmp_path: Path, slack: SlackEmulator, fake: Clock) -> None:
    eng = make(tmp_path, slack, fake, alerts={"hysteresis_margin": 0.05})
    eng.evaluate_and_deliver(T0, rows=[row(1, value=0.81)])
    held = [eng.evaluate_and_deliver(T0 + i * H, rows=[row(1, value=v)]) for i, v in enumerate([0.79, 0.78, 0.8], 1)]
    assert [r.evaluation.held for r in held] == [1, 1, 0] and eng.open_alerts(T0)[0]["id"]
    dropped = eng.evaluate_and_deliver(T0 + 5 * H, rows=[row(1, value=0.75)])  # < 0.8 * 0.95
    assert dropped.evaluation.cleared == 1 and eng.open_alerts(T0 + 5 * H) == []


def test_fallbacks_are_visible_and_nothing_is_lost(tmp_path: Path, slack: SlackEmulator, fake: Clock) -> None:
    rules = [
        {"name": "gone", "trigger": "api_limit_approaching", "to": "C0DELETED", "delivery": "ping"},
        {"name": "outside", "segment": "enterprise", "to": "C0OUTSIDE"},
        {"name": "archived", "tier": "archived-tier", "to": "C0OLD"},
    ]
    eng = make(tmp_path, slack, fake, routing={"rules": rules})
    rows = [
        row(1, owner_email="stranger@example.com"),
        row(2, owner_email=None),
        row(3, trigger="api_limit_approaching"),
        row(4, segment="enterprise"),
        row(5, tier="archived-tier"),
        row(6),
    ]
    report = eng.evaluate_and_deliver(T0, rows=rows)
    assert report.pings.sent == {"ping": 6} and report.pings.rerouted == 3 and report.pings.rejected == 0
    listing = {a["account_id"]: a for a in eng.open_alerts(T0 + H)}
    reasons = {k: a["fallback_reason"] for k, a in listing.items()}
    print("\nfallback reasons:", reasons)
    assert reasons["acct-00001"] == "owner_not_in_slack: stranger@example.com"
    assert reasons["acct-00002"] == "owner_unknown: no owner_email"
    assert reasons["acct-00003"].startswith("undeliverable:channel_not_found") and "C0DELETED" in reasons["acct-00003"]
    assert reasons["acct-00004"].startswith("undeliverable:not_in_channel")
    assert reasons["acct-00005"].startswith("undeliverable:is_archived")
    assert reasons["acct-00006"] is None and listing["acct-00006"]["route"].startswith("ping -> U0AE2")
    assert all(a["state"] == "ping delivered" and a["age_hours"] == 1.0 for a in listing.values())
    assert len(keys_in(slack, FALLBACK)) == 5
    assert sorted(all_keys(slack)) == sorted(a["id"] for a in listing.values())  # each exactly once


def test_digest_of_3000_alerts_for_one_owner(tmp_path: Path, slack: SlackEmulator, fake: Clock) -> None:
    eng = make(tmp_path, slack, fake)
    owner = "ae1@example.com"
    rows = [
        row(i, trigger="storage_limit_approaching", value=0.75 + (i % 25) / 100, owner_email=owner) for i in range(3000)
    ]
    assert eng.evaluate_and_deliver(T0, rows=rows).evaluation.opened == 3000
    preview = eng.preview_digest(OWNERS[owner])[OWNERS[owner]]
    assert eng.send_due_digests(T0 + 13 * H)["messages"] == 0  # 08:00 in New York: not yet
    sent = eng.send_due_digests(T0 + 14 * H)  # 09:00 EST
    messages = slack.messages(slack.dm_channel(OWNERS[owner]))
    text = "\n".join(b["text"]["text"] for m in messages for b in m["blocks"] if b["type"] == "section")
    listed = [line for line in text.splitlines() if line.startswith("• ")]
    names = sorted(line.split("*")[1] for line in listed)
    print(f"\n3,000-alert digest: {len(messages)} messages, {len(listed)} lines, 429s={slack.ratelimited}")
    assert sent["messages"] == len(messages) == len(preview) and sent["rejected"] == sent["failed"] == 0
    assert names == sorted(f"Account {i}" for i in range(3000))  # every alert once
    assert eng.send_due_digests(T0 + 20 * H)["built"] == []  # one digest per recipient per day
    assert len(slack.messages(slack.dm_channel(OWNERS[owner]))) == len(messages)


def test_next_digest_instant_is_dst_correct() -> None:
    zone, nine = ZoneInfo("America/New_York"), dt.time(9, 0)
    before = next_send_at(dt.datetime(2026, 3, 7, 15, 0, tzinfo=dt.UTC), nine, zone)
    after = next_send_at(dt.datetime(2026, 3, 8, 15, 0, tzinfo=dt.UTC), nine, zone)
    assert before == dt.datetime(2026, 3, 8, 13, 0, tzinfo=dt.UTC)  # Sunday 9:00 EDT (DST began 02:00)
    assert after == dt.datetime(2026, 3, 9, 13, 0, tzinfo=dt.UTC)
    assert next_send_at(dt.datetime(2026, 3, 6, 13, 0, tzinfo=dt.UTC), nine, zone).hour == 14  # 9:00 EST
    berlin = next_send_at(dt.datetime(2026, 10, 24, 12, 0, tzinfo=dt.UTC), nine, ZoneInfo("Europe/Berlin"))
    assert berlin == dt.datetime(2026, 10, 25, 8, 0, tzinfo=dt.UTC)  # CET again after the fall-back night


def test_config_problems_are_all_reported_with_keys() -> None:
    raw = {
        "alerts": {"cooldown_days": -1, "escalation_channel": "#sales", "bogus": 1},
        "routing": {"rules": [{"to": "#general"}]},
        "digest": {"timezone": "Mars/Olympus"},
    }
    with pytest.raises(ConfigError) as caught:
        load_alert_settings(raw)
    keys = sorted(i.key for i in caught.value.issues)
    assert keys == [
        "alerts.bogus",
        "alerts.cooldown_days",
        "alerts.escalation_channel",
        "digest.timezone",
        "routing.rules.0.to",
    ]
