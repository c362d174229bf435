"""Per-batch kernels of the columnar diff: pyarrow.compute vs polars on one 1M-row batch.

Both build the same canonical encoding of the mapping's input columns (length-prefixed text, a
marker for NULL) and the key column as text; pyarrow has no scalar hash kernel, so its
fingerprints go through hashlib row by row, while polars hashes in native code. Prints wall and
CPU seconds per step. Usage: `python benchmarks/bench_kernels.py [--rows N]`.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import time
from collections.abc import Callable
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

INPUTS = ["domain", "name", "pql_score", "tier"]


def model(rows: int) -> pa.RecordBatch:
    sql = (
        "SELECT i AS account_id, 'Account ' || i AS name, 'acct' || i || '.example.com' AS domain, "
        "CAST((i * 7) % 101 AS DOUBLE) AS pql_score, "
        "CASE i % 3 WHEN 0 THEN 'monitor' WHEN 1 THEN 'nurture' ELSE 'escalate' END AS tier "
        f"FROM range(1, {rows + 1}) AS r(i)"
    )
    return duckdb.connect().sql(sql).to_arrow_table().combine_chunks().to_batches()[0]


def pyarrow_kernels(batch: pa.RecordBatch) -> tuple[Any, Any]:
    keys = pc.cast(batch.column("account_id"), pa.string())
    parts = []
    for c in INPUTS:
        text = pc.cast(batch.column(c), pa.string())
        framed = pc.binary_join_element_wise(pc.cast(pc.binary_length(text), pa.string()), text, ":")
        parts.append(pc.fill_null(framed, "-"))
    blob = pc.binary_join_element_wise(*parts, "|")
    fps = [hashlib.blake2b(b.encode(), digest_size=16).hexdigest() for b in blob.to_pylist()]
    return keys, fps


def polars_kernels(batch: pa.RecordBatch) -> tuple[Any, Any]:
    keys = pl.Series(batch.column("account_id")).cast(pl.String)
    frame = pl.DataFrame([pl.Series(c, batch.column(c)).cast(pl.String) for c in INPUTS])
    encoded = [
        pl.when(pl.col(c).is_null())
        .then(pl.lit("-"))
        .otherwise(pl.concat_str(pl.col(c).str.len_bytes().cast(pl.String), pl.lit(":"), pl.col(c)))
        for c in INPUTS
    ]
    blob = frame.select(pl.concat_str(encoded, separator="|").alias("b")).to_series()
    fps = blob.hash(seed=1).cast(pl.String) + "." + blob.hash(seed=2).cast(pl.String)
    return keys, fps


def timed(fn: Callable[[pa.RecordBatch], Any], batch: pa.RecordBatch) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    fn(batch)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter() - started, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    batch = model(args.rows)
    print(f"{'kernels':>10} {'wall s':>8} {'cpu s':>8}   ({args.rows:,} rows, keys + source fingerprints)")
    for name, fn in (("pyarrow", pyarrow_kernels), ("polars", polars_kernels)):
        wall, cpu = min(timed(fn, batch) for _ in range(3))
        print(f"{name:>10} {wall:>8.2f} {cpu:>8.2f}")


if __name__ == "__main__":
    main()
