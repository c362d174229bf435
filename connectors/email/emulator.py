"""A stateful SMTP server on loopback (aiosmtpd), for the email connector's tests and demos.

It stores every message it accepts (parsed, with its envelope), speaks STARTTLS or implicit TLS
with a throwaway trustme CA, checks AUTH PLAIN/LOGIN against configured users, refuses listed
recipients with 550, and injects faults on demand:

    emu.faults.add(SmtpFault("reply", stage="data", code=451))       # temporary failure, not stored
    emu.faults.add(SmtpFault("close", stage="rcpt"))                 # 421 and hang up
    emu.faults.add(SmtpFault("drop_after_data"))                      # stored, but the 250 is lost

It de-duplicates nothing on purpose: `copies(key)` says how often a message arrived.

Standalone, for crash tests that SIGKILL the syncer while the server survives:

    python -m syncer_connectors.email.emulator --port 0 --maildir DIR [--security starttls|tls|none] \
        [--ca-out FILE.pem] [--user NAME --password-env VAR] [--refuse ADDRESS ...]

prints `READY <port>` and adds every accepted message to the Maildir before answering 250;
`maildir_copies(DIR)` counts them by `X-Syncer-Key` at any time, also after the server was killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import mailbox
import os
import signal
import ssl
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Literal, cast

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from syncer.emulator import FaultQueue

# aiosmtpd logs a deprecation warning for its own use of Session.login_data on every AUTH
logging.getLogger("mail.log").addFilter(lambda record: "login_data is deprecated" not in record.getMessage())

Security = Literal["starttls", "tls", "none"]
Stage = Literal["mail", "rcpt", "data"]
FaultKind = Literal["reply", "close", "drop_after_data"]
KEY_HEADER = "X-Syncer-Key"


@dataclass
class SmtpFault:
    """One injected failure at a stage: `reply` answers `code text`, `close` answers 421 and hangs up,
    `drop_after_data` stores the message and then drops the connection without replying."""

    kind: FaultKind
    stage: Stage = "data"
    code: int = 451
    text: str = "4.3.0 Temporary failure, try again later (injected)"
    times: int = 1
    after: int = 0  # let this many matching commands pass first


class SmtpFaultPlan(FaultQueue[SmtpFault]):
    """SMTP faults, matched on the stage of the conversation (MAIL, RCPT, DATA)."""

    def take(self, stage: Stage) -> SmtpFault | None:
        return self.pick(lambda f: f.stage == stage or (f.kind == "drop_after_data" and stage == "data"))


@dataclass
class Received:
    """One accepted message with its envelope and how it came in."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    tls: bool
    user: str | None
    received_at: float = 0.0  # unix seconds on the emulator's wall clock: the time an inbox lists the mail at

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"] or "")

    @property
    def key(self) -> str:
        return str(self.message[KEY_HEADER] or "")


@dataclass
class _Stats:
    connections: set[tuple[str, int]] = field(default_factory=set)
    mail: int = 0
    rcpt: Counter[str] = field(default_factory=Counter)
    data: int = 0
    auth_failures: int = 0


class SmtpEmulator:
    """`with SmtpEmulator(security="starttls", users={"u": "p"}) as emu:` -> emu.host, emu.port, emu.ca_path."""

    def __init__(
        self,
        *,
        security: Security = "none",
        users: dict[str, str] | None = None,
        refused: set[str] | frozenset[str] = frozenset(),
        maildir: Path | None = None,
        ca: trustme.CA | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.security = security
        self.wall_clock = wall_clock  # the demo sets its simulated clock, as it does for Slack's message ts
        self.users = dict(users or {})
        self.refused = {a.lower() for a in refused}
        self.faults = SmtpFaultPlan()
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        self.stats = _Stats()
        self.maildir = mailbox.Maildir(maildir, create=True) if maildir is not None else None
        self.ca = ca or (trustme.CA() if security != "none" else None)
        self.ca_path: Path | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self._controller: Controller | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- what it saw -------------------------------------------------------------------------

    def copies(self, key: str) -> int:
        with self.lock:
            return sum(1 for m in self.messages if m.key == key)

    def by_message_id(self) -> Counter[str]:
        with self.lock:
            return Counter(m.message_id for m in self.messages)

    def rcpt_attempts(self, address: str) -> int:
        return self.stats.rcpt[address.lower()]

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.stats = _Stats()
        self.faults.clear()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, port: int = 0) -> SmtpEmulator:
        server_tls: ssl.SSLContext | None = None
        if self.ca is not None:
            self._tmp = tempfile.TemporaryDirectory(prefix="smtp-emulator-")
            self.ca_path = Path(self._tmp.name) / "ca.pem"
            self.ca.cert_pem.write_to_path(str(self.ca_path))
            server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_tls)
        kwargs: dict[str, Any] = {
            "authenticator": self._authenticate,
            "auth_required": bool(self.users),
            "auth_require_tls": self.security != "none",
        }
        if self.security == "starttls":
            kwargs.update(tls_context=server_tls, require_starttls=True)
        controller = _Controller(
            self.security == "tls",
            _Handler(self),
            hostname=self.host,
            port=port,
            ssl_context=server_tls if self.security == "tls" else None,
            server_hostname="smtp.emulator.test",
            **kwargs,
        )
        controller.start()
        self._controller, self.port = controller, controller.port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SmtpEmulator:
        return self.start() if self._controller is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- protocol ----------------------------------------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(errors="replace"), data.password.decode(errors="replace")
            if user in self.users and self.users[user] == password:
                return AuthResult(success=True, auth_data=data)
        with self.lock:
            self.stats.auth_failures += 1
        return AuthResult(success=False, handled=False)

    def _store(self, session: Session, envelope: Envelope) -> Received:
        raw = bytes(envelope.original_content or b"")
        auth = session.auth_data
        received = Received(
            str(envelope.mail_from),
            list(envelope.rcpt_tos),
            message_from_bytes(raw, policy=default_policy),
            raw,
            session.ssl is not None or self.security == "tls",
            auth.login.decode(errors="replace") if isinstance(auth, LoginPassword) else None,
            self.wall_clock(),
        )
        if self.maildir is not None:
            self.maildir.add(raw)  # tmp/ then rename into new/: durable before the 250 is sent
        with self.lock:
            self.messages.append(received)
            self.stats.data += 1
        return received


class _Handler:
    """aiosmtpd hooks; with a handle_MAIL / handle_RCPT hook the handler fills the envelope itself."""

    def __init__(self, emulator: SmtpEmulator) -> None:
        self.emu = emulator

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.emu.lock:
            self.emu.stats.connections.add(tuple(session.peer or ("?", 0)))  # type: ignore[arg-type]
            self.emu.stats.mail += 1
        fault = self.emu.faults.take("mail")
        if fault is not None:
            return await _inject(server, fault)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.emu.lock:
            self.emu.stats.rcpt[address.lower()] += 1
        fault = self.emu.faults.take("rcpt")
        if fault is not None:
            return await _inject(server, fault)
        if address.lower() in self.emu.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self.emu.faults.take("data")
        if fault is not None and fault.kind != "drop_after_data":
            return await _inject(server, fault)
        self.emu._store(session, envelope)
        if fault is not None:  # drop_after_data: the message is stored, the client never hears 250
            return await _hang_up(server, None)
        return f"250 2.0.0 OK: queued as {len(self.emu.messages):06d}"


async def _inject(server: SMTP, fault: SmtpFault) -> str:
    if fault.kind == "close":
        return await _hang_up(server, "421 4.3.2 Service shutting down (injected)")
    return f"{fault.code} {fault.text}"


async def _hang_up(server: SMTP, last_words: str | None) -> str:
    """Close the connection (after `last_words`, or abruptly); aiosmtpd then cancels this task."""
    if last_words is not None:
        await server.push(last_words)
    if server.transport is not None:
        if last_words is None:
            cast(asyncio.Transport, server.transport).abort()
        else:
            server.transport.close()
    await asyncio.sleep(30)  # cancelled by connection_lost() long before this ends
    return "421 4.3.2 closing"


class _Controller(Controller):
    """Port 0: learn the port the OS picked before aiosmtpd's start-up probe connects to it."""

    def __init__(self, implicit_tls: bool, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.implicit_tls = implicit_tls

    def factory(self) -> SMTP:
        server = SMTP(self.handler, **self.SMTP_kwargs)
        if self.implicit_tls:  # aiosmtpd only knows STARTTLS; with implicit TLS the whole connection is TLS
            server._auth_require_tls = False
        return server

    def _trigger_server(self) -> None:
        server = cast(asyncio.Server, self.server)
        self.port = int(server.sockets[0].getsockname()[1])
        super()._trigger_server()  # type: ignore[no-untyped-call]


def maildir_copies(path: Path) -> Counter[str]:
    """How many copies of each X-Syncer-Key a standalone emulator's Maildir holds."""
    box = mailbox.Maildir(path, create=False)
    return Counter(str(message[KEY_HEADER] or "") for message in box)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument("--security", choices=["starttls", "tls", "none"], default="none")
    parser.add_argument("--ca-out", type=Path, help="write the CA certificate (PEM) here for the client")
    parser.add_argument("--user")
    parser.add_argument("--password-env", help="environment variable holding the user's password")
    parser.add_argument("--refuse", action="append", default=[])
    args = parser.parse_args(argv)
    users = {args.user: os.environ[args.password_env]} if args.user and args.password_env else {}
    emu = SmtpEmulator(security=args.security, users=users, refused=set(args.refuse), maildir=args.maildir)
    emu.start(args.port)
    if args.ca_out is not None and emu.ca is not None:
        emu.ca.cert_pem.write_to_path(str(args.ca_out))
    print(f"READY {emu.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
