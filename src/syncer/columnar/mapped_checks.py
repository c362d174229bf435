"""A big sidecar's checks, probed from a mapped private copy a window at a time, not held in memory.

A plan reads every check of the sidecar once per batch: its probes are random keys, so a batch of
50,000 rows touches every page of a 5M-record sidecar (80 MB of check1 and check2). Held in memory
that is 16 bytes a record for the whole plan, the largest share of a big plan's peak. Above
RESIDENT_BYTES the file is copied to an unlinked temporary file (page cache, not this process's
memory; and a private copy, so nothing can truncate it under the mapping, which would end the
process with SIGBUS), mapped read-only, and each batch's sorted probes walk it WINDOW checks at a
time; after each window past the first KEEP checks its pages are dropped from this process
(`MADV_DONTNEED`: they stay in the page cache and come back on the next touch without a read).
Resident: at most KEEP checks (32 MB) plus one window of each column, whatever the model's size.

Why KEEP: every batch touches every page again, so a dropped page costs a page fault per batch
(5M records, 100 batches, every window dropped: 160,000 more minor faults, +0.2 s of system CPU,
+3.6% of the plan; keeping the first 2M checks: 60,000 more, plan CPU within the noise, 30 MB more).

The answers are `Sidecar.unchanged`'s over the same arrays: a window only narrows where
`searchsorted` looks; each probe meets the very check one search over the whole array meets.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from pathlib import Path

import numpy as np

RESIDENT_BYTES = 8 << 20  # sidecar files up to this size (~350k records) are read into memory as before
WINDOW = 1 << 19  # checks per window: 4 MB of each column
KEEP = 1 << 21  # checks never dropped (32 MB of both columns): only the rest pays for being touched again
FENCE = 64  # checks a fence entry stands for (`_few`: 512 bytes of check1 read a probe)
FEW = 512  # a call with under 1/FEW as many probes as checks takes `_few` (5M checks: under 9,765 probes)
FEW_CHUNK = 32  # probes at a time in `_few`, the pages they touched dropped after each chunk (see `_few`)


def private_map(path: Path) -> mmap.mmap | None:
    """A read-only mapping of a private copy of `path`, or None when no temporary file can be made
    (the caller reads the file into memory instead). OSError/ValueError: `path` unreadable or empty."""
    try:
        copy = tempfile.TemporaryFile(prefix="syncer-sidecar-")  # noqa: SIM115  (closed below)
    except OSError:
        return None
    with copy, path.open("rb") as source:
        size = os.fstat(source.fileno()).st_size
        done = 0
        while done < size:
            sent = os.sendfile(copy.fileno(), source.fileno(), done, size - done)
            if not sent:  # the file shrank while copied: the reader finds it truncated
                break
            done += sent
        return mmap.mmap(copy.fileno(), 0, access=mmap.ACCESS_READ)


class MappedChecks:
    """Probes of check1/check2 (views of `mapping`, sorted by check1), a window at a time."""

    def __init__(self, mapping: mmap.mmap, check1: np.ndarray, check2: np.ndarray) -> None:
        self.mapping = mapping
        self.check1, self.check2 = check1, check2
        self._base = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
        self._fence: np.ndarray | None = None  # every FENCE-th check1, in memory (`_few`)

    def unchanged(self, wanted1: np.ndarray, wanted2: np.ndarray) -> np.ndarray:
        """Boolean per probe: (wanted1[i], wanted2[i]) is a (check1, check2) pair of the sidecar."""
        n = len(self.check1)
        if len(wanted1) * FEW < n:
            return self._few(wanted1, wanted2)
        order = np.argsort(wanted1)
        probes = wanted1[order]
        found = np.zeros(len(wanted1), dtype=bool)
        # window w holds checks [w * WINDOW, (w + 1) * WINDOW); a probe goes to the window holding the
        # first check >= it (where one `searchsorted` over all of them lands): past window w's last
        # check, it belongs to a later window, even when equal checks straddle the edge
        last = self.check1[WINDOW - 1 : n - 1 : WINDOW]
        cuts = [0, *np.searchsorted(probes, last, side="right").tolist(), len(probes)]
        for w in range(len(cuts) - 1):
            start, stop = w * WINDOW, min((w + 1) * WINDOW, n)
            if cuts[w + 1] > cuts[w]:
                part, rows = probes[cuts[w] : cuts[w + 1]], order[cuts[w] : cuts[w + 1]]
                at = np.minimum(np.searchsorted(self.check1[start:stop], part), stop - start - 1) + start
                found[rows] = (self.check1[at] == part) & (self.check2[at] == wanted2[rows])
                if start >= KEEP:
                    self._release(start, stop)
        return found

    def _few(self, wanted1: np.ndarray, wanted2: np.ndarray) -> np.ndarray:
        """`unchanged` for a few probes (the rows the stream-order list did not find: `stream_order`):
        each reads the FENCE + 1 checks its fence entry points to and the one check2 it meets (two or
        three pages, not the ~10 of a search in a window), and the pages are dropped after every
        FEW_CHUNK probes, so a plan keeps none of the checks resident. Why so often: a read fault on
        a mapped file maps the 16 pages around it that are in the page cache (the kernel's
        fault-around, 64 KB), so 1,500 random touches of an 80 MB file made 80 MB resident (measured),
        the whole sidecar, for as long as a call lasted: a peak-RSS spike. Answers: a probe meets the
        first check >= it, as one `searchsorted` over all of them does."""
        n = len(self.check1)
        fence = self._fenced()
        found = np.zeros(len(wanted1), dtype=bool)
        steps = np.arange(FENCE + 1)
        for start in range(0, len(wanted1), FEW_CHUNK):  # (probes x FENCE + 1) positions a chunk at a time
            part = wanted1[start : start + FEW_CHUNK]
            # the last fence entry below the probe: its first check >= the probe lies in that block's
            # FENCE checks after it, or is the next block's first (none below: position 0)
            first = np.maximum(np.searchsorted(fence, part) - 1, 0) * FENCE
            block = self.check1[np.minimum(first[:, None] + steps, n - 1)]
            at = np.minimum(first + (block < part[:, None]).sum(axis=1), n - 1)
            found[start : start + len(part)] = (self.check1[at] == part) & (
                self.check2[at] == wanted2[start : start + len(part)]
            )
            self._release(0, n)
        return found

    def _fenced(self) -> np.ndarray:
        """Every FENCE-th check1 (8 bytes for FENCE checks), read a window at a time, each dropped after."""
        if self._fence is None:
            n = len(self.check1)
            parts = []
            step = max(WINDOW // FENCE, 1) * FENCE  # about a window, a multiple of FENCE
            for start in range(0, n, step):
                stop = min(start + step, n)
                parts.append(self.check1[start:stop:FENCE].copy())
                self._release(start, stop)
            self._fence = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
        return self._fence

    def _release(self, start: int, stop: int) -> None:
        """Drop the pages of checks [start, stop) of both columns from this process."""
        for column in (self.check1, self.check2):
            first = column.ctypes.data + start * 8 - self._base
            last = column.ctypes.data + stop * 8 - self._base
            first -= first % mmap.PAGESIZE
            self.mapping.madvise(mmap.MADV_DONTNEED, first, last - first)
