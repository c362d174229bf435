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
- `source_fingerprints`: a 128-bit hash of every row's typed input columns (`hash_rows`, twice,
  seeded from the spec digest: mapping + column types + polars version), as "h1.h2" decimal text.
  No text is built per row. Stable within a polars version; a polars upgrade (or this format's
  introduction) makes every row be mapped once (payload fingerprints decide what is sent, so
  nothing is re-sent).
- `key_hashes`: 64-bit hashes of keys, for the removed-record check and the sidecar's lookup;
  `check_hashes`: 128 bits of (key, fingerprint), the sidecar's unchanged test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from syncer.columnar.batches import RowBatch
from syncer.source import row_key

SEEDS = (0x5EED_0001, 0x5EED_0002)  # two independently seeded 64-bit hashes: a 128-bit fingerprint


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


def source_fingerprint_parts(batch: RowBatch, inputs: Sequence[str], prefix: str) -> tuple[pl.Series, pl.Series]:
    """The fingerprint of each row as two UInt64 series (`polars.DataFrame.hash_rows` over the typed
    input columns, seeded from `prefix`, once per 64-bit half). Typed, not text: NULL, "" and 0 stay
    distinct per column; floats are hashed by their bits (polars' hash folds -0.0 into 0.0, which
    the mapping does not)."""
    frame = pl.DataFrame([_hashable(batch, c) for c in inputs])
    first, second = (frame.hash_rows(seed=int(prefix[i : i + 16], 16)) for i in (0, 16))
    return first.rename("fp1"), second.rename("fp2")


def fingerprint_text(first: pl.Series, second: pl.Series) -> pl.Series:
    """The fingerprint as state stores it: "h1.h2", both halves in decimal."""
    return (first.cast(pl.String) + "." + second.cast(pl.String)).rename("source_fp")


def source_fingerprints(batch: RowBatch, inputs: Sequence[str], prefix: str) -> pl.Series:
    """One fingerprint per row over `inputs` (pl.String "h1.h2"), `prefix` from `spec_digest`."""
    return fingerprint_text(*source_fingerprint_parts(batch, inputs, prefix))


def _hashable(batch: RowBatch, column: str) -> pl.Series:
    """A column as polars hashes it exactly: floats as their bit patterns; nested and dictionary
    columns (polars folds -0.0 inside lists, a categorical may hash its code), decimals wider than 38
    digits (Arrow's decimal256) and anything polars cannot take from Arrow as repr() text, as the row
    path sees the values."""
    array = batch.data.column(column)
    if pa.types.is_nested(array.type) or pa.types.is_dictionary(array.type) or pa.types.is_decimal256(array.type):
        return _repr_text(batch, column)  # (polars cannot hash a 256-bit decimal: it panics)
    if pa.types.is_floating(array.type):
        array = array.view({16: pa.uint16(), 32: pa.uint32(), 64: pa.uint64()}[array.type.bit_width])
    try:
        series = pl.Series(column, array)
        if series.dtype != pl.Object:  # polars hashes every dtype it maps Arrow to, but Object
            return series
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        pass
    return _repr_text(batch, column)


def _repr_text(batch: RowBatch, column: str) -> pl.Series:
    return pl.Series(column, [None if v is None else repr(v) for v in batch.values(column)], dtype=pl.String)


def check_hashes(keys: pl.Series, first: pl.Series, second: pl.Series) -> tuple[pl.Series, pl.Series]:
    """128 bits identifying (key, source fingerprint): what the sidecar compares for an unchanged
    verdict. The key itself goes in, so a 64-bit key-hash collision can never pass as a match."""
    frame = pl.DataFrame([keys.rename("key"), first.rename("fp1"), second.rename("fp2")])
    return frame.hash_rows(seed=SEEDS[0]).rename("check1"), frame.hash_rows(seed=SEEDS[1]).rename("check2")


def key_hashes(keys: pl.Series) -> pl.Series:
    """64-bit hashes of keys (UInt64), for `removed` detection: only compared within one process."""
    return _hash(keys, SEEDS[0])


def match_hashes(values: pl.Series) -> pl.Series:
    """64-bit hashes of match values' comparison forms (UInt64), for `key_repeats`: within one process."""
    return _hash(values, SEEDS[1])


IN_SORTED_CHUNK = 1 << 20  # 5M probes at once held 120 MB of positions (peak RSS of a 5M plan +70 MB)


def in_sorted(values: np.ndarray, ordered: np.ndarray) -> np.ndarray:
    """Boolean per value: it is in `ordered` (a sorted array). Sorted `values` walk `ordered` forwards
    (the fast case: 1M sorted probes into 1M about 0.02 s; unsorted, 5x the cache misses)."""
    if len(values) == len(ordered) and np.array_equal(values, ordered):
        return np.ones(len(values), dtype=bool)  # the window: model keys = state keys, 1M 0.05 -> 0.001 s
    found = np.zeros(len(values), dtype=bool)
    if not len(ordered):
        return found
    for start in range(0, len(values), IN_SORTED_CHUNK):  # positions are 8 bytes a probe: a chunk at a time
        part = values[start : start + IN_SORTED_CHUNK]
        at = np.minimum(np.searchsorted(ordered, part), len(ordered) - 1)
        found[start : start + len(part)] = ordered[at] == part
    return found


def _hash(series: pl.Series, seed: int) -> pl.Series:
    return series.hash(seed=seed)
