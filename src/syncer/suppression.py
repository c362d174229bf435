"""Suppressed keys: `syncer forget KEY --suppress` keeps an erased record from being sent again while
its row is still in the model, and lifts itself once the row has left it.

Only a hash of the key is kept (sha256 of the state key), not the key: the suppression list holds no
personal data beyond what is needed to recognise the row. A run streams the model through
`SuppressionFilter`, which drops suppressed rows before the diff (so they are neither added nor
counted as removed) and, when the stream ends, lifts the suppressions whose row did not appear.
A plan filters the same way and lifts nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from syncer.source import row_key
from syncer.state import audit, rejected, synced, utcnow
from syncer.timestamps import UtcDateTime

log = logging.getLogger(__name__)

suppression_meta = sa.MetaData()
suppressed_keys = sa.Table(
    "suppressed_keys",
    suppression_meta,
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("key_hash", sa.String(64), primary_key=True),
    sa.Column("suppressed_at", UtcDateTime()),
)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def syncs_holding(engine: sa.Engine, key: str) -> list[str]:
    """The syncs whose state, rejects or audit know this key (call before erasing it)."""
    found: set[str] = set()
    with engine.connect() as conn:
        for table in (synced, rejected, audit):
            found.update(conn.scalars(sa.select(table.c.sync).where(table.c.key == key).distinct()))
    return sorted(found)


def suppress(engine: sa.Engine, syncs: Sequence[str], key: str) -> None:
    """Suppress `key` in these syncs (idempotent: suppressing twice keeps the first time)."""
    digest = key_hash(key)
    with engine.begin() as conn:
        for sync in syncs:
            exists = conn.scalar(
                sa.select(sa.func.count())
                .select_from(suppressed_keys)
                .where(suppressed_keys.c.sync == sync, suppressed_keys.c.key_hash == digest)
            )
            if not exists:
                conn.execute(suppressed_keys.insert().values(sync=sync, key_hash=digest, suppressed_at=utcnow()))


def suppressed(engine: sa.Engine, sync: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(sa.select(suppressed_keys.c.key_hash).where(suppressed_keys.c.sync == sync)))


class SuppressionFilter:
    """Drops a sync's suppressed rows from the stream; `lift=True` (a run) lifts the ones not seen."""

    def __init__(self, engine: sa.Engine, sync: str, primary_key: list[str], lift: bool) -> None:
        self.engine, self.sync, self.primary_key, self.lift = engine, sync, primary_key, lift
        self.hashes = suppressed(engine, sync)
        self.skipped = 0
        self.lifted = 0

    def rows(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if not self.hashes:
            yield from rows  # the common case costs nothing per row
            return
        seen: set[str] = set()
        for row in rows:
            values = [row[c] for c in self.primary_key]
            digest = key_hash(row_key(values)) if all(v is not None for v in values) else ""
            if digest in self.hashes:
                seen.add(digest)
                self.skipped += 1
                continue
            yield row
        gone = self.hashes - seen  # the model ended without these rows: their suppression is done
        if self.lift and gone:
            with self.engine.begin() as conn:
                conn.execute(
                    suppressed_keys.delete().where(
                        suppressed_keys.c.sync == self.sync, suppressed_keys.c.key_hash.in_(sorted(gone))
                    )
                )
            self.lifted = len(gone)
            log.info("sync %s: %d suppression(s) lifted: their rows left the model", self.sync, len(gone))
        if self.skipped:
            log.info("sync %s: %d suppressed row(s) skipped (syncer forget --suppress)", self.sync, self.skipped)
