"""PostgreSQL's native Arrow path: ADBC (`adbc-driver-postgresql`, libpq COPY in binary form).

Used only when the driver is installed, the SQLAlchemy URL carries no `connect_args` (ADBC takes a
libpq URI and nothing else), the database stores UTF-8 (ADBC reads text bytes as UTF-8 whatever the
server's encoding: LATIN1 'Ã©' arrived as 'é', or failed to decode), and every column's PostgreSQL
type converts through Arrow to the same
Python value psycopg returns: numeric arrives as text, float4 as a float32 whose widening differs
from psycopg's parse, timestamptz with another zone object -- those models read through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa

from syncer.errors import FatalError
from syncer.secrets import masked_first_line

SAFE = {b"int2", b"int4", b"int8", b"float8", b"text", b"varchar", b"bool", b"date", b"timestamp"}


def libpq_uri(engine: sa.Engine) -> str:
    """The engine's URL as a libpq connection URI, every part percent-encoded as libpq reads it (PostgreSQL docs,
    "Connection URIs": it decodes `%XX` only). Not SQLAlchemy's rendering: that leaves a space and '+' as they are
    (a password "sp ace" failed: "use percent-encoded spaces (%20) instead"), and form-encodes query values
    (`options=-c timezone=UTC` became the parameter "+timezone")."""
    url = engine.url
    auth = ""
    if url.username is not None:
        password = "" if url.password is None else ":" + quote(str(url.password), safe="")
        auth = quote(url.username, safe="") + password + "@"
    host = url.host or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{url.port}" if url.port is not None else ""
    database = "/" + quote(url.database, safe="") if url.database else ""
    pairs = [(k, v) for k, values in url.query.items() for v in ([values] if isinstance(values, str) else values)]
    return f"postgresql://{auth}{host}{port}{database}" + ("?" + urlencode(pairs, quote_via=quote) if pairs else "")


def open_reader(engine: sa.Engine, connect_args: dict[str, Any], sql: str) -> tuple[Any, Any, Any] | None:
    """(connection, cursor, RecordBatchReader), or None when this model must go through SQLAlchemy.
    The cursor is kept: when it is collected, ADBC closes the stream under the reader."""
    if connect_args:
        return None
    try:
        import adbc_driver_postgresql.dbapi as adbc
    except ImportError:
        return None
    try:
        conn = adbc.connect(libpq_uri(engine))
    except Exception as exc:  # the driver's own error types
        raise FatalError(f"warehouse unreachable: {masked_first_line(str(exc))}") from exc
    cursor = conn.cursor()
    try:
        if not stores_utf8(cursor):
            cursor.close()
            conn.close()
            return None
        cursor.execute(sql)
        reader = cursor.fetch_record_batch()
    except Exception as exc:
        conn.close()
        raise FatalError(f"warehouse query failed: {masked_first_line(str(exc))}") from exc
    if not all((field.metadata or {}).get(b"POSTGRESQL:type") in SAFE for field in reader.schema):
        reader.close()
        cursor.close()
        conn.close()
        return None
    return conn, cursor, reader


def stores_utf8(cursor: Any) -> bool:
    """Does the database keep its text as UTF-8 (`server_encoding`), the only form ADBC decodes right?"""
    cursor.execute("SELECT current_setting('server_encoding')")  # ADBC wraps a query in COPY: no SHOW
    row = cursor.fetchone()
    return row is not None and str(row[0]).upper() in ("UTF8", "UNICODE")


def batches(conn: Any, cursor: Any, reader: Any, size: int) -> Iterator[Any]:
    """The reader's batches re-cut to at most `size` rows (ADBC chooses its own batch sizes)."""
    try:
        for batch in reader:
            for start in range(0, batch.num_rows, size):
                yield batch.slice(start, size)
    finally:
        reader.close()
        cursor.close()
        conn.close()
