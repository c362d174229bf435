"""Benchmark: a large PQL field sync into the HubSpot emulator at HubSpot's real pace.

The emulator answers every request after `--latency` seconds (HubSpot's batch upsert takes about
that) and enforces the plan's rolling 10-second limit (starter: 100 requests / 10 s), answering
429 past it. The connector is driven the way the runner drives it: a ThreadPoolExecutor of
`effective_concurrency` workers calling `send()` on batches of `effective_batch_size`.

    /work/venv/bin/python benchmarks/bench_hubspot.py --companies 100000

Prints calls versus the floor (changed / 100), wall time versus the rate-limit floor
(calls / limit x 10 s), and 429s (target 0). Not part of the test run.
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ThreadPoolExecutor

from syncer_connectors.hubspot.connector import HubSpotConnector, HubSpotSettings
from syncer_connectors.hubspot.emulator import HubSpotEmulator

from syncer.connector import Destination, Record, Result

TOKEN = "bench-token"


def records(count: int) -> list[Record]:
    tiers = ("monitor", "nurture", "escalate")
    out = []
    for i in range(count):
        key = f"acct-{i:07d}"
        fields = {"name": f"Account {i}", "pql_score": i % 101, "pql_tier": tiers[i % 3]}
        out.append(Record(key, "upsert", fields, f"fp{i}", f"idem{i}", match_value=key))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--plan", default="starter", choices=["starter", "pro", "enterprise", "increase"])
    parser.add_argument("--configured-plan", default=None, help="plan_tier the connector is told (default: --plan)")
    args = parser.parse_args()
    configured = args.configured_plan or args.plan

    emulator = HubSpotEmulator(plan=args.plan, latency=args.latency, token=TOKEN)
    emulator.store.define("companies", "syncer_account_id", "string", unique=True)
    emulator.store.define("companies", "pql_score", "number")
    emulator.store.define("companies", "pql_tier", "string")
    emulator.start()
    settings = HubSpotSettings(base_url=emulator.base_url, access_token=TOKEN, plan_tier=configured)  # type: ignore[arg-type]
    destination = Destination("companies", "syncer_account_id", fields={"pql_score": "pql_score"})
    connector = HubSpotConnector(settings, destination)
    size, workers = connector.effective_batch_size, connector.effective_concurrency
    changed = records(args.companies)
    batches = [changed[i : i + size] for i in range(0, len(changed), size)]

    started = time.monotonic()
    results: list[Result] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for batch_results in pool.map(connector.send, batches):
            results += batch_results
    wall = time.monotonic() - started
    connector.close()
    emulator.stop()

    limit = emulator.limits.max_calls
    floor_calls = math.ceil(args.companies / 100)
    floor_seconds = floor_calls / limit * emulator.limits.interval_ms / 1000
    ok = sum(r.status == "ok" for r in results)
    stored = len(emulator.stored("companies", "syncer_account_id"))
    rows = [
        ("changed companies", f"{args.companies:,}", ""),
        ("workers x batch size", f"{workers} x {size}", ""),
        ("emulator latency / limit", f"{args.latency * 1000:.0f} ms", f"{limit} req / 10 s ({args.plan})"),
        ("connector plan_tier", configured, "corrected from X-HubSpot-RateLimit-* headers"),
        ("calls (floor = changed/100)", f"{connector.stats.calls:,}", f"{floor_calls:,}"),
        ("wall time (floor = calls/limit x 10 s)", f"{wall:.1f} s", f"{floor_seconds:.1f} s"),
        ("wall time / floor", f"{wall / floor_seconds:.3f}", ""),
        ("throughput", f"{args.companies / wall:,.0f} records/s", ""),
        ("429s from HubSpot (target 0)", f"{emulator.limits.rejected}", ""),
        ("retries", f"{connector.stats.retries}", ""),
        ("results ok / stored", f"{ok:,} / {stored:,}", ""),
        ("time waiting on the limiter (sum of workers)", f"{connector.stats.waited_seconds:.1f} s", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'metric'.ljust(width)}  {'measured':>20}  floor / note")
    print("-" * (width + 45))
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>20}  {note}")


if __name__ == "__main__":
    main()
