"""Benchmark: refresh_scores on 100,000 accounts x 90 days of usage in DuckDB.

Each phase runs in its own process so its peak RSS is its own: building the synthetic world, then
scoring it (a cold refresh, then a second, warm one). Prints a table.

    /work/venv/bin/python benchmarks/bench_score.py [--accounts 100000] [--days 90]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncer.scoring.model import ScoringConfig
from syncer.scoring.refresh import refresh_scores
from syncer.scoring.synthetic import build_world


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _build(url: str, accounts: int, days: int, out: Any) -> None:
    started = time.perf_counter()
    engine = sa.create_engine(url)
    as_of = build_world(engine, accounts=accounts, days=days, seed=1)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM usage_daily")).scalar_one()
    out.put({"as_of": as_of, "usage_rows": rows, "seconds": time.perf_counter() - started, "rss": _peak_rss_mb()})


def _score(url: str, as_of: Any, out: Any) -> None:
    engine = sa.create_engine(url)
    runs = []
    for _ in range(2):
        summary = refresh_scores(engine, ScoringConfig(), as_of)
        runs.append(summary)
    out.put({"runs": [(s.seconds, s.rows_fetched, s.accounts_scored, s.triggers_fired, s.published) for s in runs],
             "tiers": runs[-1].pql_tiers, "rss": _peak_rss_mb()})  # fmt: skip


def _in_process(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, out))
    proc.start()
    result: dict[str, Any] = out.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"duckdb:///{Path(tmp) / 'bench.duckdb'}"
        built = _in_process(_build, url, args.accounts, args.days)
        scored = _in_process(_score, url, built["as_of"])
        size_mb = (Path(tmp) / "bench.duckdb").stat().st_size / 2**20
    rows = built["usage_rows"]
    print(f"\nrefresh_scores on DuckDB: {args.accounts:,} accounts x {args.days} days = {rows:,} usage rows")
    print(f"{'step':<28}{'wall s':>10}{'rows to Python':>16}{'peak RSS MB':>14}")
    print(f"{'build_world (setup)':<28}{built['seconds']:>10.2f}{'-':>16}{built['rss']:>14.0f}")
    for i, (seconds, fetched, *_) in enumerate(scored["runs"]):
        label = "refresh_scores " + ("(cold)" if i == 0 else "(warm)")
        print(f"{label:<28}{seconds:>10.2f}{fetched:>16}{scored['rss']:>14.0f}")
    _, _, scored_n, fired, published = scored["runs"][-1]
    print(f"\naccounts scored {scored_n:,}, triggers fired {fired:,}, published {published}")
    print(f"PQL tiers {scored['tiers']}")
    print(f"database file {size_mb:.0f} MB; peak RSS of the scoring process covers both refreshes")


if __name__ == "__main__":
    main()
