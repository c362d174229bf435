"""What each changed row costs in Python, stage by stage, in a real plan (issue 16).

    .venv/bin/python benchmarks/bench_rowcost.py --config /tmp/b1000000/columnar/config.toml

`--config`: a project `bench_plan.py` built (any diff mode; its warehouse with some rows changed).
One real `SyncJob.plan()` runs first, against an in-process WebhookReceiver, and every chunk the diff
hands to `Differ._compare` (the rows that must be mapped: added, changed, never fingerprinted) is
kept. Then, on exactly those rows, each stage runs alone, best of `--repeat`, and the table gives
microseconds per changed row:

  key          Differ._key(row): canonical key, NULL / duplicate / collision checks (warehouse mode
               does this for every returned row; the columnar path only for flagged rows)
  state        state's records for the chunk's keys (state_columns.known_records, one query a chunk)
  map          Mapper.map(row): the field transforms and the destination-type conversions
  fingerprint  Mapper.fingerprint: the payload's JSON and its blake2b
  compare      Differ._compare(chunk) whole: state + map + fingerprint + the Change objects

Run it once per code state to compare them (e.g. PYTHONPATH=<an export of the old tree>/src).
CPU time of the one thread, best of N: other processes on the machine still disturb its caches.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import bench_plan  # open_job, preload, SECRET: the project bench_plan.py built


def best(run: Callable[[], Any], rows: int, repeat: int) -> float:
    """CPU microseconds per row of the fastest of `repeat` runs (CPU, not wall: a process that waits
    for one of the two cores while others run is not charged for the wait)."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return min(times) / rows * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from syncer import diff
    from syncer.columnar.state_columns import StateReader, known_records

    chunks: list[list[tuple[str, dict[str, Any], str]]] = []
    differs: list[diff.Differ] = []
    compare = diff.Differ._compare

    def keep(differ: diff.Differ, chunk: list[tuple[str, dict[str, Any], str]]) -> Any:
        chunks.append(list(chunk))
        differs[:] = [differ]
        return compare(differ, chunk)

    diff.Differ._compare = keep  # type: ignore[method-assign]
    with bench_plan.receiver():
        job = bench_plan.open_job(args.config)
        bench_plan.preload("plan", job.config.warehouse.url)
        started = time.perf_counter()
        summary = job.plan()
        plan_wall = time.perf_counter() - started
        tally = summary.tally.as_dict()  # before the stages below count the same rows again
    diff.Differ._compare = compare  # type: ignore[method-assign]
    chunks = [c for c in chunks if c]
    if not chunks:
        raise SystemExit("the plan mapped no row: build a project with changed rows (bench_plan.py)")
    differ, mapper = differs[0], differs[0].mapper
    rows = [row for chunk in chunks for _, row, _ in chunk]
    keys = [[key for key, _, _ in chunk] for chunk in chunks]
    mapped = [mapper.map(row) for row in rows]
    reader = StateReader(job.state)
    differ._reader = reader  # type: ignore[attr-defined]  (the columnar and warehouse differs read state through it)
    n, repeat = len(rows), args.repeat

    def compare_all() -> None:
        for chunk in chunks:
            for _ in compare(differ, chunk):
                pass

    probe = diff.Differ(differ.sync, differ.primary_key, mapper, job.state, differ.keys)
    stages = {
        "key": best(lambda: [probe._key(row, fingerprint=False) for row in rows], n, repeat),
        "state": best(lambda: [known_records(reader, differ.sync, k) for k in keys], n, repeat),
        "map": best(lambda: [mapper.map(row) for row in rows], n, repeat),
        "fingerprint": best(lambda: [mapper.fingerprint(m, f) for m, f in mapped], n, repeat),
        "compare": best(compare_all, n, repeat),
    }
    reader.close()
    job.close()
    job.state.close()
    out = {
        "mode": job.config.warehouse.diff,
        "changed rows": n,
        "plan wall s": round(plan_wall, 3),
        "tally": tally,
        "us per changed row": {k: round(v, 2) for k, v in stages.items()},
        "load": os.getloadavg()[0],
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
