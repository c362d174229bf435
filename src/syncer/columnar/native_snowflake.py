"""Snowflake's native Arrow path: `SnowflakeCursor.fetch_arrow_batches()` (snowflake-connector-python).

The connector downloads the result's chunks as Arrow and hands them over as `pyarrow.Table`s, which
are re-cut into record batches of at most `size` rows. Used only when the cursor has the method
(fakesnow's cursor, for one, has not: its models read through SQLAlchemy) and every column's
Snowflake type converts through Arrow to the same Python value the DB-API cursor returns:
NUMBER with scale 0 (int), FLOAT (float), TEXT (str), DATE, BOOLEAN, TIMESTAMP_NTZ (naive
datetime). NUMBER with a scale, TIMESTAMP_TZ/LTZ (zone objects differ), VARIANT, BINARY and the
rest read through SQLAlchemy. Type codes: `snowflake.connector.constants.FIELD_TYPES` order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

FIXED, REAL, TEXT, DATE, TIMESTAMP_NTZ, BOOLEAN = 0, 1, 2, 3, 8, 13
SAFE = {REAL, TEXT, DATE, TIMESTAMP_NTZ, BOOLEAN}


def safe(description: Any) -> bool:
    """Does every column of a cursor's `description` convert through Arrow exactly?"""
    return all(c.type_code in SAFE or (c.type_code == FIXED and not c.scale) for c in description)


def open_cursor(raw: Any, sql: str) -> Any | None:
    """A cursor on `raw` (the driver's connection) that ran `sql`, or None when this model must go
    through SQLAlchemy (no `fetch_arrow_batches`, or a column type Arrow would change)."""
    cursor = raw.cursor()
    if not hasattr(cursor, "fetch_arrow_batches"):
        cursor.close()
        return None
    cursor.execute(sql)
    if not safe(cursor.description):
        cursor.close()
        return None
    return cursor


def batches(cursor: Any, size: int) -> Iterator[Any]:
    """The result as record batches of at most `size` rows; the cursor is closed at the end."""
    try:
        for table in cursor.fetch_arrow_batches():
            yield from table.to_batches(max_chunksize=size)
    finally:
        cursor.close()
