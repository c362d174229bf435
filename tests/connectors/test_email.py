"""EmailConnector against a real SMTP server on loopback (aiosmtpd), through the stdlib smtplib."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from pydantic import SecretStr, ValidationError
from syncer_connectors.email.connector import EmailConnector, EmailSettings, message_id_for
from syncer_connectors.email.emulator import SmtpEmulator, SmtpFault, maildir_copies
from syncer_connectors.email.render import render_alert_email, render_digest_email

from syncer.connector import Destination, Record
from syncer.errors import FatalError
from syncer.ratelimit import RateLimiter
from syncer.retry import RetryPolicy, no_wait
from tests.connectors.test_slack_blocks import alerts

REFUSED = "nobody@example.com"


def settings(emu: SmtpEmulator, **kw: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "host": emu.host,
        "port": emu.port,
        "security": emu.security,
        "from_address": "Syncer <alerts@example.com>",
        "ca_bundle": emu.ca_path,
        "rate": 1000,
        "timeout": 5,
        "ehlo_name": "syncer.test",  # no reverse DNS lookup of this host
    }
    if emu.users:
        values.update(username="syncer", password=SecretStr("s3cret"))
    return EmailSettings(**{**values, **kw})


def connector(emu: SmtpEmulator, retry: RetryPolicy | None = None, **kw: Any) -> EmailConnector:
    return EmailConnector(settings(emu, **kw), retry=retry or no_wait())


def email(key: str, to: str | list[str] = "anna@example.com", **fields: Any) -> Record:
    body = {"to": to, "subject": f"Alert {key}", "text": f"text {key}", "html": f"<p>html {key}</p>", **fields}
    return Record(key, "upsert", body, f"fp-{key}", f"fp-{key}")  # the Message-ID's identity: its idempotency key


@pytest.fixture(scope="module")
def plain_server() -> Iterator[SmtpEmulator]:
    with SmtpEmulator(refused={REFUSED}) as emu:
        yield emu


@pytest.fixture
def emu(plain_server: SmtpEmulator) -> SmtpEmulator:
    plain_server.reset()
    return plain_server


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


# -- delivery ----------------------------------------------------------------------------------


def test_an_alert_and_a_digest_arrive_once_each_over_one_connection(emu: SmtpEmulator) -> None:
    alert = {**alerts(1)[0], "owner_email": "anna@example.com"}
    subject, text, html = render_alert_email(alert)
    d_subject, d_text, d_html = render_digest_email("bob@example.com", alerts(40))
    records = [
        email("acct-0:seat_limit_approaching", subject=subject, text=text, html=html),
        email(
            "digest:bob@example.com:2026-11-23:1",
            to=["Bob <bob@example.com>"],
            subject=d_subject,
            text=d_text,
            html=d_html,
        ),
    ]
    results = connector(emu).send(records)
    assert [r.status for r in results] == ["ok", "ok"]
    assert [r.dest_id for r in results] == [message_id_for(r.key, r.idempotency_key, "example.com") for r in records]
    assert len(emu.stats.connections) == 1  # one SMTP connection for the batch
    first, second = emu.messages
    assert first.rcpt_tos == ["anna@example.com"] and second.rcpt_tos == ["bob@example.com"]
    assert first.mail_from == "alerts@example.com" and second.message["To"] == "Bob <bob@example.com>"
    assert first.key == records[0].key and first.message["Subject"] == subject
    assert first.message["Auto-Submitted"] == "auto-generated"
    assert first.message.get_content_type() == "multipart/alternative"
    plain = first.message.get_body(("plain",))
    rich = first.message.get_body(("html",))
    assert plain is not None and plain.get_content().replace("\r\n", "\n") == text + "\n"
    assert rich is not None and rich.get_content().replace("\r\n", "\n") == html + "\n"
    body = second.message.get_body(("html",))
    assert body is not None and body.get_content().count("<li>") == 40
    assert emu.by_message_id() == {r.dest_id: 1 for r in results}


def test_a_batch_sent_again_in_the_same_process_is_not_sent_twice(emu: SmtpEmulator) -> None:
    conn = connector(emu)
    assert conn.send([email("k1")])[0].status == "ok"
    assert conn.send([email("k1"), email("k2")])[0].status == "ok"
    assert emu.copies("k1") == 1 and emu.copies("k2") == 1


def test_lost_reply_after_data_resends_with_the_same_message_id(emu: SmtpEmulator) -> None:
    """The known at-least-once edge: the server stored the message, the 250 never arrived."""
    emu.faults.add(SmtpFault("drop_after_data"))
    conn = connector(emu)
    results = conn.send([email("k1"), email("k2")])
    assert [r.status for r in results] == ["ok", "ok"]
    assert emu.copies("k1") == 2 and emu.copies("k2") == 1
    assert emu.by_message_id()[message_id_for("k1", "fp-k1", "example.com")] == 2  # two copies, one Message-ID
    assert conn.stats.retries == 1


def test_temporary_failure_then_success_delivers_once(emu: SmtpEmulator) -> None:
    emu.faults.add(SmtpFault("reply", stage="data", code=451))
    conn = connector(emu)
    [result] = conn.send([email("k1")])
    assert result.status == "ok" and emu.copies("k1") == 1 and conn.stats.retries == 1


def test_temporary_failures_that_persist_leave_the_record_failed(emu: SmtpEmulator) -> None:
    emu.faults.add(SmtpFault("reply", stage="mail", code=451, times=3))
    [result] = connector(emu, retry=no_wait(max_attempts=3)).send([email("k1")])
    assert result.status == "failed" and "451" in (result.reason or "")
    assert emu.copies("k1") == 0


def test_421_mid_batch_keeps_what_was_delivered_and_sends_the_rest_once(emu: SmtpEmulator) -> None:
    emu.faults.add(SmtpFault("close", stage="rcpt", after=1))  # the second message's RCPT: 421, hang up
    conn = connector(emu)
    results = conn.send([email("k1"), email("k2"), email("k3")])
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    assert [emu.copies(k) for k in ("k1", "k2", "k3")] == [1, 1, 1]
    assert len(emu.stats.connections) == 2 and conn.stats.retries == 1


def test_refused_recipient_is_rejected_with_the_server_reply_and_not_retried(emu: SmtpEmulator) -> None:
    results = connector(emu).send([email("k1", to=REFUSED), email("k2")])
    assert results[0].status == "rejected"
    assert (results[0].reason or "").startswith("550 5.1.1 <nobody@example.com>: Recipient address rejected")
    assert results[1].status == "ok"
    assert emu.rcpt_attempts(REFUSED) == 1 and emu.copies("k1") == 0


def test_one_refused_recipient_of_two_still_delivers_to_the_other(emu: SmtpEmulator) -> None:
    [result] = connector(emu).send([email("k1", to=["anna@example.com", REFUSED])])
    assert result.status == "ok" and "550 5.1.1" in (result.reason or "")
    [received] = emu.messages
    assert received.rcpt_tos == ["anna@example.com"]


def test_temporary_refusal_of_one_recipient_retries_the_whole_message(emu: SmtpEmulator) -> None:
    emu.faults.add(SmtpFault("reply", stage="rcpt", code=452, text="4.2.2 Mailbox full"))
    conn = connector(emu)
    [result] = conn.send([email("k1", to=["anna@example.com", "bob@example.com"])])
    assert result.status == "ok" and conn.stats.retries == 1
    [received] = emu.messages  # nobody got it twice
    assert received.rcpt_tos == ["anna@example.com", "bob@example.com"]


def test_bad_records_are_rejected_without_talking_to_the_server(emu: SmtpEmulator) -> None:
    bad = [
        email("k1", to="not an address"),
        email("k2", to=[]),
        email("k3", text="", html=""),
        Record("k4", "delete", {}, "fp", "k4"),
        email("k5\r\nBcc: everyone@example.com"),
    ]
    results = connector(emu).send(bad)
    assert [r.status for r in results] == ["rejected"] * 5
    assert "invalid header" in (results[4].reason or "")
    assert emu.stats.mail == 0 and not emu.stats.connections


def test_subject_newlines_cannot_inject_headers(emu: SmtpEmulator) -> None:
    connector(emu).send([email("k1", subject="Hi\r\nBcc: everyone@example.com")])
    [received] = emu.messages
    assert received.message["Bcc"] is None and received.message["Subject"] == "Hi Bcc: everyone@example.com"


def test_rate_is_respected_before_sending(emu: SmtpEmulator, clock: Any) -> None:
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    conn = EmailConnector(settings(emu, rate=0.5), retry=no_wait(), limiter=limiter)
    conn.send([email(f"k{i}") for i in range(3)])
    assert sum(clock.slept) == pytest.approx(4.0) and len(emu.messages) == 3


def test_html_only_and_text_only_messages(emu: SmtpEmulator) -> None:
    connector(emu).send([email("k1", text=""), email("k2", html="")])
    html_only, text_only = emu.messages
    assert html_only.message.get_content_type() == "text/html"
    assert text_only.message.get_content_type() == "text/plain"


# -- TLS and AUTH ------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_auth(security: str, ca: trustme.CA) -> None:
    with SmtpEmulator(security=security, users={"syncer": "s3cret"}, ca=ca) as emu:  # type: ignore[arg-type]
        conn = connector(emu)
        assert conn.check() == []
        [result] = conn.send([email("k1")])
        assert result.status == "ok"
        [received] = emu.messages
        assert received.tls and received.user == "syncer"


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_wrong_password_is_fatal(security: str, ca: trustme.CA) -> None:
    with SmtpEmulator(security=security, users={"syncer": "s3cret"}, ca=ca) as emu:  # type: ignore[arg-type]
        conn = connector(emu, password=SecretStr("wrong"))
        with pytest.raises(FatalError, match="535"):
            conn.send([email("k1")])
        assert emu.stats.auth_failures == 2  # smtplib tried PLAIN, then LOGIN, once: not retried
        [problem] = conn.check()
        assert "535" in problem and "wrong" not in problem


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_untrusted_certificate_is_fatal(security: str, ca: trustme.CA, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with SmtpEmulator(security=security, users={"syncer": "s3cret"}, ca=ca) as emu:  # type: ignore[arg-type]
        conn = connector(emu, ca_bundle=other)
        with pytest.raises(FatalError, match="CERTIFICATE_VERIFY_FAILED"):
            conn.send([email("k1")])
        assert emu.messages == []
        [problem] = conn.check()
        assert "TLS handshake" in problem


def test_starttls_required_but_not_offered_is_fatal(emu: SmtpEmulator) -> None:
    with pytest.raises(FatalError, match="STARTTLS"):
        connector(emu, security="starttls").send([email("k1")])
    assert emu.messages == []


def test_implicit_tls_against_a_plain_server_is_fatal(emu: SmtpEmulator, ca: trustme.CA, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with pytest.raises(FatalError, match="TLS handshake"):
        connector(emu, security="tls", ca_bundle=bundle).send([email("k1")])


# -- check() and settings ----------------------------------------------------------------------


def test_check_reports_every_problem_without_sending(ca: trustme.CA) -> None:
    with SmtpEmulator(security="starttls", users={"syncer": "s3cret"}, ca=ca) as emu:
        destination = Destination("message", "key", "insert", {"to": "owner", "body": "text"})
        conn = EmailConnector(settings(emu, username=None, password=None), destination)
        problems = conn.check()
        assert problems[0].startswith("mapped field 'body'")
        assert "MAIL FROM:<alerts@example.com> refused: 530" in problems[1]
        assert emu.messages == []
    closed = EmailConnector(EmailSettings(host="127.0.0.1", port=emu.port, security="none", from_address="a@b.co"))
    [problem] = closed.check()  # the server is gone now
    assert (
        problem
        == f"connect to the SMTP server: destination not reachable at smtp://127.0.0.1:{emu.port} (connection refused)"
    )


def test_unreachable_server_is_retryable_then_failed() -> None:
    with SmtpEmulator() as emu:
        port = emu.port
    conn = EmailConnector(settings(emu, port=port), retry=no_wait(max_attempts=2))
    [result] = conn.send([email("k1")])
    assert result.status == "failed" and f"not reachable at smtp://127.0.0.1:{port} (connection refused)" in (
        result.reason or ""
    )


def test_settings_refuse_clear_text_passwords_and_hide_them() -> None:
    with pytest.raises(ValidationError) as info:
        EmailSettings(host="h", security="none", username="u", password=SecretStr("p4ss"), from_address="a@b.co")
    assert "clear text" in str(info.value) and "p4ss" not in str(info.value)
    with pytest.raises(ValidationError, match="username and password go together"):
        EmailSettings(host="h", username="u", from_address="a@b.co")
    with pytest.raises(ValidationError, match="email address"):
        EmailSettings(host="h", from_address="alerts")
    ok = EmailSettings(host="h", username="u", password=SecretStr("p4ss"), from_address="Syncer <a@b.co>")
    assert ok.effective_port == 587 and ok.id_domain == "b.co" and "p4ss" not in repr(ok)
    assert (
        EmailSettings(host="h", security="tls", from_address="a@b.co", message_id_domain="x.io").effective_port == 465
    )


def test_message_id_is_stable_per_message() -> None:
    assert message_id_for("k1", "fp", "syncer") == message_id_for("k1", "fp", "syncer")
    assert message_id_for("k1", "fp", "syncer") != message_id_for("k2", "fp", "syncer")
    # a repeated key with other content (another state's digest of the same day) is another message
    assert message_id_for("k1", "fp", "syncer") != message_id_for("k1", "other", "syncer")
    assert len(message_id_for("k1", "fp", "syncer")) == len("<@syncer>") + 32


# -- standalone server for crash tests -----------------------------------------------------------


def test_standalone_server_keeps_what_it_accepted_after_it_is_killed(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    cmd = [sys.executable, "-m", "syncer_connectors.email.emulator", "--port", "0", "--maildir", str(maildir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[0] == "READY"
        emu = SmtpEmulator()
        emu.port = int(ready[1])
        connector(emu).send([email("k1"), email("k2")])
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert maildir_copies(maildir) == {"k1": 1, "k2": 1}
