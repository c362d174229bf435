"""90 days of the guardrails world (tests/alerts/test_guardrails.py) on a patched clock, emulators on loopback.

    PYTHONPATH=. python benchmarks/bench_budget_sim.py [days] [accounts]   (it reuses the tests' world)

Prints pings per recipient per local day (max / p95 / mean), how many alerts were deferred past the
budget and in how many digests each appears (must be exactly one), and the first day's activation.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from syncer_connectors.slack.emulator import SlackEmulator
from tests.alerts.support import Clock, hubspot, workspace
from tests.alerts.test_guardrails import distribution, simulate


def main() -> int:
    days = int(sys.argv[1]) if len(sys.argv) > 1 else 90
    accounts = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    clock = Clock()
    started = time.perf_counter()
    with SlackEmulator() as slack, tempfile.TemporaryDirectory() as tmp:
        workspace(slack, clock)
        crm = hubspot(clock, 60)
        try:
            sim = simulate(Path(tmp), slack, crm, clock, days=days, accounts=accounts)
        finally:
            crm.stop()
    first = sim.first_day["report"].evaluation
    print(f"{days} days, {accounts} accounts, 5 reps, budget 5 pings per rep per local day")
    print(f"pings per recipient per day: {distribution(list(sim.pings.values()))}")
    per_alert = dict(Counter(sim.deferred_in_digests.values()))
    print(f"deferred past the budget: {sim.deferred}; digests per deferred alert: {per_alert}")
    print(
        f"first activation: {first.opened} alerts, {first.backlog} backlog, "
        f"{sim.first_day['report'].pings.sent.get('ping', 0)} pings, "
        f"{len(sim.first_day['digests']['built'])} digests for {len(sim.backlog_recipients)} recipients"
    )
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
