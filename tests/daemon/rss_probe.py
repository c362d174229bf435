"""RSS of a daemon, idle and after N scheduled runs: `python -m tests.daemon.rss_probe N [--cache]`.

Runs in its own process so the numbers are the daemon's alone (plus the in-process webhook
receiver it syncs to). Each run goes through `Daemon.run_slot`, the path the scheduler fires, for
N distinct 5-minute slots; the scheduler and HTTP server are up, as in production. Prints JSON.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import sys
import tempfile
from pathlib import Path


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> None:
    n = int(sys.argv[1])
    if "--cache" in sys.argv:
        from tests.daemon.replica import _cache_engine_setup

        _cache_engine_setup()
    from syncer_connectors.webhook.emulator import WebhookReceiver

    from syncer.server import DaemonHTTPServer
    from tests.daemon.conftest import configure, make_daemon
    from tests.engine.conftest import SECRET, Project, create_accounts

    os.environ["HOOK_SECRET"] = SECRET
    root = Path(tempfile.mkdtemp(prefix="syncer-rss-"))
    with WebhookReceiver(SECRET) as rx:
        project = Project(root, f"sqlite:///{root / 'warehouse.sqlite'}", hook_url=f"{rx.base_url}/hooks")
        create_accounts(project.warehouse_url, 300)
        configure(project)
        daemon = make_daemon(project)
        server = DaemonHTTPServer("127.0.0.1", 0, daemon.readiness, daemon.metrics.exposition).start()
        daemon.start_scheduler()
        gc.collect()
        idle = rss_kb()
        t0 = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
        marks = {}
        for i in range(n):
            daemon.run_slot("accounts", t0 + dt.timedelta(minutes=5 * i))
            if i + 1 in (n // 4, n // 2, n):
                gc.collect()
                marks[i + 1] = rss_kb()
        runs = len(daemon.state.recent_runs("accounts", n + 10))
        daemon.stop(grace=5)
        server.stop()
        daemon.close()
    print(json.dumps({"idle_kb": idle, "marks_kb": marks, "runs": runs}))


if __name__ == "__main__":
    main()
