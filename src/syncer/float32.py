"""32-bit floats as the warehouse holds them, not widened with binary noise.

A DuckDB REAL/FLOAT value reaches Python as the 64-bit float nearest the 32-bit one:
`82.3::REAL` is 82.30000305175781, which HubSpot then stores and Salesforce's double(18,2) refuses
(14 decimals). The warehouse itself shows 82.3 (DuckDB, PostgreSQL and Arrow all print a float32
as the shortest decimal that reads back as the same 32-bit value). So syncer reads a float32 as
that shortest decimal, then as a 64-bit float: 82.3. PostgreSQL `real` needs nothing (psycopg
parses the server's text); Snowflake and BigQuery have no 32-bit float.

Shapes: `shortest(value: float) -> float`; `narrowing(description) -> positions | None` for a
DB-API description (DuckDB type codes `FLOAT`, `FLOAT[]`, `FLOAT[3]`); `narrow_rows(rows, positions)`;
`arrow(batch) -> batch` with float32 (and list / fixed-size list of float32) columns as float64 of
their shortest text. Not narrowed yet: float32 inside a STRUCT, MAP or UNION (a mixed struct needs
the type of each field, not of the column).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

_F32 = struct.Struct("<f")


def shortest(value: float) -> float:
    """The 64-bit float of the shortest decimal that reads back as the same 32-bit float `value`
    (the nearest such decimal, as Ryu and double-conversion choose). Non-finite values unchanged."""
    if not isinstance(value, float) or not math.isfinite(value) or value == 0.0:
        return value
    for digits in range(1, 10):  # 9 significant digits always round-trip a float32 (IEEE 754)
        text = f"{value:.{digits}g}"
        try:
            if _F32.unpack(_F32.pack(float(text)))[0] == value:
                return float(text)
        except OverflowError:  # rounded past the largest float32 (3.4028235e38 from FLT_MAX): more digits
            continue
    return value


def _narrow(value: Any) -> Any:
    if isinstance(value, float):
        return shortest(value)
    if isinstance(value, list | tuple):
        return [_narrow(v) for v in value]
    return value


def narrowing(description: Sequence[Sequence[Any]] | None) -> list[int] | None:
    """Positions of the result's 32-bit float columns (DuckDB: `FLOAT`, `FLOAT[]`, `FLOAT[3]`), or None."""
    found = [i for i, column in enumerate(description or ()) if str(column[1]).split("[")[0] == "FLOAT"]
    return found or None


def narrow_rows(rows: Sequence[Sequence[Any]], positions: list[int]) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        values = list(row)
        for i in positions:
            values[i] = _narrow(values[i])
        out.append(tuple(values))
    return out


def arrow(batch: Any) -> Any:
    """`batch` (pyarrow RecordBatch) with its float32 and list<float32> columns as float64 of their
    shortest text (Arrow's own float32 -> string cast is the shortest round-trip form)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def wider(t: Any) -> Any:
        if pa.types.is_float32(t):
            return pa.float64(), pa.string()
        if (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_float32(t.value_type):
            return pa.list_(pa.float64()), pa.list_(pa.string())
        if pa.types.is_fixed_size_list(t) and pa.types.is_float32(t.value_type):
            return pa.list_(pa.float64(), t.list_size), pa.list_(pa.string(), t.list_size)
        return None

    plans = [wider(f.type) for f in batch.schema]
    if not any(plans):
        return batch
    columns = [
        col if plan is None else pc.cast(pc.cast(col, plan[1]), plan[0])
        for col, plan in zip(batch.columns, plans, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
