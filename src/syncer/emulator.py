"""The base of every service emulator: a stateful fake served over real HTTP on loopback.

Each connector folder ships an emulator of its service built on this class. Tests and
`syncer demo` talk to it through the real client libraries, so request and response shapes,
batch caps and rate limits are exercised for real. Faults are injected on demand:

    emu.faults.add(Fault("status", path=r"/batch/upsert", status=503, times=2))
    emu.faults.add(Fault("reset_after_apply", path=r"/hooks"))   # the write lands, the reply is lost

`latency` adds a fixed delay per request, for benchmarks. `clock` lets tests drive time windows
(rate limits, quotas) without sleeping.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Literal, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

from syncer.destinations import normal_percent

FaultKind = Literal["status", "reset_before_apply", "reset_after_apply", "delay"]


class _Firing(Protocol):
    times: int


F = TypeVar("F", bound=_Firing)


class InvalidJson(ValueError):
    """A body the vendors' JSON parsers refuse; `line`/`column` (1-based) point at the problem."""

    def __init__(self, message: str, line: int, column: int, token: str = "") -> None:
        super().__init__(message)
        self.line, self.column, self.token = line, column, token


def strict_json(body: bytes) -> Any:
    """JSON as RFC 8259 defines it, which is what HubSpot, Salesforce and Slack parse.

    Python's `json` accepts `NaN`, `Infinity` and `-Infinity`; the services refuse the whole request.
    Raises InvalidJson naming the offending token and where it is.
    """
    text = (body or b"null").decode("utf-8", errors="replace")

    def refuse(token: str) -> Any:
        at = text.find(token)
        line = text.count("\n", 0, at) + 1
        raise InvalidJson(f"Non-standard token '{token}'", line, at - text.rfind("\n", 0, at), token)

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise InvalidJson(exc.msg, exc.lineno, exc.colno) from exc


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass
class Fault:
    """One injected failure for requests whose path matches `path` (a regex)."""

    kind: FaultKind
    path: str = ".*"
    times: int = 1
    status: int = 503
    retry_after: float | None = None
    body: Any = None
    delay: float = 0.0
    method: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # sent with a status (a redirect's Location)


class FaultQueue(Generic[F]):
    """Faults waiting to fire, consumed in order as matching requests arrive (any protocol).

    A fault has `times` (how often it fires) and may have `after` (matching requests let through
    first); `pick` takes the predicate that says which requests a fault matches.
    """

    def __init__(self) -> None:
        self._faults: list[F] = []
        self._lock = threading.Lock()
        self.fired = 0

    def add(self, fault: F) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pick(self, matches: Callable[[F], bool]) -> F | None:
        with self._lock:
            for fault in self._faults:
                if not matches(fault):
                    continue
                let_through = getattr(fault, "after", 0)
                if let_through > 0:
                    setattr(fault, "after", let_through - 1)  # noqa: B010 - not every fault kind has it
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                self.fired += 1
                return fault
        return None


class FaultPlan(FaultQueue[Fault]):
    """HTTP faults, matched on method and a path regex."""

    def take(self, method: str, path: str) -> Fault | None:
        return self.pick(lambda f: f.method in (None, method) and re.search(f.path, path) is not None)


Handler = Callable[[Request, re.Match[str]], Response]


class _Reset(Exception):
    """Close the connection without a response."""


class Emulator:
    """Subclasses register routes in `__init__` with `self.route(method, pattern, handler)`."""

    def __init__(self, latency: float = 0.0, clock: Callable[[], float] = time.time) -> None:
        self.faults = FaultPlan()
        self.latency = latency
        self.clock = clock
        self.lock = threading.RLock()  # guards the emulator's state; handlers take it
        self.requests: list[tuple[str, str, int]] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(pattern + r"$"), handler))

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None) -> str:
        emulator = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                emulator._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        server = ThreadingHTTPServer((host, port), RequestHandler)
        server.daemon_threads = True
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="emulator"
        )
        self._thread.start()
        scheme = "https" if tls else "http"
        self.base_url = f"{scheme}://{host}:{server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Emulator:
        if not self.base_url:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling --------------------------------------------------------------------

    def _dispatch(self, http: BaseHTTPRequestHandler) -> None:
        with contextlib.suppress(OSError):  # no Nagle delay: small JSON replies would wait ~40 ms
            http.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        split = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        request = Request(
            http.command,
            normal_percent(split.path),  # RFC 3986 §6.2.2: "/a%7eb" and "/a~b" name one resource
            parse_qs(split.query),
            {k.lower(): v for k, v in http.headers.items()},
            body,
        )
        if self.latency:
            time.sleep(self.latency)
        fault = self.faults.take(request.method, request.path)
        try:
            response = self._respond(request, fault)
        except _Reset:
            self.requests.append((request.method, request.path, 0))
            _reset(http)
            return
        self.requests.append((request.method, request.path, response.status))
        payload = response.encode()
        try:
            http.send_response(response.status)
            http.send_header("Content-Type", response.content_type)
            http.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                http.send_header(name, value)
            http.end_headers()
            http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            http.close_connection = True  # the client went away (killed, timed out): nothing to tell it

    def _respond(self, request: Request, fault: Fault | None) -> Response:
        if fault is not None:
            if fault.kind == "reset_before_apply":
                raise _Reset
            if fault.kind == "status":
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                headers.update(fault.headers)
                return Response(
                    fault.status,
                    fault.body if fault.body is not None else self.error_body(fault.status),
                    headers,
                )
            if fault.kind == "delay":
                time.sleep(fault.delay)
        response = self.handle(request)
        if fault is not None and fault.kind == "reset_after_apply":
            raise _Reset
        return response

    def handle(self, request: Request) -> Response:
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                return handler(request, match)
        return Response(404, self.not_found_body(request))

    def not_found_body(self, request: Request) -> Any:
        """The answer to a route the emulator does not serve: says so (not an injected fault's body)."""
        return {"error": f"no such route in this emulator: {request.method} {request.path}"}

    def error_body(self, status: int) -> Any:
        """The service's own error shape for an injected status; subclasses override."""
        return {"error": f"injected HTTP {status}"}


def _reset(http: BaseHTTPRequestHandler) -> None:
    """Drop the connection abruptly (RST), the way a crashed proxy or a network cut does."""
    sock = http.connection
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    http.close_connection = True
    with contextlib.suppress(OSError):
        sock.close()
