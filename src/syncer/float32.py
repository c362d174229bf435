"""32-bit floats as the warehouse holds them, not widened with binary noise, at every nesting.

A DuckDB REAL/FLOAT value reaches Python as the 64-bit float nearest the 32-bit one:
`82.3::REAL` is 82.30000305175781, which HubSpot then stores and Salesforce's double(18,2) refuses
(14 decimals). The warehouse itself shows 82.3 (DuckDB, PostgreSQL and Arrow all print a float32
as the shortest decimal that reads back as the same 32-bit value). So syncer reads a float32 as
that shortest decimal, then as a 64-bit float: 82.3. PostgreSQL `real` needs nothing (psycopg
parses the server's text); Snowflake and BigQuery have no 32-bit float.

The same holds inside nested values: a float32 field of a STRUCT, the keys and values of a MAP, a
UNION member, and any LIST / ARRAY of those (LIST of STRUCT, STRUCT of LIST, ...). A mixed struct
keeps its other fields as they are (each field by its own type).

Shapes: `shortest(value: float) -> float`; `narrowing(description) -> {position: narrow} | None` for
a DB-API description (DuckDB's type objects: `FLOAT`, `FLOAT[]`, `FLOAT[3]`, `STRUCT(x FLOAT)`,
`MAP(VARCHAR, FLOAT)`, `UNION(f FLOAT, t VARCHAR)`, nested as deep as they go);
`narrow_rows(rows, narrowing)`; `arrow(batch) -> batch` with every float32 (at any depth) as float64
of its shortest text.

Limit (rows and warehouse modes only): DuckDB hands a UNION's value to Python without its tag, so in
a UNION with both a FLOAT and a DOUBLE member a value is taken for the FLOAT's when it is exactly a
float32 (a DOUBLE holding exactly a float32's widening, 0.10000000149011612, is read as 0.1 there).
The columnar mode reads the tag (Arrow) and has no such limit.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from typing import Any

_F32 = struct.Struct("<f")
Narrow = Callable[[Any], Any]
SHAPES: dict[str, Any] = {
    "float": float, "double": float, "struct": dict, "map": dict, "list": (list, tuple), "array": (list, tuple)
}  # fmt: skip
NESTED = ("list", "array", "struct", "map", "union")


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


def _is_float32(value: Any) -> bool:
    try:
        return isinstance(value, float) and _F32.unpack(_F32.pack(value))[0] == value
    except OverflowError:
        return False


def _duckdb_type(code: Any) -> Any:
    """The DuckDB type object of a description's type code, None for another driver's code. Only DuckDB's
    own type objects count: BigQuery's driver names its 64-bit FLOAT64 "FLOAT" (a text code), which
    must never be read as a float32."""
    return code if type(code).__name__ == "DuckDBPyType" else None


def _narrower(kind: Any) -> Narrow | None:
    """The function making a Python value of DuckDB type `kind` exact, None when nothing in it is a float32."""
    name = kind.id
    if name == "float":
        return shortest
    if name not in NESTED:
        return None
    children = list(kind.children)
    if name in ("list", "array"):
        item = _narrower(dict(children)["child"])
        return None if item is None else (lambda v: v if v is None else [item(x) for x in v])
    if name == "struct":
        fields = {field: f for field, child in children if (f := _narrower(child)) is not None}
        if not fields:
            return None
        return lambda v: v if v is None else {k: fields[k](x) if k in fields else x for k, x in v.items()}
    if name == "map":
        key, value = _narrower(dict(children)["key"]), _narrower(dict(children)["value"])
        if key is None and value is None:
            return None
        k_, v_ = key or _same, value or _same
        return lambda v: {k_(k): v_(x) for k, x in v.items()} if isinstance(v, dict) else v
    return _union(children[1:])  # children[0] is the tag


def _same(value: Any) -> Any:
    return value


def _union(members: list[tuple[str, Any]]) -> Narrow | None:
    """A UNION's value comes without its tag: the member is the one whose Python shape it has."""
    plans = [(child, _narrower(child)) for _, child in members]
    if all(plan is None for _, plan in plans):
        return None

    def narrow(value: Any) -> Any:
        fits = [(child, plan) for child, plan in plans if isinstance(value, SHAPES.get(child.id, ()))]
        if len(fits) == 1:
            plan = fits[0][1]
            return value if plan is None else plan(value)
        if {child.id for child, _ in fits} == {"float", "double"} and _is_float32(value):
            return shortest(value)  # the module docstring's limit
        return value

    return narrow


def narrowing(description: Sequence[Sequence[Any]] | None) -> dict[int, Narrow] | None:
    """Position -> narrowing function of the result's columns holding a 32-bit float at any depth, or None."""
    found = {}
    for i, column in enumerate(description or ()):
        kind = _duckdb_type(column[1])
        plan = _narrower(kind) if kind is not None else None
        if plan is not None:
            found[i] = plan
    return found or None


def narrow_rows(rows: Sequence[Sequence[Any]], plans: dict[int, Narrow]) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        values = list(row)
        for i, plan in plans.items():
            values[i] = plan(values[i])
        out.append(tuple(values))
    return out


def arrow(batch: Any) -> Any:
    """`batch` (pyarrow RecordBatch) with every float32, at any depth, as float64 of its shortest text
    (Arrow's own float32 -> string cast is the shortest round-trip form)."""
    import pyarrow as pa

    if not any(_holds(f.type, pa.types.is_float32) for f in batch.schema):
        return batch
    return pa.RecordBatch.from_arrays([narrow_array(c) for c in batch.columns], names=batch.schema.names)


def _kids(kind: Any) -> list[Any]:
    return [kind.field(i) for i in range(kind.num_fields)]


def _holds(kind: Any, test: Callable[[Any], bool]) -> bool:
    return bool(test(kind)) or any(_holds(f.type, test) for f in _kids(kind))


def _replaced(kind: Any, leaf: Any) -> Any:
    """Arrow type `kind` (no union inside) with every float32 replaced by `leaf`."""
    import pyarrow as pa

    if pa.types.is_float32(kind):
        return leaf
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_replaced(f.type, leaf)) for f in _kids(kind)])
    if pa.types.is_map(kind):
        return pa.map_(_replaced(kind.key_type, leaf), _replaced(kind.item_type, leaf))
    if pa.types.is_large_list(kind):
        return pa.large_list(kind.value_field.with_type(_replaced(kind.value_type, leaf)))
    if pa.types.is_fixed_size_list(kind):
        return pa.list_(kind.value_field.with_type(_replaced(kind.value_type, leaf)), kind.list_size)
    if pa.types.is_list(kind):
        return pa.list_(kind.value_field.with_type(_replaced(kind.value_type, leaf)))
    return kind


def _copy(values: Any) -> Any:
    """A sliced buffer view as an array of its own (offset 0): the union constructors count from 0."""
    import pyarrow as pa

    return pa.array(values.to_numpy(zero_copy_only=False), values.type)


def narrow_array(values: Any) -> Any:
    """One Arrow array with every float32 inside as float64 of its shortest text. Without a union inside,
    one cast there and back through text (Arrow casts nested types field by field); a union (which Arrow
    does not cast) is rebuilt from its narrowed members, and so is every struct or list holding one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type
    if not _holds(kind, pa.types.is_float32):
        return values
    if not _holds(kind, pa.types.is_union):
        return pc.cast(pc.cast(values, _replaced(kind, pa.string())), _replaced(kind, pa.float64()))
    if pa.types.is_union(kind):
        members = [narrow_array(values.field(i)) for i in range(kind.num_fields)]
        names, codes = [f.name for f in _kids(kind)], list(kind.type_codes)
        # from the buffers, not .type_codes / .offsets: those ignore a slice's offset (pyarrow 26)
        head = [None, values.buffers()[1]]
        tags = _copy(pa.Array.from_buffers(pa.int8(), len(values), head, offset=values.offset))
        if kind.mode == "sparse":
            return pa.UnionArray.from_sparse(tags, members, names, codes)
        at = [None, values.buffers()[2]]
        offsets = _copy(pa.Array.from_buffers(pa.int32(), len(values), at, offset=values.offset))
        return pa.UnionArray.from_dense(tags, offsets, members, names, codes)
    mask = values.is_null() if values.null_count else None
    if pa.types.is_struct(kind):  # field(i), not flatten(): flatten would give a union member a validity bitmap
        fields = [narrow_array(values.field(i)) for i in range(kind.num_fields)]
        named = [f.with_type(child.type) for f, child in zip(_kids(kind), fields, strict=True)]
        return pa.StructArray.from_arrays(fields, fields=named, mask=mask)
    if pa.types.is_map(kind):
        return pa.MapArray.from_arrays(values.offsets, narrow_array(values.keys), narrow_array(values.items), mask=mask)
    if pa.types.is_fixed_size_list(kind):
        return pa.FixedSizeListArray.from_arrays(narrow_array(values.flatten()), kind.list_size, mask=mask)
    if pa.types.is_large_list(kind):
        return pa.LargeListArray.from_arrays(values.offsets, narrow_array(values.values), mask=mask)
    return pa.ListArray.from_arrays(values.offsets, narrow_array(values.values), mask=mask)
