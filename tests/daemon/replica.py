"""One daemon replica driven through a simulated day: `python -m tests.daemon.replica ...`.

What is real: the Daemon's slot path (`run_slot`: in-process lock, PostgreSQL lease with heartbeat,
slot claim, the sync itself against a loopback webhook, metrics, ops alerts), the lease clock (wall
time), and APScheduler's trigger arithmetic (`slot_for` on the job's real trigger). What is
simulated: the passage of the day. Time is compressed: slot i fires at wall time
`start + i * tick` (the start comes from the --go file, shared by all replicas), so both replicas
fire each slot at the same instant, as two real schedulers would, and each slot's fire time is
handed to `slot_for` as "now". A replica that finds the
lease busy polls every 20 ms until it is free (the daemon would schedule a retry at the lease's
expiry instead), exactly the race two replicas firing the same slot run.

Speed-up, not semantics: the per-run set-up cost of the engine (an entry-point scan in
registry.load and a fresh TLS trust store per httpx client, ~120 ms per run together) is cached
in this process, so 288 serialised runs fit the test budget. See the daemon report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import ssl
import time
from pathlib import Path

from syncer import registry
from syncer.config import load_config
from syncer.daemon import Daemon, load_settings
from syncer.logs import setup_logging
from syncer.scheduler import fire_times, slot_for
from syncer.state import StateStore


def _cache_engine_setup() -> None:
    registry.load = functools.lru_cache(registry.load)  # type: ignore[method-assign]
    ssl.create_default_context = functools.lru_cache(maxsize=8)(ssl.create_default_context)  # type: ignore[assignment]


def main() -> None:
    _cache_engine_setup()
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("--job", default="accounts")
    parser.add_argument("--start", required=True, help="ISO start of the simulated window")
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--out", required=True)
    parser.add_argument("--go", help="wait until this file exists before firing (a start barrier)")
    parser.add_argument("--replica-id", required=True)
    parser.add_argument("--tick", type=float, default=0.0, help="wall seconds per slot (compressed time)")
    args = parser.parse_args()

    config = load_config(args.config)
    setup_logging("text", "info")
    settings = load_settings(config).model_copy(update={"replica_id": args.replica_id})
    daemon = Daemon(config, settings, StateStore(config.state_url()))
    trigger = daemon.specs[args.job].trigger
    start = dt.datetime.fromisoformat(args.start)
    slots = list(fire_times(trigger, start, start + dt.timedelta(hours=args.hours)))
    print("READY", len(slots), flush=True)
    start_at = time.time()
    if args.go:
        while not Path(args.go).exists() or not Path(args.go).read_text():
            time.sleep(0.005)
        start_at = float(Path(args.go).read_text())
    counts: dict[str, int] = {}
    takeovers = []
    for i, fire_time in enumerate(slots):
        time.sleep(max(0.0, start_at + i * args.tick - time.time()))
        # The scheduler calls fire() a few ms after the fire time; slot_for maps that back to the slot.
        slot = slot_for(trigger, fire_time + dt.timedelta(milliseconds=7), settings.misfire_grace_seconds + 60)
        assert slot == fire_time.astimezone(dt.UTC), (slot, fire_time)
        while True:
            began = time.time()
            outcome = daemon.run_slot(args.job, slot)
            if outcome.kind != "busy":
                break
            counts["busy_polls"] = counts.get("busy_polls", 0) + 1
            time.sleep(0.02)
        counts[outcome.kind] = counts.get(outcome.kind, 0) + 1
        if outcome.takeover:
            takeovers.append({"slot": slot.isoformat(), "began": began})
    Path(args.out).write_text(json.dumps({"counts": counts, "takeovers": takeovers, "slots": len(slots)}))
    daemon.close()


if __name__ == "__main__":
    main()
