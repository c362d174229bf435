"""Email destination: one Record is one message, sent over SMTP with the stdlib `smtplib`.

SMTP has no lookup and no idempotency key, so the connector's part of exactly-once is a stable
`Message-ID` derived from the record's key and idempotency key (plus an `X-Syncer-Key` header): a key
can repeat across states, projects and syncs, and receivers that drop a second message with a seen
Message-ID must not drop a different message under a repeated key. The idempotency key names the
project, the sync (or the alert outbox row), the key and the content (syncer.runner.idempotency_key,
syncer.alerts.outbox.message_record), so two projects or syncs with the same mapping send two messages.
A re-send after an ambiguous failure (connection lost after DATA was accepted, or a crash before the
state write) is the *same* message to the receiving systems, which thread it together and often drop it as a
duplicate. It can still arrive twice; README.md says exactly when.

Replies and exceptions become syncer errors through one table (`error_mapping.py`): 4xx and lost
connections are retryable, 5xx to RCPT/DATA rejects that message, 5xx before it (greeting, EHLO,
STARTTLS, AUTH, MAIL FROM) and TLS failures stop the sync.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import suppress
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, getaddresses, parseaddr
from functools import partial
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from syncer.connector import Connector, ConnectorSettings, Destination, Record, Result, SettingProblem, check_problem
from syncer.errors import FatalError, RejectedError, RetryableError, SyncerError
from syncer.ratelimit import RateLimit, RateLimiter
from syncer.retry import RetryPolicy
from syncer.values import FieldType

from .error_mapping import Phase, reply_error, reply_text, transport_error

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}
KEY_HEADER = "X-Syncer-Key"
FIELDS = frozenset({"to", "subject", "text", "html"})
TEXT_FIELDS = {
    # each goes through the conversion table (syncer.values): exact numbers, true/false, NaN refused
    "subject": FieldType("string", "email subject"),
    "text": FieldType("string", "email text part"),
    # the HTML part is markup: mapped column values and template substitutions are HTML-escaped
    "html": FieldType("string", "email HTML part", markup="html"),
}
_DELIVERED_CACHE = 20_000
Outgoing = tuple[Record, list[str], bytes]  # the record, its envelope recipients, the message bytes


def message_id_for(key: str, identity: str, domain: str) -> str:
    """The Message-ID of the email for a record's key and idempotency key (`identity`): the same message (a
    re-send of one frozen outbox row, of one version of one sync record) always makes the same ID, a
    different message under a repeated key (another state's digest of the same day, another project's or
    sync's row of the same key) a different one. RFC 5322 3.6.4: a Message-ID names exactly one version
    of one message."""
    digest = hashlib.sha256(f"{key}\n{identity}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def _addr(value: str) -> str | None:
    address = parseaddr(value)[1]
    local, at, domain = address.rpartition("@")
    return address if at and local and ("." in domain or domain == "localhost") else None


class EmailSettings(ConnectorSettings):
    """Config keys of the email connector (README.md documents each)."""

    model_config = ConfigDict(hide_input_in_errors=True)

    host: str
    """SMTP server."""
    port: int | None = Field(None, ge=1, le=65535, description="default 587 / 465 / 25 by security")
    security: Security = "starttls"
    """`starttls` (587), `tls` (465) or `none` (25; refused with a password)."""
    username: str | None = None
    """SMTP login; goes with `password`."""
    password: SecretStr | None = None
    """SMTP password; goes with `username`."""
    from_address: str
    """Sender, e.g. `Syncer <alerts@example.com>`."""
    reply_to: str | None = None
    """Reply-To address."""
    ca_bundle: Path | None = None
    """PEM bundle to trust for the server's certificate (a private CA, the emulator)."""
    timeout: float = Field(30.0, gt=0)
    """Seconds per SMTP conversation step."""
    rate: float = Field(0.5, gt=0, description="messages per second")
    message_id_domain: str | None = Field(None, pattern=r"^[A-Za-z0-9.-]+$")
    """Domain of the deterministic Message-ID. Default: the sender's domain."""
    ehlo_name: str | None = None
    """Name sent in EHLO. Default: this host's name."""
    batch_size: int | None = Field(50, ge=1, le=100)
    """Messages per SMTP connection (1-100)."""

    @field_validator("from_address", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and _addr(value) is None:
            raise ValueError("must be an email address, e.g. 'Syncer <alerts@example.com>'")
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _ca_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"CA bundle {value} does not exist")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> EmailSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.password is not None and self.security == "none":
            raise ValueError("security = 'none' would send the password in clear text; use starttls or tls")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    @property
    def sender(self) -> str:
        return parseaddr(self.from_address)[1]

    @property
    def id_domain(self) -> str:
        return self.message_id_domain or self.sender.rpartition("@")[2]


class EmailConnector(Connector):
    """Sends multipart (text + HTML) emails; Record.fields = {to, subject, text, html}."""

    name = "email"
    # none: the recipients are the destination, the SMTP relay only the route (a new relay re-sends no mail)
    address_settings = ()
    settings_model = EmailSettings
    credential_settings = ("password",)
    credential_noun = "SMTP password (or app password) of `username`"
    batch_size = 100  # messages per SMTP connection at most; the setting defaults to 50
    max_concurrency = 1  # digest parts go out in order; mail servers limit connections per client
    modes = frozenset({"insert"})  # an email cannot be changed once sent: one key, one message

    def __init__(
        self,
        settings: ConnectorSettings,
        destination: Destination | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        if not isinstance(settings, EmailSettings):
            raise FatalError("email connector needs EmailSettings")
        super().__init__(settings, destination or Destination("message", "key", "insert"), retry, limiter)
        self.settings: EmailSettings = settings
        self.limiter.set_limit(RateLimit(1, 1.0 / settings.rate))
        self._delivered: OrderedDict[tuple[str, str], str] = OrderedDict()  # (key, idempotency key) -> Message-ID
        self._context: ssl.SSLContext | None = None

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.effective_port}"

    @property
    def origin(self) -> str:
        """`smtp://host:port` (`smtps://` for implicit TLS): the address a refused connection names."""
        return f"{'smtps' if self.settings.security == 'tls' else 'smtp'}://{self.where}"

    # -- hooks -------------------------------------------------------------------------------

    def field_types(self) -> dict[str, FieldType]:
        """`subject`, `text` and `html` are text (`html` escaped for HTML, syncer.escaping); `to` is passed
        as mapped (an address or a list of them)."""
        return {name: TEXT_FIELDS[name] for name in self.destination.fields if name in TEXT_FIELDS}

    def check(self) -> list[str]:
        """Connect, EHLO, STARTTLS/TLS, AUTH, and a MAIL FROM probe (then RSET): nothing is sent."""
        problems = [
            f"mapped field {name!r} is not an email field (use {', '.join(sorted(FIELDS))})"
            for name in self.destination.fields
            if name not in FIELDS
        ]
        try:
            smtp = self.connect()
        except SyncerError as exc:
            problem = check_problem(exc, f"{self.where}: {exc}")
            return [*problems, problem if type(problem) is not str else SettingProblem(self.section, problem)]
        try:
            code, reply = smtp.mail(self.settings.sender)
            if code != 250:
                refused = (
                    f"{self.where}: MAIL FROM:<{self.settings.sender}> refused: {code} {reply_text(reply)}: give "
                    "the account permission to send as this address at the mail server, or set from_address to "
                    "one it may send from"
                )
                problems.append(SettingProblem(self.setting("from_address"), refused))
            smtp.rset()
        except (OSError, smtplib.SMTPException) as exc:
            problems.append(SettingProblem(self.section, f"{self.where}: {transport_error(exc, 'mail', self.where)}"))
        finally:
            _close(smtp)
        return problems

    def write(self, batch: Sequence[Record]) -> list[Result]:
        results: dict[str, Result] = {}
        todo: list[Outgoing] = []
        for record in batch:
            if (record.key, record.idempotency_key) in self._delivered:  # acknowledged earlier in this process
                results[record.key] = Result.ok(record, self._delivered[record.key, record.idempotency_key])
                continue
            try:
                todo.append((record, *self.build(record)))
            except RejectedError as exc:
                results[record.key] = Result.rejected(record, str(exc))
        if todo:
            smtp = self.connect()  # one connection per batch; failing here fails the whole batch
            try:
                self._send_all(smtp, todo, results)
            finally:
                _close(smtp)
        return [results[r.key] for r in batch]

    # -- building and sending ----------------------------------------------------------------

    def build(self, record: Record) -> tuple[list[str], bytes]:
        """The envelope recipients and the message bytes (CRLF, 7-bit) for a Record."""
        if record.op == "delete":
            raise RejectedError("email cannot be unsent: delete records are not supported")
        fields = record.fields
        raw_to = fields.get("to")
        listed = [raw_to] if isinstance(raw_to, str) else list(raw_to or [])
        pairs = getaddresses([str(a) for a in listed])
        recipients = [_addr(a) for _, a in pairs]
        if not pairs or any(r is None for r in recipients):
            raise RejectedError(f"invalid or missing 'to': {raw_to!r}")
        text, html = str(fields.get("text") or ""), str(fields.get("html") or "")
        if not (text or html):
            raise RejectedError("message has neither 'text' nor 'html'")
        message = EmailMessage()
        try:
            message["From"] = self.settings.from_address
            message["To"] = ", ".join(str(a) for a in listed)
            message["Subject"] = " ".join(str(fields.get("subject") or "(no subject)").split())[:900]
            message["Date"] = formatdate(localtime=False)
            message["Message-ID"] = message_id_for(record.key, record.idempotency_key, self.settings.id_domain)
            message[KEY_HEADER] = record.key
            message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
            if self.settings.reply_to:
                message["Reply-To"] = self.settings.reply_to
        except (ValueError, TypeError) as exc:  # CR/LF in a header value (header injection) or the key
            raise RejectedError(f"invalid header: {exc}") from exc
        if text:
            message.set_content(text, cte="quoted-printable")
        if html:
            if text:
                message.add_alternative(html, subtype="html", cte="quoted-printable")
            else:
                message.set_content(html, subtype="html", cte="quoted-printable")
        return [r for r in recipients if r], message.as_bytes(policy=SMTP_POLICY)

    def connect(self) -> smtplib.SMTP:
        """An SMTP session ready for MAIL FROM: connected, EHLO, TLS as configured, authenticated."""
        s = self.settings
        context = self._tls_context()
        phase: Phase = "connect"
        try:
            if s.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.effective_port, local_hostname=s.ehlo_name, timeout=s.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(s.host, s.effective_port, local_hostname=s.ehlo_name, timeout=s.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise transport_error(exc, phase, self.where, self.origin) from exc
        try:
            phase = "ehlo"
            smtp.ehlo_or_helo_if_needed()
            if s.security == "starttls":
                phase = "starttls"
                if not smtp.has_extn("starttls"):
                    raise FatalError("server does not offer STARTTLS (security = 'starttls'); refusing plain text")
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username is not None and s.password is not None:
                phase = "auth"
                smtp.login(s.username, s.password.get_secret_value())
        except SyncerError:
            _close(smtp)
            raise
        except (OSError, smtplib.SMTPException) as exc:
            _close(smtp)
            raise transport_error(exc, phase, self.where) from exc
        return smtp

    def _tls_context(self) -> ssl.SSLContext | None:
        """Verifying (CA bundle or system store, hostname checked); built once, loading CAs is slow."""
        if self.settings.security == "none":
            return None
        if self._context is None:
            ca = self.settings.ca_bundle
            self._context = ssl.create_default_context(cafile=str(ca) if ca else None)
        return self._context

    def _send_all(self, smtp: smtplib.SMTP, todo: list[Outgoing], results: dict[str, Result]) -> None:
        for index, (record, recipients, data) in enumerate(todo):
            try:
                results[record.key] = self.call(partial(self._send_one, smtp, record, recipients, data))
            except RetryableError as exc:  # the connection is gone: this and the rest go again
                results[record.key] = Result.failed(record, str(exc))
                for later, _, _ in todo[index + 1 :]:
                    results[later.key] = Result.failed(later, f"not sent: connection lost ({exc})")
                return

    def _send_one(self, smtp: smtplib.SMTP, record: Record, recipients: list[str], data: bytes) -> Result:
        """One transaction. Returns the Result for a per-message outcome; raises when the session is done."""
        phase: Phase = "mail"
        try:
            options = [f"SIZE={len(data)}"] if smtp.has_extn("size") else []
            code, reply = smtp.mail(self.settings.sender, options)
            if code != 250:
                error = reply_error("mail", code, reply_text(reply))
                return self._settle(smtp, record, code, error)
            phase = "rcpt"
            refused: dict[str, tuple[int, str]] = {}
            for rcpt in recipients:
                code, reply = smtp.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, reply_text(reply))
                    if code == 421:
                        break
            if refused:
                reason = "; ".join(f"{c} {t} (RCPT TO:<{r}>)" for r, (c, t) in refused.items())
                temporary = [c for c, _ in refused.values() if 400 <= c < 500]
                if temporary:  # the whole message goes again later: sending it now to the rest would duplicate
                    return self._settle(smtp, record, max(temporary), RetryableError(reason))
                if len(refused) == len(recipients):
                    return self._settle(smtp, record, 550, RejectedError(reason))
            phase = "data"
            code, reply = smtp.data(data)
        except smtplib.SMTPDataError as exc:  # DATA itself (not the end of data) was refused
            return self._settle(
                smtp, record, exc.smtp_code, reply_error("data", exc.smtp_code, reply_text(exc.smtp_error))
            )
        except (OSError, smtplib.SMTPException) as exc:
            error = transport_error(exc, phase, self.where)
            if phase == "data" and isinstance(error, RetryableError):
                error = RetryableError(f"{error}: delivery unknown, will re-send with the same Message-ID")
            raise error from exc
        if code != 250:
            return self._settle(smtp, record, code, reply_error("data", code, reply_text(reply)))
        message_id = message_id_for(record.key, record.idempotency_key, self.settings.id_domain)
        self._remember(record, message_id)
        if refused:
            log.warning("email %s sent, but some recipients were refused: %s", record.key, reason)
            return Result(record.key, "ok", message_id, f"partially refused: {reason}")
        return Result.ok(record, message_id)

    def _settle(self, smtp: smtplib.SMTP, record: Record, code: int, error: SyncerError) -> Result:
        """A refused transaction: reset the session for the next message, or give it up."""
        if isinstance(error, FatalError) or code == 421:
            raise error
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException) as exc:
            if isinstance(error, RejectedError):  # this record's verdict stands; the rest go again
                raise RetryableError(f"connection lost after {error}") from exc
            raise error from exc
        if isinstance(error, RejectedError):
            return Result.rejected(record, str(error))
        return Result.failed(record, str(error))

    def _remember(self, record: Record, message_id: str) -> None:
        self._delivered[record.key, record.idempotency_key] = message_id
        while len(self._delivered) > _DELIVERED_CACHE:
            self._delivered.popitem(last=False)


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT politely; a failure here changes nothing about what was delivered."""
    with suppress(OSError, smtplib.SMTPException):
        smtp.quit()
    with suppress(OSError):
        smtp.close()


__all__ = ["EmailConnector", "EmailSettings", "message_id_for", "reply_error"]
