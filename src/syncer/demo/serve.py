"""`syncer demo --serve`: after the demo, keep its emulators and a daemon on its config running.

The daemon is the real one (`syncer.daemon.Daemon`: scheduled syncs, score, alerts, digest,
escalate and report jobs, with leases in the demo's state DB) and its HTTP server serves /report
(the dashboard the report job keeps fresh) and /landed (the "what landed" page), bound to
127.0.0.1, so no viewer token is needed. Commands printed by the demo (`syncer runs`, `report`,
`digest --preview`, ...) reach the same emulators through `demo.env` while this runs. Ctrl-C
(SIGINT) or SIGTERM stops the daemon, the server and the emulators, and exits 0.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from syncer.config import load_config
from syncer.daemon import Daemon, load_settings
from syncer.server import DaemonHTTPServer


def command_prefix(folder: Path) -> tuple[str, str]:
    """(`env $(cat <demo.env>)`, the syncer executable), as paths that work from the current folder
    without an activated venv: relative when under it, absolute otherwise."""

    def shown(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(path.resolve())

    exe = Path(sys.executable).parent / "syncer"
    program = shown(exe) if exe.is_file() else f"{shown(Path(sys.executable))} -m syncer"
    if "/" not in program.split()[0]:
        program = "./" + program
    return f"env $(cat {shown(folder / 'demo.env')})", program


def serve(
    config_path: Path,
    landed: Path,
    port: int,
    echo: Callable[[str], Any],
    stop_event: threading.Event | None = None,
) -> int:
    """Run the daemon and its pages until Ctrl-C / SIGTERM (or `stop_event`, for tests)."""
    config = load_config(config_path)
    settings = load_settings(config)
    daemon = Daemon(config, settings, config.open_state())
    server = DaemonHTTPServer(
        "127.0.0.1",
        port,
        daemon.readiness,
        daemon.metrics.exposition,
        daemon.report_file,
        viewer_token=settings.viewer_token,
        pages={"/landed": lambda: landed},
    ).start()
    stop = stop_event or threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
    try:
        daemon.start_scheduler()
        base = f"http://127.0.0.1:{server.port}"
        echo(f"Dashboard:    {base}/report")
        echo(f"What landed:  {base}/landed")
        echo(f"Health:       {base}/readyz   metrics: {base}/metrics")
        echo("Serving until Ctrl-C.")
        port_file = os.environ.get("SYNCER_PORT_FILE")
        if port_file:
            Path(port_file).write_text(str(server.port))
        stop.wait()
    finally:
        daemon.stop(grace=5)
        server.stop()
        daemon.close()
    echo("stopped")
    return 0
