"""Alerts and digests by email through a real SMTP server on loopback (aiosmtpd), beside or instead of Slack."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from syncer_connectors.email.emulator import SmtpEmulator, SmtpFault
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.errors import FatalError
from tests.alerts.support import OWNERS, T0, Clock, all_keys, row, sqlite_url
from tests.tiers.support import tier_engine

NINE_NY = T0 + dt.timedelta(hours=14)  # 09:00 America/New_York on 2026-03-02
EMAIL_OWNER, BOTH_OWNER, GONE = "ae1@example.com", "ae2@example.com", "gone@example.com"
PREFS = {EMAIL_OWNER: {"prefer": "email"}, GONE: {"prefer": "email"}}


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpEmulator]:
    with SmtpEmulator(refused={GONE}) as emu:
        yield emu


@pytest.fixture
def smtp(smtp_server: SmtpEmulator) -> SmtpEmulator:
    smtp_server.reset()
    return smtp_server


def make(tmp: Path, slack: SlackEmulator, fake: Clock, smtp: dict[str, Any], **sections: Any) -> Any:
    routing = {"rules": [{"name": "both", "trigger": "rapid_seat_growth", "channel": "both"}]}
    return tier_engine(
        sqlite_url(tmp),
        slack.api_url,
        slack.token,
        fake,
        smtp=smtp,
        alerts={"recipients": PREFS, **sections.pop("alerts", {})},
        routing=routing,
        **sections,
    )


def test_alert_and_digest_emails_arrive_once_each_with_the_slack_content(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, smtp: SmtpEmulator
) -> None:
    eng = make(tmp_path, slack, fake, {"port": smtp.port})
    rows = [
        row(0, owner_email=EMAIL_OWNER),  # high -> an alert email instead of a Slack DM
        row(1, trigger="storage_limit_approaching", owner_email=EMAIL_OWNER),  # medium -> digest email
        row(2, trigger="rapid_seat_growth", owner_email=BOTH_OWNER),  # rule channel = both: DM and email
    ]
    first = eng.evaluate_and_deliver(T0, rows=rows)
    assert first.as_dict()["emails"] == 2 and first.as_dict()["pings"] == 1
    for hour in (1, 2):
        assert eng.evaluate_and_deliver(T0 + dt.timedelta(hours=hour), rows=rows).as_dict()["emails"] == 0
    digest = eng.send_due_digests(NINE_NY)
    assert digest["emails"] == 1 and digest["email_built"] == [
        {"address": EMAIL_OWNER, "date": "2026-03-02", "alerts": 1}
    ]
    assert eng.send_due_digests(NINE_NY + dt.timedelta(hours=5))["emails"] == 0
    alert_keys = [a["id"] for a in eng.open_alerts(NINE_NY) if a["priority"] == "high"]
    digest_key = f"email-digest:{EMAIL_OWNER}:2026-03-02"
    assert sorted(m.key for m in smtp.messages) == sorted([*alert_keys, digest_key])
    assert all(smtp.copies(k) == 1 for k in [*alert_keys, digest_key])
    assert all_keys(slack) == [k for k in alert_keys if "rapid_seat_growth" in k]  # only the "both" alert in Slack

    mail = next(m for m in smtp.messages if m.key.startswith("acct-00000"))
    assert mail.rcpt_tos == [EMAIL_OWNER]
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "Account 0" in str(mail.message["Subject"]) and "85% (threshold 80%)" in text
    assert "Lead with the value delivered" in text  # the playbook line, same as Slack's
    assert "https://crm.example.com/accounts/acct-00000" in text
    digest_mail = next(m for m in smtp.messages if m.key == digest_key)
    assert "Account 1" in str(digest_mail.message.get_body(preferencelist=("plain",)).get_content())

    listed = {a["account_id"]: a for a in eng.open_alerts(NINE_NY)}
    assert listed["acct-00000"]["email"] == "delivered" and listed["acct-00000"]["sla"] == "met"
    assert listed["acct-00002"]["state"] == "ping delivered, email delivered"
    assert listed["acct-00001"]["state"].startswith(f"digest: email {EMAIL_OWNER}:2026-03-02")


def test_starttls_and_auth_with_a_private_ca(tmp_path: Path, slack: SlackEmulator, fake: Clock) -> None:
    with SmtpEmulator(security="starttls", users={"syncer": "s3cret"}, ca=trustme.CA()) as emu:
        smtp = {"port": emu.port, "security": "starttls", "ca_bundle": emu.ca_path}
        eng = make(tmp_path, slack, fake, {**smtp, "username": "syncer", "password": "s3cret"})
        report = eng.evaluate_and_deliver(T0, rows=[row(0, owner_email=EMAIL_OWNER)])
        assert report.as_dict()["emails"] == 1
        [mail] = emu.messages
        assert mail.tls and mail.user == "syncer" and emu.stats.auth_failures == 0
        (tmp_path / "no-auth").mkdir()
        wrong = make(tmp_path / "no-auth", slack, fake, smtp)  # no credentials
        with pytest.raises(FatalError):  # the server requires AUTH (530 to MAIL FROM): stop, do not loop
            wrong.evaluate_and_deliver(T0, rows=[row(1, owner_email=EMAIL_OWNER)])
        assert len(emu.messages) == 1


def test_refused_recipient_is_recorded_with_the_reply_and_not_retried(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, smtp: SmtpEmulator
) -> None:
    eng = make(tmp_path, slack, fake, {"port": smtp.port})
    rows = [row(0, owner_email=GONE), row(1, trigger="storage_limit_approaching", owner_email=GONE)]
    first = eng.evaluate_and_deliver(T0, rows=rows)
    assert first.as_dict()["email_rejected"] == 1
    for hour in range(1, 6):
        eng.evaluate_and_deliver(T0 + dt.timedelta(hours=hour), rows=rows)
    assert eng.send_due_digests(NINE_NY)["email_rejected"] == 1
    for hour in range(1, 4):
        eng.evaluate_and_deliver(NINE_NY + dt.timedelta(hours=hour), rows=rows)
        eng.send_due_digests(NINE_NY + dt.timedelta(hours=hour))
    assert smtp.rcpt_attempts(GONE) == 2 and smtp.messages == []  # the alert email once, the digest once
    [alert] = [a for a in eng.open_alerts(NINE_NY) if a["priority"] == "high"]
    assert alert["email_error"].startswith("550 5.1.1 <gone@example.com>: Recipient address rejected")
    assert alert["email"].startswith("rejected: 550") and alert["sla"] == "failed"
    print(f"\nrefused recipient, as open_alerts shows it: {alert['email_error']}")


def test_temporary_failures_give_up_after_max_attempts(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, smtp: SmtpEmulator
) -> None:
    eng = make(tmp_path, slack, fake, {"port": smtp.port}, alerts={"email_delivery": {"max_attempts": 3}})
    smtp.faults.add(SmtpFault("reply", stage="rcpt", code=451, times=1000))
    rows = [row(0, owner_email=EMAIL_OWNER)]
    for hour in range(6):
        eng.evaluate_and_deliver(T0 + dt.timedelta(hours=hour), rows=rows)
    attempts = smtp.rcpt_attempts(EMAIL_OWNER)
    eng.evaluate_and_deliver(T0 + dt.timedelta(hours=7), rows=rows)
    assert smtp.rcpt_attempts(EMAIL_OWNER) == attempts and smtp.messages == []
    [alert] = eng.open_alerts(T0 + dt.timedelta(hours=7))
    assert alert["email"].startswith("gave_up") and "451" in alert["email_error"]


def test_owner_not_in_slack_gets_email_and_no_email_connector_keeps_slack(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, smtp: SmtpEmulator
) -> None:
    eng = make(tmp_path, slack, fake, {"port": smtp.port})
    eng.evaluate_and_deliver(T0, rows=[row(0, owner_email="new-hire@example.com")])
    [alert] = eng.open_alerts(T0)
    assert alert["fallback_reason"] == "owner_not_in_slack: new-hire@example.com -> email"
    assert [m.rcpt_tos for m in smtp.messages] == [["new-hire@example.com"]] and all_keys(slack) == []
    assert OWNERS  # Slack owners stay on Slack by default


# (UTC hour the alert opens on Monday, local date of the digest email that lists it): adv6 finding 2, email
EMAIL_DIGEST_DAY = [(18, "2026-03-03"), (13, "2026-03-02")]  # 13:00 New York -> Tuesday's; 08:00 -> Monday's


@pytest.mark.parametrize(("hour", "date"), EMAIL_DIGEST_DAY)
def test_the_digest_email_goes_at_the_digest_time_only(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, smtp: SmtpEmulator, hour: int, date: str
) -> None:
    eng = make(tmp_path, slack, fake, {"port": smtp.port})
    opened = T0 + dt.timedelta(hours=hour)
    eng.evaluate_and_deliver(opened, rows=[row(1, trigger="storage_limit_approaching", owner_email=EMAIL_OWNER)])
    sent = {}
    for half_hours in range(2 * 40):  # Monday 00:00 UTC to Tuesday 16:00 UTC, every half hour
        now = T0 + dt.timedelta(minutes=30 * half_hours)
        if now >= opened and (built := eng.send_due_digests(now)["email_built"]):
            sent[now] = built
    assert list(sent) == [NINE_NY + dt.timedelta(days=1 if date.endswith("03") else 0)]  # 09:00 New York only
    assert [b["date"] for b in next(iter(sent.values()))] == [date]
    assert [m.key for m in smtp.messages] == [f"email-digest:{EMAIL_OWNER}:{date}"]


# (--recipient, the digests built now: email addresses and Slack ids): adv6 finding 8 on the email channel
EMAIL_OR_SLACK = [
    (EMAIL_OWNER, [EMAIL_OWNER]),  # the email digest only
    (OWNERS["ae3@example.com"], [OWNERS["ae3@example.com"]]),  # the Slack digest only
    (None, [EMAIL_OWNER, OWNERS["ae3@example.com"]]),
]


@pytest.mark.parametrize(("who", "built"), EMAIL_OR_SLACK)
def test_digest_recipient_picks_one_channel_too(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, smtp: SmtpEmulator, who: str | None, built: list[str]
) -> None:
    eng = make(tmp_path, slack, fake, {"port": smtp.port})
    medium = "storage_limit_approaching"
    rows = [row(1, trigger=medium, owner_email=EMAIL_OWNER), row(3, trigger=medium, owner_email="ae3@example.com")]
    eng.evaluate_and_deliver(T0, rows=rows)
    sent = eng.send_due_digests(NINE_NY, recipient=who)
    got = [b["address"] for b in sent["email_built"]] + [b["recipient"] for b in sent["built"]]
    assert got == built
    assert [m.key for m in smtp.messages] == (
        [f"email-digest:{EMAIL_OWNER}:2026-03-02"] if EMAIL_OWNER in built else []
    )
