"""Snowflake's and BigQuery's native Arrow paths: re-cut to the batch size, exact values, and the
SQLAlchemy path for any type Arrow would change.

Snowflake runs through fakesnow where it can: fakesnow's cursor has no `fetch_arrow_batches`, so
there the model must (and does) read through SQLAlchemy rows. The connector's own path is driven
with a cursor that answers as `SnowflakeCursor` does (description of the connector's own
`ResultMetadata`, `fetch_arrow_batches()` yielding `pyarrow.Table`s). BigQuery: no network here, so
a client with the shape google-cloud-bigquery gives (`query().result()` -> a row iterator with
`schema` of the library's own `SchemaField`s and `to_arrow_iterable(bqstorage_client=...)`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from google.cloud.bigquery import SchemaField
from snowflake.connector.cursor import ResultMetadata

from syncer.columnar import native_bigquery, native_snowflake
from syncer.columnar.batches import _open_dbapi, record_batches
from syncer.config import ModelConfig, WarehouseConfig
from syncer.source import Source

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")  # fakesnow

TABLE = pa.table(
    {
        "ID": pa.array([1, 2, 3, 4, 5], pa.int64()),
        "NAME": ["a", "b", None, "d", "e"],
        "SCORE": [0.5, None, 2.25, 3.0, -1.0],
        "SEEN": [dt.datetime(2026, 1, d) for d in range(1, 6)],
    }
)


def _meta(name: str, type_code: int, scale: int | None = None) -> ResultMetadata:
    return ResultMetadata(name, type_code, None, None, None, scale, True)


class SnowflakeCursor:
    """What snowflake-connector-python's cursor answers, for one result."""

    def __init__(self, description: list[ResultMetadata]) -> None:
        self.description: list[ResultMetadata] = []
        self._description = description
        self.closed = False
        self.executed: list[str] = []

    def execute(self, sql: str) -> None:
        self.executed.append(sql)
        self.description = self._description

    def fetch_arrow_batches(self) -> Iterator[pa.Table]:
        yield TABLE.slice(0, 3)  # the connector yields one table per result chunk
        yield TABLE.slice(3)

    def close(self) -> None:
        self.closed = True


class SnowflakeConnection:
    def __init__(self, cursor: SnowflakeCursor) -> None:
        self._cursor = cursor

    def cursor(self) -> SnowflakeCursor:
        return self._cursor


SAFE_DESCRIPTION = [
    _meta("ID", native_snowflake.FIXED, 0),
    _meta("NAME", native_snowflake.TEXT),
    _meta("SCORE", native_snowflake.REAL),
    _meta("SEEN", native_snowflake.TIMESTAMP_NTZ),
]


def test_snowflake_batches_are_recut_and_exact() -> None:
    cursor = SnowflakeCursor(SAFE_DESCRIPTION)
    stream = _open_dbapi(SnowflakeConnection(cursor), "snowflake", "SELECT 1", 2)
    assert stream is not None
    batches = list(stream)
    assert [b.num_rows for b in batches] == [2, 1, 2]
    rows = [r for b in batches for r in b.to_pylist()]
    assert rows == TABLE.to_pylist() and cursor.closed and cursor.executed == ["SELECT 1"]


@pytest.mark.parametrize(
    "column",
    [
        _meta("AMOUNT", native_snowflake.FIXED, 2),  # NUMBER(10,2): Decimal either way, scale kept or not
        _meta("AT", 7),  # TIMESTAMP_TZ: another zone object
        _meta("DOC", 5),  # VARIANT
    ],
)
def test_snowflake_types_arrow_would_change_read_through_sqlalchemy(column: ResultMetadata) -> None:
    cursor = SnowflakeCursor([*SAFE_DESCRIPTION, column])
    assert _open_dbapi(SnowflakeConnection(cursor), "snowflake", "SELECT 1", 2) is None
    assert cursor.closed


def test_fakesnow_has_no_arrow_batches_so_its_models_read_through_sqlalchemy(tmp_path: Path) -> None:
    import fakesnow

    with fakesnow.patch():
        engine = sa.create_engine("snowflake://syncer:fakesnow-pw@fakeaccount/analytics/public")
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE accounts (id INT, name TEXT)"))
            conn.execute(sa.text("INSERT INTO accounts VALUES (1, 'a'), (2, 'b'), (3, NULL)"))
        raw = engine.raw_connection()
        try:
            assert not hasattr(raw.driver_connection.cursor(), "fetch_arrow_batches")
            assert native_snowflake.open_cursor(raw.driver_connection, "SELECT * FROM accounts") is None
        finally:
            raw.close()
        config = WarehouseConfig(url="snowflake://syncer:fakesnow-pw@fakeaccount/analytics/public", stream_batch=100)
        source = Source(config, tmp_path)
        try:
            got = list(record_batches(source, ModelConfig(table="accounts", primary_key=["id"]), None, config))
        finally:
            source.close()
        assert [b.native for b in got] == [False]
        assert [r for b in got for r in b.rows(range(b.data.num_rows))] == [
            {"id": 1, "name": "a"},
            {"id": 2, "name": "b"},
            {"id": 3, "name": None},
        ]
        engine.dispose()


class RowIterator:
    def __init__(self, schema: list[SchemaField]) -> None:
        self.schema = schema
        self.storage: Any = None

    def to_arrow_iterable(self, bqstorage_client: Any = None) -> Iterator[pa.RecordBatch]:
        self.storage = bqstorage_client
        yield from TABLE.to_batches(max_chunksize=4)  # one batch per read stream page


class BigQueryClient:
    def __init__(self, rows: RowIterator) -> None:
        self.rows = rows
        self.asked: list[tuple[str, int]] = []

    def query(self, sql: str) -> BigQueryClient:
        self.asked.append((sql, 0))
        return self

    def result(self, page_size: int) -> RowIterator:
        self.asked[-1] = (self.asked[-1][0], page_size)
        return self.rows


class BigQueryConnection:
    """google.cloud.bigquery.dbapi.Connection's two attributes the path reads."""

    def __init__(self, client: BigQueryClient, storage: Any) -> None:
        self._client = client
        self._bqstorage_client = storage


BQ_SCHEMA = [SchemaField("ID", "INTEGER"), SchemaField("NAME", "STRING"), SchemaField("SCORE", "FLOAT")]


def test_bigquery_reads_through_the_storage_client() -> None:
    rows, storage = RowIterator(BQ_SCHEMA), object()
    client = BigQueryClient(rows)
    stream = _open_dbapi(BigQueryConnection(client, storage), "bigquery", "SELECT 1", 3)
    assert stream is not None
    batches = list(stream)
    assert [b.num_rows for b in batches] == [3, 1, 1]
    assert rows.storage is storage and client.asked == [("SELECT 1", 3)]
    assert [r for b in batches for r in b.to_pylist()] == TABLE.to_pylist()


def test_bigquery_without_the_storage_library_or_with_a_changing_type_reads_through_sqlalchemy() -> None:
    client = BigQueryClient(RowIterator(BQ_SCHEMA))
    assert native_bigquery.open_rows(BigQueryConnection(client, None), "SELECT 1", 3) is None
    assert client.asked == []  # not even queried: SQLAlchemy runs it
    for field in (
        SchemaField("AMOUNT", "NUMERIC"),
        SchemaField("AT", "TIMESTAMP"),
        SchemaField("T", "STRING", "REPEATED"),
    ):
        rows = RowIterator([*BQ_SCHEMA, field])
        assert native_bigquery.open_rows(BigQueryConnection(BigQueryClient(rows), object()), "SELECT 1", 3) is None
