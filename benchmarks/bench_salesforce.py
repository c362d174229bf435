"""Benchmark: N changed accounts into the Salesforce emulator (150 ms a call), collections vs Bulk 2.0.

    /work/venv/bin/python benchmarks/bench_salesforce.py [--n 100000] [--latency 0.15]

Collections: batches of 200, `effective_concurrency` worker threads each calling `send()`.
Bulk 2.0: batches of `preferred_batch_size(n)` (10,000), one ingest job each, same workers.
Prints API calls against the floor (changed / batch size), wall time and 429s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from syncer_connectors.salesforce.connector import SalesforceConnector
from syncer_connectors.salesforce.emulator import SalesforceEmulator
from syncer_connectors.salesforce.settings import SalesforceSettings

from syncer.connector import Destination, Record, Result

USER, PASSWORD = "bench@acme.example", "bench-pw"
ACCOUNT = Destination(
    "Account", "External_Id__c", fields={"Name": "name", "PQL_Score__c": "pql_score", "PQL_Tier__c": "pql_tier"}
)


def records(n: int) -> list[Record]:
    tiers = ("monitor", "nurture", "escalate")
    return [
        Record(
            f"acct-{i}",
            "upsert",
            {"Name": f"Account {i}", "PQL_Score__c": float(i % 101), "PQL_Tier__c": tiers[i % 3]},
            f"fp{i}",
            f"ik{i}",
            match_value=f"ext-{i:06d}",
        )
        for i in range(n)
    ]


def run(label: str, n: int, latency: float, bulk: bool, workdir: Path) -> dict[str, Any]:
    emulator = SalesforceEmulator(latency=latency, daily_limit=10_000_000)
    base_url, ca_bundle = emulator.start_tls(workdir)
    emulator.add_login(USER, PASSWORD)
    settings = SalesforceSettings.model_validate(
        {
            "instance_url": base_url,
            "login_url": base_url,
            "ca_bundle": ca_bundle,
            "auth": "password",
            "username": USER,
            "password": PASSWORD,
            "bulk_threshold": n if bulk else n + 1,
            "bulk_poll_interval": 0.5,
        }
    )
    connector = SalesforceConnector(settings, ACCOUNT)
    size = connector.preferred_batch_size(n)
    data = records(n)
    batches = [data[i : i + size] for i in range(0, n, size)]
    started = time.perf_counter()
    with ThreadPoolExecutor(connector.effective_concurrency) as pool:
        results: list[Result] = [r for batch in pool.map(connector.send, batches) for r in batch]
    wall = time.perf_counter() - started
    connector.close()
    emulator.stop()
    statuses = [status for _, _, status in emulator.requests]
    return {
        "path": label,
        "records": n,
        "ok": sum(r.status == "ok" for r in results),
        "batch": size,
        "api_calls": connector.stats.calls - emulator.login_count,
        "floor": -(-n // size),
        "wall_s": wall,
        "429s": statuses.count(429),
        "workers": connector.effective_concurrency,
        "stored": len(emulator.store.objects["Account"].rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            run("collections", args.n, args.latency, bulk=False, workdir=Path(tmp)),
            run("bulk 2.0", args.n, args.latency, bulk=True, workdir=Path(tmp)),
        ]
    header = f"{'path':<12} {'records':>8} {'ok':>8} {'batch':>6} {'workers':>7} {'api calls':>9} {'floor':>6} "
    print(f"latency {args.latency * 1000:.0f} ms per call\n" + header + f"{'wall s':>8} {'429s':>5} {'stored':>8}")
    for r in rows:
        print(
            f"{r['path']:<12} {r['records']:>8} {r['ok']:>8} {r['batch']:>6} {r['workers']:>7} {r['api_calls']:>9} "
            f"{r['floor']:>6} {r['wall_s']:>8.1f} {r['429s']:>5} {r['stored']:>8}"
        )


if __name__ == "__main__":
    main()
