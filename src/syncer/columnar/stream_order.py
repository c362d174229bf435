"""The sidecar's checks in the order the model streamed them, so a diff vouches for unchanged rows by
reading forwards instead of searching 5M sorted checks at random.

    <data_dir>/sidecars/<sync>-<digest>.order    HEADER bytes (magic, then JSON: format, sync, token,
        polars, entries), then `entries` (check1, check2) UInt64 pairs, 16 bytes each, interleaved,
        in the order the last run's stream gave the rows (`kernels.check_hashes` of key and source
        fingerprint)

Why: most warehouses return an unchanged model's rows in the same order run after run (DuckDB keeps
insertion order; a PostgreSQL heap keeps un-updated rows in place). A batch of n rows is compared
with the list at a cursor: position by position first (the common case), else against the entries
[cursor, cursor + n + SLACK) sorted in cache; the rows found there are vouched for and the cursor
moves past them. Only the rows not found go to the sidecar's sorted search (`Sidecar.unchanged`).
Measured alone at 5M records, 1% changed (benchmarks/bench_stream_order.py; benchmarks/README.md,
"Eighth pass"): the sorted search 1.0-1.1 s for the 5M rows (~210 ns a row: cache and TLB misses over
80 MB), the list and the fallback for the 1% it does not find 0.24-0.28 s; a shuffled model the same as
the sorted search alone.

Trust: the same rule as the sidecar's (`columnar.sidecar`). A run writes the list after it
finishes, keeping only the rows whose check the current sidecar holds (so only (key, fingerprint)
pairs state holds: a rejected or unacknowledged row is never in it), stamped with that sidecar's
token; a diff reads it only while the token equals state's. Any order is correct -- a row is vouched
for only when its exact 128-bit check is in the list -- only speed depends on it. Missing, another
format, truncated or stale: not used (today's path). Plans write nothing; a crash before the write
leaves a stale file that is ignored. The list is read with `pread`, a chunk at a time, forwards:
the process holds one chunk (CHUNK entries), whatever the model's size.

Errors: `open_order` returns None for any unreadable file; `Recorder` and `finish` raise OSError only
when the temporary file or the destination cannot be written (`ColumnarDiffer.after_run` logs it and
goes on: only speed is lost).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from syncer.columnar.sidecar import Sidecar

FORMAT = "1"
MAGIC = b"SYNCORD\n"
HEADER = 4096  # bytes before the first entry
ENTRY = 16  # bytes: check1, check2
CHUNK = 1 << 18  # entries read at once (4 MB)
SLACK = 1 << 14  # entries past a batch's length searched for its rows (deleted rows, small moves)
ALIGNED = 0.9  # share of a batch found position by position under which its rows are searched in the window
SAMPLE = 8  # rows of a batch looked up first, to tell whether its window is worth sorting
FINDABLE = 0.5  # share of that sample the window must hold for the window to be sorted and searched


def unchanged(order: StreamOrder | None, sidecar: Sidecar, check1: np.ndarray, check2: np.ndarray) -> np.ndarray:
    """Boolean per row of a batch (its checks, in stream order): state holds its (key, source
    fingerprint). Found in the list near its cursor, else by the sidecar's sorted search, which sees
    only the rows the list did not find (few of them: a mapped sidecar then reads a block for each and
    keeps none of its pages, `MappedChecks._few`)."""
    if order is None:
        return sidecar.holds_checks(check1, check2)
    found = order.found(check1, check2)
    rest = np.flatnonzero(~found)
    if len(rest) == len(found):  # none found (the order moved): no copies of the probes
        return sidecar.holds_checks(check1, check2)
    if len(rest):
        found[rest] = sidecar.holds_checks(check1[rest], check2[rest])
    return found


def path_for(sidecar_path: Path) -> Path:
    """The list next to its sidecar: `<sync>-<digest>.order`."""
    return sidecar_path.with_suffix(".order")


class Recorder:
    """Every row's check in stream order, appended to an unlinked temporary file (16 bytes a row, on
    disk: a run holds none of them in memory). Written by one thread (the read-ahead thread)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="syncer-order-")  # noqa: SIM115  (closed in `close`)
        self.entries = 0

    def append(self, check1: np.ndarray, check2: np.ndarray) -> None:
        pairs = np.empty((len(check1), 2), dtype=np.uint64)
        pairs[:, 0], pairs[:, 1] = check1, check2
        self._file.write(pairs.tobytes())
        self.entries += len(check1)

    def finish(self, path: Path, sync: str, token: int, held: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> int:
        """Write the recorded checks that `held` (the current sidecar's `unchanged`, token `token`)
        says state holds, in stream order, atomically to `path`. Returns how many were kept."""
        self._file.flush()
        temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        kept = 0
        try:
            with temp.open("wb") as out:
                out.write(bytes(HEADER))
                for start in range(0, self.entries, CHUNK):
                    count = min(CHUNK, self.entries - start)
                    pairs = _read(self._file.fileno(), start, count)
                    if len(pairs) < count:
                        raise OSError(f"the recorded stream order ended at {start + len(pairs)} of {self.entries}")
                    pairs = pairs[held(pairs[:, 0].copy(), pairs[:, 1].copy())]
                    out.write(pairs.tobytes())
                    kept += len(pairs)
                meta = {"format": FORMAT, "sync": sync, "token": str(token), "polars": pl.__version__, "entries": kept}
                out.seek(0)
                out.write(_header(meta))
            os.replace(temp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        return kept

    def close(self) -> None:
        self._file.close()


def _header(meta: dict[str, object]) -> bytes:
    text = MAGIC + json.dumps(meta, sort_keys=True).encode()
    if len(text) > HEADER:
        raise ValueError("stream-order header too long")
    return text.ljust(HEADER, b"\x00")


def _read(fd: int, start: int, count: int) -> np.ndarray:
    """Entries [start, start + count) of a recorder's file (no header) or, offset by HEADER, a list's:
    an (m, 2) UInt64 array, m < count where the file ends first."""
    data = os.pread(fd, count * ENTRY, start * ENTRY)
    usable = len(data) - len(data) % ENTRY
    return np.frombuffer(data, dtype=np.uint64, count=usable // 8).reshape(-1, 2)


def open_order(path: Path, sync: str, token: int | None) -> StreamOrder | None:
    """The list at `path` if it is current (this sync, state's token, this polars), else None."""
    if token is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        head = os.pread(fd, HEADER, 0)
        if len(head) < HEADER or not head.startswith(MAGIC):
            raise ValueError("not a stream-order file")
        meta = json.loads(head[len(MAGIC) :].rstrip(b"\x00"))
        if (meta.get("format"), meta.get("sync"), meta.get("token"), meta.get("polars")) != (
            FORMAT,
            sync,
            str(token),
            pl.__version__,
        ):
            raise ValueError("not current")
        entries = int(meta["entries"])
        if os.fstat(fd).st_size != HEADER + entries * ENTRY:
            raise ValueError("truncated")
    except (OSError, ValueError, KeyError, TypeError):
        os.close(fd)
        return None
    return StreamOrder(fd, entries)


class StreamOrder:
    """A current list, read forwards from `cursor` (an entry index). Used by one thread at a time."""

    def __init__(self, fd: int, entries: int) -> None:
        self._fd = fd
        self.entries = entries
        self.cursor = 0
        self._start = 0  # entries [_start, _start + len(_pairs)) are in memory, in `_buffer`
        self._buffer = np.empty((0, 2), dtype=np.uint64)
        self._pairs = self._buffer
        self.vouched = 0  # rows this list vouched for (the rest went to the sorted search)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def _window(self, start: int, count: int) -> np.ndarray:
        """Entries [start, start + count) as an (m, 2) view (m < count at the end of the list)."""
        stop = min(start + count, self.entries)
        if start < self._start or stop > self._start + len(self._pairs):
            # one buffer, read into again and again (a new 4 MB `pread` result each time grew the
            # plan's peak RSS by ~10 MB at 5M: freed blocks the allocator kept)
            if len(self._buffer) < stop - start or len(self._buffer) < min(CHUNK, self.entries):
                self._buffer = np.empty((max(min(CHUNK, self.entries), stop - start), 2), dtype=np.uint64)
            wanted = min(len(self._buffer), self.entries - start)
            got = os.preadv(self._fd, [self._buffer[:wanted].data.cast("B")], HEADER + start * ENTRY)
            got //= ENTRY
            if got < wanted:  # cut short under us: the rest is unknown
                self.entries = start + got
                stop = min(stop, self.entries)
            self._start, self._pairs = start, self._buffer[:got]
        return self._pairs[start - self._start : stop - self._start]

    def found(self, check1: np.ndarray, check2: np.ndarray) -> np.ndarray:
        """Boolean per row (a batch's checks, in stream order): its exact check is in the list near the
        cursor. Moves the cursor past the rows found."""
        n = len(check1)
        found = np.zeros(n, dtype=bool)
        if not n or self.cursor >= self.entries:
            return found
        window = self._window(self.cursor, n + SLACK)
        m = len(window)
        if not m:
            return found
        k = min(n, m)
        found[:k] = (window[:k, 0] == check1[:k]) & (window[:k, 1] == check2[:k])  # in place
        rows = np.flatnonzero(found)
        at = rows  # list positions (from the cursor) of the rows found
        if len(rows) < ALIGNED * n:  # rows changed, inserted, deleted or moved
            rest = np.flatnonzero(~found)
            # sort the window and search it only when a sample says it holds a fair share of the rest:
            # rows inserted or deleted (shifted), not changed (20% changed: their checks are in no list)
            # or moved (reversed, shuffled: nowhere near). The sample costs a batch of 50,000 rows about
            # 0.5 ms, the window's sort about 5 ms
            if _share_held(window[:, 0], check1[rest]) >= FINDABLE:
                order = np.argsort(window[:, 0], kind="stable")
                sorted1 = window[order, 0]
                near = np.minimum(np.searchsorted(sorted1, check1[rest]), m - 1)
                hit = (sorted1[near] == check1[rest]) & (window[order[near], 1] == check2[rest])
                found[rest[hit]] = True
                rows, at = np.concatenate([rows, rest[hit]]), np.concatenate([at, order[near[hit]]])
        if len(rows):
            # just past the entry of the batch's last row found: the rows after it may be unlisted (new,
            # rejected) or listed (changed); the window's slack finds what follows in either case
            self.cursor += int(at[int(np.argmax(rows))]) + 1
            self.vouched += len(rows)
        return found


def _share_held(listed1: np.ndarray, wanted1: np.ndarray) -> float:
    """About what share of `wanted1` (check1s) `listed1` holds: SAMPLE of them, spread over the
    batch, each compared with every listed check (a linear pass: no sort of the window)."""
    sample = wanted1[:: max(1, -(-len(wanted1) // SAMPLE))]
    listed1 = np.ascontiguousarray(listed1)  # (a column of the window's pairs: 3x faster compared whole)
    return sum(bool((listed1 == value).any()) for value in sample) / len(sample)
