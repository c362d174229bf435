"""The model as Arrow record batches, through the warehouse driver's native Arrow path if it has one.

Each `RowBatch` carries the columns (a `pyarrow.RecordBatch`) and a way to turn chosen rows back
into the exact dicts `Source.stream` yields, so the rows that must be mapped see the same Python
values the row-at-a-time path sees. Native paths are used only when every column's type converts
to the same Python value through Arrow as through the DB-API driver (e.g. DuckDB HUGEINT arrives
in Arrow as decimal128(38, 0) but from the driver as int; UUID as string vs uuid.UUID): a model
with another type is read through SQLAlchemy rows instead. Sources:
- DuckDB: `DuckDBPyConnection.sql(...).to_arrow_reader(n)` (`record_batch(n)` in older releases).
- PostgreSQL: ADBC (`adbc-driver-postgresql`) when installed, see `native_postgres`.
- Snowflake: `SnowflakeCursor.fetch_arrow_batches()`, see `native_snowflake`.
- BigQuery: the Storage Read API (`RowIterator.to_arrow_iterable`) when google-cloud-bigquery-storage
  is installed, see `native_bigquery`.
- anything else: `Result.partitions(n)` rows -> columns with `pyarrow.array`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa
import sqlalchemy as sa

from syncer import float32
from syncer.columnar import native_bigquery, native_postgres, native_snowflake
from syncer.config import ModelConfig, WarehouseConfig
from syncer.diff import partial_row
from syncer.errors import FatalError
from syncer.identity import Unrepresentable
from syncer.secrets import masked_first_line
from syncer.source import Source, column_names, fetched

# DuckDB types whose Arrow form converts back to the value the DuckDB Python driver returns
_DUCKDB_SAFE = re.compile(
    r"^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|VARCHAR"
    r"|DATE|TIME|TIMESTAMP|BLOB|DECIMAL\((\d+),(\d+)\))$"
)


@dataclass
class RowBatch:
    """A slice of the model: its columns, and the rows as the row path would see them.

    `rows(indices)` -> list of dicts (column name -> Python value), in the order asked.
    `values(column)` -> the column's Python values (exact driver values, for key canonicalisation).
    `partial(indices, columns)` -> the same rows holding only `columns` (`diff.PartialRow`), or None
    when the batch cannot narrow them (see `rows_for`).
    """

    data: pa.RecordBatch
    rows: Callable[[Sequence[int]], list[dict[str, Any]]]
    values: Callable[[str], list[Any]]
    native: bool  # True when `data` came from the driver's Arrow path (types are exact)
    tagged: frozenset[str] = frozenset()  # columns Arrow could not type: tagged reprs, for hashing only
    partial: Callable[[Sequence[int], Sequence[str]], list[dict[str, Any]] | None] | None = None

    def rows_for(self, indices: Sequence[int], columns: Sequence[str] | None) -> list[dict[str, Any]]:
        """`rows(indices)`, holding only `columns` where it can (`Differ.reads`; None: every column):
        measured on a 41-column model, 14-15 -> 1.7-2.1 CPU µs a row to make 5 columns Python values
        instead of 41. Every column, as `rows`, when the batch has no narrowing (a wrapped batch), when
        a column is missing or when two share a name."""
        if columns is not None and self.partial is not None:
            narrowed = self.partial(indices, columns)
            if narrowed is not None:
                return narrowed
        return self.rows(indices)


def _narrowable(names: Sequence[str], columns: Sequence[str]) -> bool:
    """Are rows narrowed to `columns` what the whole rows give for them, and fewer columns? (Keeping
    them all gains nothing and costs the PartialRow: 1.5 -> 2.1 µs a row on a 5-column model.)"""
    unique = set(names)
    return len(unique) == len(names) and set(columns) < unique


def _from_arrow(batch: pa.RecordBatch, names: list[str]) -> RowBatch:
    batch = float32.arrow(batch.rename_columns(names))  # a REAL as the warehouse prints it, not widened

    def rows_of(data: pa.RecordBatch, indices: Sequence[int]) -> list[dict[str, Any]]:
        # indices through polars, not `pa.array`: that imports pandas (0.3-1 s a process) to check its input
        taken = data.take(pl.Series(indices, dtype=pl.Int64).to_arrow()) if indices else data.slice(0, 0)
        try:
            whole: list[dict[str, Any]] = taken.to_pylist()
            return whole
        except (OverflowError, ValueError):  # a value Python cannot hold: only its row is rejected
            columns = {name: python_values(taken.column(name)) for name in taken.schema.names}
            return [{name: columns[name][i] for name in columns} for i in range(taken.num_rows)]

    def rows(indices: Sequence[int]) -> list[dict[str, Any]]:
        return rows_of(batch, indices)

    def partial(indices: Sequence[int], columns: Sequence[str]) -> list[dict[str, Any]] | None:
        if not _narrowable(names, columns):
            return None
        taken = rows_of(batch.select(list(columns)), indices)
        return [partial_row(row, rows, at) for at, row in zip(indices, taken, strict=True)]

    return RowBatch(batch, rows, lambda c: python_values(batch.column(c)), native=True, partial=partial)


def python_values(array: pa.Array) -> list[Any]:
    """The column's Python values; one Python cannot hold (a timestamp or date at PostgreSQL's or
    DuckDB's 'infinity', a year past 9999) becomes `Unrepresentable` instead of stopping the sync."""
    try:
        values: list[Any] = array.to_pylist()
        return values
    except (OverflowError, ValueError):
        return [_python_value(scalar) for scalar in array]


def _python_value(scalar: pa.Scalar) -> Any:
    try:
        return scalar.as_py()
    except (OverflowError, ValueError):
        raw = getattr(scalar, "value", None)  # the stored integer (days, microseconds...) of a date or time
        return Unrepresentable(_INFINITIES.get(raw, f"{scalar.type} {raw}"))


# how ADBC and DuckDB store PostgreSQL's and their own +/-infinity in Arrow's date and timestamp integers
_INFINITIES: dict[Any, str] = {
    2**63 - 1: "infinity",
    -(2**63): "-infinity",
    2**31 - 1: "infinity",
    -(2**31): "-infinity",
}


def _column(values: list[Any]) -> tuple[pa.Array, bool]:
    """(column, tagged): a column Arrow cannot type (SQLite mixes types) becomes tagged reprs."""
    try:
        return pa.array(values), False
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return pa.array([None if v is None else f"{type(v).__name__}:{v!r}" for v in values], pa.string()), True


def _from_rows(rows_in: Sequence[Sequence[Any]], names: list[str]) -> RowBatch:
    columns = list(zip(*rows_in, strict=True)) if rows_in else [() for _ in names]
    built = [_column(list(c)) for c in columns]
    data = pa.RecordBatch.from_arrays([a for a, _ in built], names=names)
    tagged = frozenset(n for n, (_, t) in zip(names, built, strict=True) if t)
    index = {n: i for i, n in enumerate(names)}

    def rows(indices: Sequence[int]) -> list[dict[str, Any]]:
        return [dict(zip(names, rows_in[i], strict=True)) for i in indices]

    def partial(indices: Sequence[int], wanted: Sequence[str]) -> list[dict[str, Any]] | None:
        if not _narrowable(names, wanted):
            return None
        at = [index[c] for c in wanted]
        return [partial_row(zip(wanted, (rows_in[i][a] for a in at), strict=True), rows, i) for i in indices]

    return RowBatch(data, rows, lambda c: list(columns[index[c]]), native=False, tagged=tagged, partial=partial)


def _duckdb_reader(raw: Any, sql: str, size: int) -> tuple[pa.RecordBatchReader, list[str]] | None:
    relation = raw.sql(sql)  # a relation streams Arrow without the DB-API result's extra copy
    types = [str(t) for t in relation.types]
    names = column_names(relation.columns, "duckdb")
    if not all(_DUCKDB_SAFE.match(t) and t != "DECIMAL(38,0)" for t in types):
        return None
    reader = relation.to_arrow_reader(size) if hasattr(relation, "to_arrow_reader") else relation.record_batch(size)
    return reader, names


def record_batches(
    source: Source, model: ModelConfig, mapping_dir: Any, warehouse: WarehouseConfig, sql: str | None = None
) -> Iterator[RowBatch]:
    """Stream the model (or `sql`, a query over it) as RowBatches of at most `stream_batch` rows (the
    memory bound the user set)."""
    sql = source.sql(model, mapping_dir) if sql is None else sql
    size = warehouse.stream_batch
    engine = source.engine
    if engine.dialect.name == "duckdb":
        native = _native_duckdb(engine, sql, size)
        if native is not None:
            yield from native
            return
    if engine.dialect.name == "postgresql":
        opened = native_postgres.open_reader(engine, warehouse.connect_args, sql)
        if opened is not None:
            names = column_names([f.name for f in opened[2].schema], "postgresql")
            yield from (_from_arrow(batch, names) for batch in native_postgres.batches(*opened, size))
            return
    if engine.dialect.name in ("snowflake", "bigquery"):
        native = _native_dbapi(engine, engine.dialect.name, sql, size)
        if native is not None:
            yield from native
            return
    yield from _sqlalchemy_batches(source, sql, size)


def _native_dbapi(engine: sa.Engine, name: str, sql: str, size: int) -> Iterator[RowBatch] | None:
    """Snowflake's or BigQuery's own Arrow stream on a pooled connection, or None (see their modules)."""
    try:
        conn = engine.raw_connection()
    except sa.exc.SQLAlchemyError as exc:
        raise FatalError(f"warehouse unreachable: {masked_first_line(str(exc))}") from exc
    try:
        stream = _open_dbapi(conn.driver_connection, name, sql, size)
    except Exception as exc:  # the driver's own error types: the row path's message
        conn.close()
        raise FatalError(f"warehouse query failed: {masked_first_line(str(exc))}") from exc
    if stream is None:
        conn.close()
        return None
    return _arrow_rows(stream, conn, name)


def _open_dbapi(raw: Any, name: str, sql: str, size: int) -> Iterator[pa.RecordBatch] | None:
    if name == "snowflake":
        cursor = native_snowflake.open_cursor(raw, sql)
        return None if cursor is None else native_snowflake.batches(cursor, size)
    opened = native_bigquery.open_rows(raw, sql, size)
    return None if opened is None else native_bigquery.batches(*opened, size)


def _arrow_rows(stream: Iterator[pa.RecordBatch], conn: Any, dialect: str) -> Iterator[RowBatch]:
    try:
        for batch in stream:
            yield _from_arrow(batch, column_names(batch.schema.names, dialect))
    finally:
        conn.close()


def _native_duckdb(engine: sa.Engine, sql: str, size: int) -> Iterator[RowBatch] | None:
    try:
        conn = engine.raw_connection()
    except sa.exc.SQLAlchemyError as exc:
        raise FatalError(f"warehouse unreachable: {masked_first_line(str(exc))}") from exc
    try:
        opened = _duckdb_reader(conn.driver_connection, sql, size)
    except Exception as exc:  # the driver's own error type: same message as the row path gives
        conn.close()
        raise FatalError(f"warehouse query failed: {masked_first_line(str(exc))}") from exc
    if opened is None:
        conn.close()
        return None
    reader, names = opened

    def stream() -> Iterator[RowBatch]:
        try:
            for batch in reader:
                yield _from_arrow(batch, names)
        finally:  # the result first: DuckDB refuses to reset a connection with an open result
            reader.close()
            conn.close()

    return stream()


def _sqlalchemy_batches(source: Source, sql: str, size: int) -> Iterator[RowBatch]:
    with source._query(sql, stream=True) as result:
        names = column_names(list(result.keys()), source.engine.dialect.name)
        for partition in fetched(result, size):
            yield _from_rows(partition, names)
