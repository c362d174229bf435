"""BigQuery's native Arrow path: the BigQuery Storage Read API, through
`RowIterator.to_arrow_iterable(bqstorage_client=...)` (google-cloud-bigquery).

Used only when google-cloud-bigquery-storage is installed (the DB-API connection then holds a
`BigQueryReadClient`) and every column's type converts through Arrow to the same Python value the
DB-API cursor returns: INT64, FLOAT64, STRING, BOOL, DATE. NUMERIC/BIGNUMERIC (Arrow keeps the
declared scale: Decimal('1.500000000')), TIMESTAMP and DATETIME (zone objects and precision),
and nested types read through SQLAlchemy. Without the storage client, rows would come page by
page over the REST API anyway: SQLAlchemy's path is as fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SAFE = {"INTEGER", "INT64", "FLOAT", "FLOAT64", "STRING", "BOOLEAN", "BOOL", "DATE"}


def open_rows(raw: Any, sql: str, size: int) -> tuple[Any, Any] | None:
    """(RowIterator, BigQueryReadClient) for `sql` on `raw` (google.cloud.bigquery.dbapi.Connection),
    or None when this model must go through SQLAlchemy."""
    storage = getattr(raw, "_bqstorage_client", None)
    if storage is None:
        return None
    rows = raw._client.query(sql).result(page_size=size)
    if not all(field.field_type in SAFE and field.mode != "REPEATED" for field in rows.schema):
        return None
    return rows, storage


def batches(rows: Any, storage: Any, size: int) -> Iterator[Any]:
    """The result as record batches of at most `size` rows (streams choose their own sizes)."""
    for batch in rows.to_arrow_iterable(bqstorage_client=storage):
        for start in range(0, batch.num_rows, size):
            yield batch.slice(start, size)
