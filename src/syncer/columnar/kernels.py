"""Vectorised per-batch kernels: canonical record keys, source fingerprints, key hashes.

Chosen on measurement (benchmarks/bench_kernels.py, one 1M-row batch of the plan benchmark's
model): polars builds the canonical encoding and hashes it in native code; pyarrow.compute can
build the encoding but has no scalar hash kernel, so each row would go back through Python's
hashlib. Shapes: every function takes one batch (n rows) and returns n values in row order.

- `record_keys`: the state key of each row, exactly `syncer.source.row_key` of its primary-key
  values (None where a key column is NULL or `row_key` refuses the value). Integer and text keys
  are cast in native code; each batch is checked against `row_key` on a sample, and any other
  type (or a canonical form the cast does not reproduce) goes through `row_key` row by row, so
  the key is always the engine's.
- `source_fingerprints`: a 128-bit hash (two seeded 64-bit xxhash-family polars hashes, as
  "h1.h2" decimal text) of the spec (mapping + column types) and the length-prefixed text of every
  input column. Stable within a polars version; a polars upgrade that changes its hash makes every
  row be mapped once (payload fingerprints decide what is sent, so nothing is re-sent).
- `key_hashes`: 64-bit hashes of keys, for the bounded-memory removed-record check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from syncer.columnar.batches import RowBatch
from syncer.source import row_key

SEEDS = (0x5EED_0001, 0x5EED_0002)  # two independently seeded 64-bit hashes: a 128-bit fingerprint
NULL = "-"  # a NULL input; never a length prefix, so it cannot collide with a value


def _castable(dtype: pa.DataType) -> bool:
    return bool(pa.types.is_integer(dtype) or pa.types.is_string(dtype) or pa.types.is_large_string(dtype))


def record_keys(batch: RowBatch, primary_key: Sequence[str]) -> pl.Series:
    """Canonical keys (pl.String, null where any key column is NULL), in row order."""
    data = batch.data
    if all(_castable(data.schema.field(c).type) and c not in batch.tagged for c in primary_key):
        parts = [pl.Series(c, data.column(c)).cast(pl.String) for c in primary_key]
        keys = parts[0] if len(parts) == 1 else pl.DataFrame(parts).select(pl.concat_str(pl.all(), separator="\x1f"))
        keys = keys.to_series() if isinstance(keys, pl.DataFrame) else keys
        if _agrees(keys, batch, primary_key):
            return keys.rename("key")
    columns = [batch.values(c) for c in primary_key]
    return pl.Series("key", [_key_or_none(list(vs)) for vs in zip(*columns, strict=True)], dtype=pl.String)


def _key_or_none(values: list[Any]) -> str | None:
    """`row_key`, or None for a key it refuses (NULL, or a value that cannot identify a record)."""
    if any(v is None for v in values):
        return None
    try:
        return row_key(values)
    except ValueError:
        return None


def _agrees(keys: pl.Series, batch: RowBatch, primary_key: Sequence[str]) -> bool:
    """The native cast matches `row_key` on a sample (first, middle, last non-NULL rows)."""
    n = len(keys)
    for i in {0, n // 2, n - 1} if n else set():
        values = [batch.data.column(c)[i].as_py() for c in primary_key]
        if any(v is None for v in values):
            continue
        if keys[i] != row_key(values):
            return False
    return True


def spec_digest(spec: Any, batch: RowBatch, inputs: Sequence[str]) -> str:
    """The fingerprint's prefix: the mapping spec and the Arrow type of every input column."""
    types = [str(batch.data.schema.field(c).type) + ("/tagged" if c in batch.tagged else "") for c in inputs]
    return hashlib.blake2b(repr((spec, types, pl.__version__)).encode(), digest_size=16).hexdigest()


def source_fingerprints(batch: RowBatch, inputs: Sequence[str], prefix: str) -> pl.Series:
    """One fingerprint per row over `inputs` (pl.String), `prefix` from `spec_digest`."""
    frame = pl.DataFrame([_input_text(batch, c) for c in inputs])
    encoded = [
        pl.when(pl.col(c).is_null())
        .then(pl.lit(NULL))
        .otherwise(pl.concat_str(pl.col(c).str.len_bytes().cast(pl.String), pl.lit(":"), pl.col(c)))
        for c in inputs
    ]
    blob = frame.select(pl.concat_str([pl.lit(prefix), *encoded], separator="|").alias("blob")).to_series()
    first, second = (_hash(blob, seeds).cast(pl.String) for seeds in SEEDS)
    return (first + "." + second).rename("source_fp")


def _input_text(batch: RowBatch, column: str) -> pl.Series:
    """A column as text: cast in native code; binary and nested values through repr()."""
    series = pl.Series(column, batch.data.column(column))
    if series.dtype != pl.Binary and not series.dtype.is_nested():
        try:
            return series.cast(pl.String)
        except pl.exceptions.PolarsError:
            pass
    return pl.Series(column, [None if v is None else repr(v) for v in batch.values(column)], dtype=pl.String)


def key_hashes(keys: pl.Series) -> pl.Series:
    """64-bit hashes of keys (UInt64), for `removed` detection: only compared within one process."""
    return _hash(keys, SEEDS[0])


def _hash(series: pl.Series, seed: int) -> pl.Series:
    return series.hash(seed=seed)
