"""The columnar diff's unchanged test alone: the sidecar's sorted search against the stream-order list.

For N records (random 128-bit checks, as `kernels.check_hashes` gives), a sidecar file and a stream-
order list are written to a temporary directory as a run leaves them; then the model is probed in
batches of 50,000 (the plan's batch), 1% of the rows changed, in each model order below, by:

  sorted   `Sidecar.holds_checks` over the sidecar mapped as a plan maps it (`mapped_checks`)
  order    `StreamOrder.found`, then the sorted search for the rows it did not find (the plan's path)

Prints, per N and order, CPU seconds for the whole model, ns a row, the rows the list vouched for and
the process's RSS growth (VmRSS) over the pass. Every answer is checked against the sorted
search. Usage: `python benchmarks/bench_stream_order.py [--sizes 1000000 5000000] [--repeat 3]`.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

import numpy as np

from syncer.columnar import sidecar as sidecar_module
from syncer.columnar.sidecar import Sidecar
from syncer.columnar.stream_order import Recorder, open_order, path_for, unchanged

BATCH = 50_000
ORDERS = ["unchanged", "1,000 rows inserted at the front", "shuffled"]


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def setup(root: Path, n: int) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(16)
    c1 = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    c2 = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    order = np.argsort(c1)
    path = root / "m.arrow"
    Sidecar("m", 1, c1[order], c2[order], np.sort(c1), n).write(path)
    recorder = Recorder()
    for start in range(0, n, BATCH):
        recorder.append(c1[start : start + BATCH], c2[start : start + BATCH])
    recorder.finish(path_for(path), "m", 1, lambda a, b: np.ones(len(a), dtype=bool))
    recorder.close()
    return path, c1, c2


def model(c1: np.ndarray, c2: np.ndarray, order: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    c1, c2 = c1.copy(), c2.copy()
    changed = rng.choice(len(c1), len(c1) // 100, replace=False)
    c2[changed] += np.uint64(1)
    if order == "1,000 rows inserted at the front":
        new = rng.integers(0, 2**64 - 1, (2, 1000), dtype=np.uint64)
        c1, c2 = np.concatenate([new[0], c1]), np.concatenate([new[1], c2])
    elif order == "shuffled":
        at = rng.permutation(len(c1))
        c1, c2 = c1[at], c2[at]
    return c1, c2


def probe(path: Path, c1: np.ndarray, c2: np.ndarray, use_order: bool) -> tuple[float, int, int, np.ndarray]:
    """(CPU s, rows the list vouched for, RSS growth KB over the pass (pages of the mapped checks still
    resident, the list's chunk), the answers) for one pass over the model."""
    found_sidecar = sidecar_module.load(path, "m", 1, keys=False)
    assert found_sidecar is not None
    order = open_order(path_for(path), "m", 1) if use_order else None
    answers = np.zeros(len(c1), dtype=bool)
    before = rss_kb()
    started = resource.getrusage(resource.RUSAGE_SELF)
    for start in range(0, len(c1), BATCH):
        a, b = c1[start : start + BATCH], c2[start : start + BATCH]
        answers[start : start + len(a)] = unchanged(order, found_sidecar, a, b)  # as `ColumnarDiffer` asks
    ended = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ended.ru_utime + ended.ru_stime - started.ru_utime - started.ru_stime
    vouched = order.vouched if order is not None else 0
    if order is not None:
        order.close()
    return cpu, vouched, rss_kb() - before, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="best of N")
    args = parser.parse_args()
    print("| records | model order | path | CPU s (best) | ns a row | vouched by the list | RSS growth MB |")
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="bench-order-") as tmp:
            path, c1, c2 = setup(Path(tmp), n)
            for name in ORDERS:
                m1, m2 = model(c1, c2, name)
                results = {}
                for use_order in (False, True):
                    runs = [probe(path, m1, m2, use_order) for _ in range(args.repeat)]
                    results[use_order] = min(runs, key=lambda r: r[0])
                assert np.array_equal(results[False][3], results[True][3]), "the answers differ"
                for use_order, (cpu, vouched, growth, _) in results.items():
                    label = "order + sorted" if use_order else "sorted"
                    print(
                        f"| {n:,} | {name} | {label} | {cpu:.2f} | {cpu / len(m1) * 1e9:.0f} | {vouched:,} | "
                        f"{growth / 1024:.0f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
