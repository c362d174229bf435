"""SMTP replies and client exceptions as syncer errors: one table, by the command a reply answers.

4xx reply (any command), 421 anywhere      -> RetryableError
5xx to greeting / EHLO / STARTTLS / AUTH   -> FatalError   (every message would fail)
5xx to MAIL FROM                           -> FatalError, except 552 (SIZE too big) -> RejectedError
5xx to RCPT TO / DATA                      -> RejectedError (this message only)
TLS error during the handshake             -> FatalError   (wrong CA, wrong port, no STARTTLS)
refused / unknown host / no route          -> DestinationUnreachable (a RetryableError; one line naming
                                              `smtp://host:port`, as every connector says it: syncer.http)
connection reset / timeout                 -> RetryableError
"""

from __future__ import annotations

import smtplib
import ssl
from typing import Literal

from syncer.errors import (
    CredentialRefused,
    DestinationUnreachable,
    FatalError,
    RejectedError,
    RetryableError,
    SyncerError,
)
from syncer.http import unreachable_reason

Phase = Literal["connect", "ehlo", "starttls", "auth", "mail", "rcpt", "data"]

#: What a 5xx reply means, by the command it answers (every 4xx, and 421 anywhere, is retryable).
PERMANENT: dict[Phase, type[SyncerError]] = {
    "connect": FatalError,  # 554 greeting: this server will not talk to us
    "ehlo": FatalError,
    "starttls": FatalError,
    "auth": FatalError,  # 535 bad credentials, 534 mechanism too weak, 530 ...
    "mail": FatalError,  # 550/553 sender not allowed, 530 auth required: every message would fail
    "rcpt": RejectedError,  # 550 no such user, 553 bad address: this message only
    "data": RejectedError,  # 552 too big, 554 content refused: this message only
}
OVERRIDES: dict[tuple[Phase, int], type[SyncerError]] = {("mail", 552): RejectedError}  # SIZE= too big


# 5xx to AUTH that say the credential is wrong (RFC 4954: 535 "authentication credentials invalid"); 534 (mechanism
# too weak) and 538 (encryption required) are settings of the connection, not the credential
REFUSED_AUTH = frozenset({535})


def reply_error(phase: Phase, code: int, text: str) -> SyncerError:
    """The syncer error for an SMTP reply that is not success, per the table above (CredentialRefused for a
    refused password: `REFUSED_AUTH`)."""
    if phase == "auth" and code in REFUSED_AUTH:
        return CredentialRefused("SMTP AUTH", f"{code} {text}".strip(), status=code)
    kind: type[SyncerError] = RetryableError
    if code >= 500 or code < 400:
        kind = OVERRIDES.get((phase, code), PERMANENT[phase])
    return kind(f"{code} {text}".strip())


def transport_error(exc: BaseException, phase: Phase, where: str, origin: str | None = None) -> SyncerError:
    """Exceptions of smtplib / ssl / socket as syncer errors (see README's table). `origin`
    (`smtp://host:port`): where a refused connection or unknown host is reported, as the HTTP connectors do."""
    reason = unreachable_reason(exc) if phase == "connect" and origin else None
    if reason is not None and origin:
        return DestinationUnreachable("connect to the SMTP server", origin, reason)
    if isinstance(exc, smtplib.SMTPResponseException):
        return reply_error(phase, exc.smtp_code, reply_text(exc.smtp_error))
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return RetryableError(f"connection closed by {where} during {phase}")
    if isinstance(exc, smtplib.SMTPException):  # e.g. AUTH not offered, no usable mechanism
        return FatalError(f"{phase}: {exc}")
    if isinstance(exc, ssl.SSLError) and phase in ("connect", "starttls"):
        return FatalError(f"TLS handshake with {where} failed: {exc}")
    return RetryableError(f"{type(exc).__name__} talking to {where} during {phase}: {exc}")


def reply_text(reply: bytes | str) -> str:
    """A server reply as one line of text, for reasons and messages."""
    return (reply.decode(errors="replace") if isinstance(reply, bytes) else reply).replace("\n", " ")
