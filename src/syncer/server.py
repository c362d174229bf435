"""The daemon's HTTP endpoints, on one small stdlib server in a thread.

GET /healthz   200 while the process is alive and its main loop responds (liveness probe)
GET /readyz    200 when the state DB and the warehouse answer and the scheduler runs, else 503
               with a JSON body naming what failed (readiness probe)
GET /metrics   Prometheus text exposition
GET /report    the latest outcomes report (HTML) the `report` job wrote to `[report].path`; 404 when there
               is none (no path configured, or not written yet). The file is replaced atomically, so a
               request always reads a whole report.
GET /landed    (and any other page registered in `pages`) a static HTML page, e.g. the demo's "what landed"

Access: /healthz, /readyz and /metrics are open (probes and Prometheus; /metrics carries no account
data, only sync, job and trigger names). Every page with account data needs a viewer:
- with `[daemon].viewer_token = "${NAME}"` configured: `Authorization: Bearer <token>`, or the
  `syncer_viewer` cookie, or once `?token=<token>` (answered by a redirect that sets the cookie, so the
  token leaves the address bar); anything else gets 401 and no data;
- without a token: only clients on the loopback interface (127.0.0.0/8, ::1) are served; any other
  client gets 401 naming the setting. A reverse proxy on the same host looks like loopback: set a
  token whenever the port is published.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from prometheus_client import CONTENT_TYPE_LATEST

log = logging.getLogger("syncer.server")
Readiness = Callable[[], dict[str, str]]  # check name -> "ok" or the problem
ReportFile = Callable[[], Path | None]  # where the latest HTML report is (None: not configured)
COOKIE = "syncer_viewer"
UNAUTHORIZED = json.dumps({"error": "viewer token required: Authorization: Bearer <token> ([daemon].viewer_token)"})
LOOPBACK_ONLY = json.dumps(
    {
        "error": "account data is served to localhost only because [daemon].viewer_token is not set; "
        'set viewer_token = "${SYNCER_VIEWER_TOKEN}" to share it'
    }
)


def viewer_verdict(token: str | None, client_ip: str, authorization: str, cookie: str, query: str) -> str:
    """May this request see account data? "allow", "redirect" (a right ?token=: set the cookie),
    "loopback_only" (no token configured, client not on loopback) or "deny". Tokens compare in constant time."""

    def same(offered: str) -> bool:
        return token is not None and hmac.compare_digest(offered.encode(), token.encode())

    if token is None:
        return "allow" if ipaddress.ip_address(client_ip.removeprefix("::ffff:")).is_loopback else "loopback_only"
    if same(parse_qs(query).get("token", [""])[0]):
        return "redirect"
    if authorization.startswith("Bearer ") and same(authorization.removeprefix("Bearer ").strip()):
        return "allow"
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie)
    except CookieError:  # a malformed cookie header carries no token
        return "deny"
    return "allow" if COOKIE in jar and same(jar[COOKIE].value) else "deny"


class _Handler(BaseHTTPRequestHandler):
    server: DaemonHTTPServer

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/healthz":
            self._send(200, b'{"status": "alive"}\n', "application/json")
        elif path == "/readyz":
            try:
                checks = self.server.readiness()
            except Exception as exc:  # a readiness check must answer, never crash the handler
                checks = {"readiness": f"error: {type(exc).__name__}"}
            ok = all(v == "ok" for v in checks.values())
            body = json.dumps({"status": "ready" if ok else "not ready", "checks": checks}).encode() + b"\n"
            self._send(200 if ok else 503, body, "application/json")
        elif path == "/metrics":
            self._send(200, self.server.metrics(), CONTENT_TYPE_LATEST)
        elif path in self.server.pages:
            if self._viewer_allowed(path, query):
                self._page(path)
        else:
            self._send(404, b'{"error": "not found"}\n', "application/json")

    def _viewer_allowed(self, path: str, query: str) -> bool:
        """True when this request may see account data; otherwise the 401 / redirect is already sent."""
        token = self.server.viewer_token
        verdict = viewer_verdict(
            token, self.client_address[0], self.headers.get("Authorization", ""), self.headers.get("Cookie", ""), query
        )
        if verdict == "allow":
            return True
        if verdict == "redirect":
            rest = {k: v for k, v in parse_qs(query).items() if k != "token"}
            cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
            location = path + ("?" + urlencode(rest, doseq=True) if rest else "")
            self._send(303, b"", "text/plain", headers={"Location": location, "Set-Cookie": cookie})
        elif verdict == "loopback_only":
            self._send(401, LOOPBACK_ONLY.encode() + b"\n", "application/json")
        else:
            challenge = {"WWW-Authenticate": 'Bearer realm="syncer"'}
            self._send(401, UNAUTHORIZED.encode() + b"\n", "application/json", headers=challenge)
        return False

    def _page(self, path: str) -> None:
        file = self.server.pages[path]()
        try:
            body = file.read_bytes() if file is not None else None
        except OSError:  # not written yet (the report job runs daily) or unreadable
            body = None
        if body is None:
            self._send(404, b'{"error": "not written yet"}\n', "application/json")
        else:
            self._send(200, body, "text/html; charset=utf-8", cache="no-cache")

    def _send(
        self,
        code: int,
        body: bytes,
        content_type: str,
        cache: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        if cache:
            self.send_header("Cache-Control", cache)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: keep them quiet
        log.debug(format, *args)


class DaemonHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        readiness: Readiness,
        metrics: Callable[[], bytes],
        report: ReportFile | None = None,
        *,
        viewer_token: str | None = None,
        pages: Mapping[str, ReportFile] | None = None,
    ) -> None:
        """`report` serves /report; `pages` adds more account-data pages (path -> file);
        `viewer_token` None means loopback clients only (see the module docstring)."""
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        self.readiness = readiness
        self.metrics = metrics
        self.viewer_token = viewer_token or None
        self.pages: dict[str, ReportFile] = {"/report": report or (lambda: None), **(pages or {})}
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> DaemonHTTPServer:
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def probe(url: str, timeout: float = 3.0) -> int:
    """Exit code for a container HEALTHCHECK: 0 when `url` answers 200 (slim images have no curl)."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


DEFAULT_HOST = "0.0.0.0"  # DaemonSettings.host's default
DEFAULT_PORT = 9108  # DaemonSettings.port's default (the Dockerfile EXPOSEs it)


def probe_url(config_path: str | None = None) -> str:
    """The /healthz URL of the daemon that `config_path` (default: $SYNCER_CONFIG, else config.toml) starts: its
    `[daemon] host` and `port` (`${NAME}` resolved as load_config does), the wildcard host probed on loopback.
    Read without validating the rest of the config, so a probe stays fast: the daemon refuses a bad value at
    start, and then there is nothing to probe. Raises OSError (unreadable), tomllib.TOMLDecodeError, ValueError."""
    import os
    import tomllib

    from syncer import secrets

    path = config_path or os.environ.get("SYNCER_CONFIG") or "config.toml"
    with open(path, encoding="utf-8-sig") as file:  # as config.py reads it: a byte-order mark is dropped
        daemon = tomllib.loads(file.read()).get("daemon") or {}

    def setting(key: str, default: object) -> str:
        value = daemon.get(key, default)
        return secrets.resolve(value, secret=False)[0] if isinstance(value, str) else str(value)

    host, port = setting("host", DEFAULT_HOST), int(setting("port", DEFAULT_PORT))
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/healthz"


if __name__ == "__main__":  # python -m syncer.server probe [URL]
    import sys

    args = sys.argv[1:]
    if not args or args[0] != "probe":
        sys.exit("usage: python -m syncer.server probe [URL]   (default: [daemon] host and port of $SYNCER_CONFIG)")
    sys.exit(probe(args[1] if len(args) > 1 else probe_url()))
