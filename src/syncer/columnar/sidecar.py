"""The sidecar: a columnar snapshot of one sync's state, so unchanged rows are recognised without
asking the state database about each key.

    <data_dir>/sidecars/<sync>-<digest>.arrow    Arrow IPC file, 24 bytes a record:
        check1, check2  UInt64   128-bit hash of (key, stored source fingerprint), sorted by check1
                                 (the first `checks` rows; the rest is padding)
        keys            UInt64   64-bit hash of every record's key (`kernels.key_hashes`), sorted
    schema metadata: format, sync, the sync's generation token, polars version, the number of
    records state held (with or without a columnar fingerprint: the diff's "nothing removed" test)
    and `checks`, how many of them have a columnar fingerprint

A model row is called unchanged only when the 128-bit hash of its own (key, source fingerprint)
is in the file: no key hash alone decides anything, so a 64-bit key-hash collision (between state
keys, or between a new key and a state key) cannot pass, and a damaged or colliding entry only
sends a row down the exact path (state is asked). Records state holds without a columnar
fingerprint (NULL, another diff mode's) are left out, so their rows are diffed exactly. `keys`
holds every record: the `updated_at` window (`columnar.window`) asks it whether state holds a
row's key at all, at the odds the removed-record check takes (a 64-bit key hash).

Trust rule: the file is used only while its token equals the sync's token in state
(`StateStore.generation`), which a database trigger replaces on every write to the sync's
synced_records (migration 0011). Missing, unreadable, truncated, another polars version's or
stale: rebuilt from state in one scan (token and records read in one transaction). Plans build
it in memory and write nothing; runs write it (temp file + rename) after they finish, so a crash
between the state commit and the write leaves a stale file the next diff rebuilds.

Next to it, `<sync>-<digest>.order`: the same checks in the order the last run streamed them, kept to
those this file holds and under its token (`columnar.stream_order`); a diff asks it first.

Memory: a diff outside the `updated_at` window reads check1 and check2 only; above
`mapped_checks.RESIDENT_BYTES` it probes them from a mapped private copy a window at a time, so
the plan holds at most `mapped_checks.KEEP` of them (16 bytes a record: 80 MB at 5M records).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import sqlalchemy as sa

from syncer.columnar import kernels, mapped_checks
from syncer.columnar.mapped_checks import MappedChecks, private_map
from syncer.state import StateStore, synced

FORMAT = "3"
SCAN_CHUNK = 100_000
_EMPTY = np.empty(0, dtype=np.uint64)


@dataclass
class Sidecar:
    """The (key, fingerprint) checks of one sync's records: numpy UInt64 arrays, sorted by check1."""

    sync: str
    token: int
    check1: np.ndarray
    check2: np.ndarray
    keys: np.ndarray | None  # every record's key hash, sorted (None: loaded without, `load(keys=False)`)
    records: int  # every record state holds for the sync (check1 leaves out those without a columnar fp)
    mapped: MappedChecks | None = None  # a big file's checks, probed from a mapped copy (mapped_checks)

    def __len__(self) -> int:
        return len(self.check1)

    def unchanged(self, check1: pl.Series, check2: pl.Series) -> np.ndarray:
        """Boolean per row: state holds this key with this source fingerprint (n rows in, n out)."""
        return self.holds_checks(check1.to_numpy(), check2.to_numpy())

    def holds_checks(self, wanted1: np.ndarray, wanted2: np.ndarray) -> np.ndarray:
        """`unchanged` over numpy UInt64 arrays (n probes in, n booleans out)."""
        if not len(self):
            return np.zeros(len(wanted1), dtype=bool)
        if self.mapped is not None:
            return self.mapped.unchanged(wanted1, wanted2)
        order = np.argsort(wanted1)  # sorted probes walk the sorted file forwards: 5x fewer cache misses
        at = np.empty(len(wanted1), dtype=np.intp)
        at[order] = np.minimum(np.searchsorted(self.check1, wanted1[order]), len(self) - 1)
        found: np.ndarray = self.check1[at] == wanted1
        found &= self.check2[at] == wanted2
        return found

    def holds_sorted(self, key_hashes: np.ndarray) -> np.ndarray:
        """Boolean per key hash (`kernels.key_hashes`, sorted ascending): state holds a record with it."""
        assert self.keys is not None, "sidecar loaded without its key hashes"
        return kernels.in_sorted(key_hashes, self.keys)

    def write(self, path: Path) -> None:
        """Write atomically: a reader sees the old file or the new one, never half of one."""
        assert self.keys is not None, "sidecar loaded without its key hashes"
        path.parent.mkdir(parents=True, exist_ok=True)
        pad = np.zeros(len(self.keys) - len(self), dtype=np.uint64)  # one length for every column
        table = pa.Table.from_arrays(
            [_arrow_uint64(np.concatenate([c, pad])) for c in (self.check1, self.check2)] + [_arrow_uint64(self.keys)],
            names=["check1", "check2", "keys"],
            metadata={
                "format": FORMAT,
                "sync": self.sync,
                "token": str(self.token),
                "polars": pl.__version__,
                "records": str(self.records),
                "checks": str(len(self)),
            },
        )
        temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            with pa.OSFile(str(temp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            os.replace(temp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()


def path_for(data_dir: Path, sync: str) -> Path:
    """One file per sync under `data_dir/sidecars` (name readable, digest keeps it unique)."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", sync)[:60]
    digest = hashlib.blake2b(sync.encode(), digest_size=6).hexdigest()
    return data_dir / "sidecars" / f"{readable}-{digest}.arrow"


def load(path: Path, sync: str, token: int | None, keys: bool = True) -> Sidecar | None:
    """The sidecar at `path` if it is current (same sync, token and polars version), else None.
    Missing, unreadable and truncated files are None: they are rebuilt, never trusted. `keys=False`
    leaves the key hashes on disk (8 bytes a record: only the `updated_at` window asks them), and
    maps a file over RESIDENT_BYTES from a private copy instead of reading it (`mapped_checks`)."""
    if token is None:
        return None
    fields = [0, 1, 2] if keys else [0, 1]
    try:
        mapping = None if keys or path.stat().st_size <= mapped_checks.RESIDENT_BYTES else private_map(path)
        if mapping is not None:
            table = pa.ipc.open_file(pa.BufferReader(pa.py_buffer(mapping))).read_all()  # views of the copy
        else:
            # read, not mapped: a file truncated under a mapping would kill the process (SIGBUS); and
            # only the columns asked, not the whole file first (that copy was 24 bytes a record)
            with pa.OSFile(str(path)) as file:
                reader = pa.ipc.open_file(file, options=pa.ipc.IpcReadOptions(included_fields=fields))
                table = reader.read_all()
        size = table.num_rows
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        if (meta.get("format"), meta.get("sync"), meta.get("token"), meta.get("polars")) != (
            FORMAT,
            sync,
            str(token),
            pl.__version__,
        ):
            return None
        arrays = [_uint64(table.column(c)) for c in ("check1", "check2", "keys")[: len(fields)]]
        records, checks = int(meta["records"]), int(meta["checks"])
        if not 0 <= checks <= size:
            return None
    except (OSError, pa.ArrowException, KeyError, ValueError, UnicodeDecodeError):
        return None
    check1, check2 = arrays[0][:checks], arrays[1][:checks]
    mapped = None if mapping is None else MappedChecks(mapping, check1, check2)
    return Sidecar(sync, token, check1, check2, arrays[2] if keys else None, records, mapped)


def _arrow_uint64(values: np.ndarray) -> pa.Array:
    """numpy UInt64 -> Arrow without a copy (and without `pa.array`, which imports pandas: 0.3-1 s)."""
    values = np.ascontiguousarray(values, dtype=np.uint64)
    return pa.Array.from_buffers(pa.uint64(), len(values), [None, pa.py_buffer(values)])


def _uint64(column: pa.ChunkedArray) -> np.ndarray:
    """A UInt64 column without NULLs as a numpy view of its buffer (pyarrow's own `to_numpy` would
    import pandas: 0.3 s); ValueError for anything else."""
    # one chunk (what `write` makes): a view of the file's bytes; combining would copy (8 bytes a record)
    array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if array.type != pa.uint64() or array.null_count:
        raise ValueError(f"not a UInt64 column without NULLs: {array.type}")
    return np.frombuffer(array.buffers()[1], dtype=np.uint64, count=len(array), offset=array.offset * 8)


def build(state: StateStore, sync: str) -> Sidecar | None:
    """Read the sync's records and token in one transaction (so the token names exactly what was
    read) and hash them: one scan. None when state keeps no token (no record yet, or no trigger)."""
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    records = 0
    if state.engine.dialect.name == "sqlite":  # raw sqlite3: no SQLAlchemy row objects for 1M records
        raw: Any = state.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("BEGIN")  # WAL: both reads below see this one snapshot
            found = cursor.execute("SELECT token FROM synced_generations WHERE sync = ?", (sync,)).fetchone()
            token = None if found is None else found[0]
            if token is None:
                return None
            cursor.execute("SELECT key, source_fp FROM synced_records WHERE sync = ?", (sync,))
            while rows := cursor.fetchmany(SCAN_CHUNK):
                records += len(rows)
                parts.append(_hashed(rows))
        finally:
            raw.rollback()
            raw.close()
    else:
        options = {"isolation_level": "REPEATABLE READ", "stream_results": True}
        with state.engine.connect().execution_options(**options) as conn, conn.begin():
            token = state.generation(sync, conn)
            if token is None:
                return None
            query = sa.select(synced.c.key, synced.c.source_fp).where(synced.c.sync == sync)
            for part in conn.execute(query).partitions(SCAN_CHUNK):
                records += len(part)
                parts.append(_hashed([tuple(r) for r in part]))
    check1, check2, keys = (np.concatenate([p[i] for p in parts]) if parts else _EMPTY for i in range(3))
    order = np.argsort(check1)
    keys.sort()
    return Sidecar(sync, int(token), check1[order], check2[order], keys, records)


def _hashed(rows: list[tuple[str, str | None]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sidecar's columns for records whose stored fingerprint is a columnar one ("h1.h2" as
    `kernels.fingerprint_text` writes it; anything else is left out and diffed exactly), and the
    key hashes of all of them."""
    frame = pl.DataFrame(rows, schema={"key": pl.String, "fp": pl.String}, orient="row")
    halves = frame["fp"].str.split_exact(".", 1).struct.unnest()
    first = halves["field_0"].cast(pl.UInt64, strict=False)
    second = halves["field_1"].cast(pl.UInt64, strict=False)
    ok = (kernels.fingerprint_text(first, second) == frame["fp"]).fill_null(False)
    keys_ok, first, second = frame["key"].filter(ok), first.filter(ok), second.filter(ok)
    check1, check2 = kernels.check_hashes(keys_ok, first, second)
    return check1.to_numpy(), check2.to_numpy(), kernels.key_hashes(frame["key"]).to_numpy()
