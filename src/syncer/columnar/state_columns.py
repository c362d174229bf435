"""State read as columns: the stored source fingerprint of each key in a batch, in one query.

Only (key, source_fp) is read for the whole batch; full `Known` records are fetched later, and
only for the rows that must be mapped. Also streams every synced key in chunks for the
removed-record check. SQLite passes the keys as one JSON parameter (json_each), PostgreSQL as
one text[] parameter; other state databases use an expanding IN.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import polars as pl
import sqlalchemy as sa

from syncer.state import StateStore, synced

SCHEMA = {"key": pl.String, "state_fp": pl.String}


def stored_source_fps(state: StateStore, sync: str, keys: pl.Series) -> pl.DataFrame:
    """DataFrame(key, state_fp) for the keys state holds (state_fp may be NULL: never recorded)."""
    if keys.is_empty():
        return pl.DataFrame(schema=SCHEMA)
    dialect = state.engine.dialect.name
    base = "SELECT key, source_fp FROM synced_records WHERE sync = :sync AND "
    if dialect == "sqlite":
        sql = sa.text(base + "key IN (SELECT value FROM json_each(:keys))")
        params: dict[str, object] = {"sync": sync, "keys": json.dumps(keys.to_list())}
    elif dialect == "postgresql":
        sql = sa.text(base + "key = ANY(CAST(:keys AS TEXT[]))")
        params = {"sync": sync, "keys": keys.to_list()}
    else:
        sql = sa.text(base + "key IN :keys").bindparams(sa.bindparam("keys", expanding=True))
        params = {"sync": sync, "keys": keys.to_list()}
    with state.engine.connect() as conn:
        rows = conn.execute(sql, params).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=SCHEMA, orient="row")


def synced_keys(state: StateStore, sync: str, chunk: int = 50_000) -> Iterator[pl.Series]:
    """Every key state holds for the sync, `chunk` at a time (pl.String series)."""
    query = sa.select(synced.c.key).where(synced.c.sync == sync)
    with state.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
        for part in result.partitions(chunk):
            yield pl.Series("key", [r[0] for r in part], dtype=pl.String)
