"""Pings per recipient per local day in a finished `syncer demo` folder (or any SQLite state).

    python benchmarks/bench_ping_budget.py syncer-demo/data/state.db [--zone America/New_York]

Counts every delivered immediate ping (Slack `ping` and alert `email` outbox rows) by recipient and
the recipient's local day, and prints max / p95 / mean over (recipient, day) pairs - the alert-fatigue
number issue 14 is about - plus the deferred and digested counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
from collections import Counter
from zoneinfo import ZoneInfo

import sqlalchemy as sa


def distribution(counts: list[int]) -> dict[str, float]:
    if not counts:
        return {"pairs": 0, "max": 0, "p95": 0, "mean": 0.0}
    ordered = sorted(counts)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {"pairs": len(counts), "max": ordered[-1], "p95": p95, "mean": round(statistics.fmean(counts), 2)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("state")
    parser.add_argument("--zone", default="America/New_York")
    args = parser.parse_args()
    zone = ZoneInfo(args.zone)
    engine = sa.create_engine(f"sqlite:///{args.state}")
    per: Counter[tuple[str, str, dt.date]] = Counter()
    with engine.connect() as conn:
        sent = (
            "SELECT kind, recipient, created_at FROM alert_outbox"
            " WHERE kind IN ('ping', 'email') AND status = 'delivered'"
        )
        rows = conn.execute(sa.text(sent))
        for kind, recipient, created in rows:
            at = dt.datetime.fromisoformat(str(created))
            at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
            per[(kind, recipient, at.astimezone(zone).date())] += 1
        deliveries = dict(conn.execute(sa.text("SELECT delivery, count(*) FROM alerts GROUP BY delivery")).all())
    dms = [n for (kind, who, _), n in per.items() if kind == "ping" and who[:1] in ("U", "W")]
    channels = [n for (kind, who, _), n in per.items() if kind == "ping" and who[:1] in ("C", "G")]
    print(f"{'recipients':<22}{'pairs':>7}{'max':>6}{'p95':>6}{'mean':>8}")
    for label, counts in (("reps (Slack DMs)", dms), ("shared channels", channels)):
        d = distribution(counts)
        print(f"{label:<22}{d['pairs']:>7}{d['max']:>6}{d['p95']:>6}{d['mean']:>8}")
    print("alerts by delivery:", deliveries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
