"""The daemon's HTTP endpoints, on one small stdlib server in a thread.

GET /healthz   200 while the process is alive and its main loop responds (liveness probe)
GET /readyz    200 when the state DB and the warehouse answer and the scheduler runs, else 503
               with a JSON body naming what failed (readiness probe)
GET /metrics   Prometheus text exposition
GET /report    the latest outcomes report (HTML) the `report` job wrote to `[report].path`; 404 when there
               is none (no path configured, or not written yet). The file is replaced atomically, so a
               request always reads a whole report.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST

log = logging.getLogger("syncer.server")
Readiness = Callable[[], dict[str, str]]  # check name -> "ok" or the problem
ReportFile = Callable[[], Path | None]  # where the latest HTML report is (None: not configured)


class _Handler(BaseHTTPRequestHandler):
    server: DaemonHTTPServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
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
        elif path == "/report":
            self._report()
        else:
            self._send(404, b'{"error": "not found"}\n', "application/json")

    def _report(self) -> None:
        file = self.server.report() if self.server.report is not None else None
        try:
            body = file.read_bytes() if file is not None else None
        except OSError:  # not written yet (the job runs daily) or unreadable
            body = None
        if body is None:
            self._send(404, b'{"error": "no report yet"}\n', "application/json")
        else:
            self._send(200, body, "text/html; charset=utf-8", cache="no-cache")

    def _send(self, code: int, body: bytes, content_type: str, cache: str | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        if cache:
            self.send_header("Cache-Control", cache)
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
    ) -> None:
        super().__init__((host, port), _Handler)
        self.readiness = readiness
        self.metrics = metrics
        self.report = report
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


if __name__ == "__main__":  # python -m syncer.server probe [URL]
    import os
    import sys

    default = f"http://127.0.0.1:{os.environ.get('SYNCER_PORT', '9108')}/healthz"
    args = sys.argv[1:]
    if not args or args[0] != "probe":
        sys.exit("usage: python -m syncer.server probe [URL]")
    sys.exit(probe(args[1] if len(args) > 1 else default))
