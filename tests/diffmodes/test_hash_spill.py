"""The stream's hashes wait on disk (syncer.columnar.hash_spill) and come back exactly as one sorted
in-memory array would give them: the same repeats, the same sorted order.

Table-driven: each case appends batches of hashes with a tiny block (so blocks are written, split
across batches, and a tail stays pending) and compares `has_repeat()` and `sorted()` with numpy's
answer on all the hashes at once. Bucket edges (the top 6 bits) and the extremes of UInt64 are in
the cases, so a hash filed in the wrong bucket or a bucket read twice would show.
"""

from __future__ import annotations

import tempfile

import numpy as np
import pytest

from syncer.columnar import hash_spill
from syncer.columnar.hash_spill import SpilledHashes

EDGE = 1 << 58  # the first hash of bucket 1
TOP = 2**64 - 1
RANDOM = [int(v) for v in np.random.default_rng(7).integers(0, TOP, 40, dtype=np.uint64)]

CASES: dict[str, tuple[list[list[int]], bool]] = {
    "nothing": ([], False),
    "one hash": ([[5]], False),
    "unique, under one block (nothing written)": ([[3, 1, 2]], False),
    "unique, across blocks and batches": ([RANDOM[:9], RANDOM[9:10], RANDOM[10:]], False),
    "repeat inside one batch": ([[1, 2, 1]], True),
    "repeat in two written blocks": ([RANDOM[:8], [RANDOM[3]], RANDOM[8:20]], True),
    "repeat between a written block and the pending tail": ([RANDOM[:10], [RANDOM[0]]], True),
    "bucket edges and extremes, unique": ([[0, EDGE - 1, EDGE, TOP, TOP - 1, EDGE + 1, 1]], False),
    "repeat at the top of UInt64": ([[TOP, 0, 4, 9, EDGE, 3], [TOP]], True),
    "repeat at a bucket edge": ([[EDGE - 1, EDGE, 17, 18, 19, 20], [EDGE]], True),
    "every hash equal (a forced collision)": ([[42] * 7, [42] * 3], True),
}


@pytest.fixture(params=["temporary file", "no writable temp dir"])
def spill(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(hash_spill, "BLOCK", 5)
    if request.param == "no writable temp dir":

        def refuse(*args: object, **kwargs: object) -> None:
            raise FileNotFoundError("No usable temporary directory found")

        monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    return str(request.param)


@pytest.mark.parametrize("name", CASES)
def test_spilled_hashes_answer_as_one_sorted_array(name: str, spill: str) -> None:
    batches, repeat = CASES[name]
    every = np.array([h for batch in batches for h in batch], dtype=np.uint64)
    hashes = SpilledHashes()
    for batch in batches:
        hashes.append(np.array(batch, dtype=np.uint64))
    assert len(hashes) == len(every)
    assert hashes.has_repeat() is repeat
    assert hashes.has_repeat() is repeat  # asking again reads the same hashes
    assert hashes.sorted().tolist() == np.sort(every).tolist()
    assert (hashes._file is not None) == (spill == "temporary file" and len(every) >= hash_spill.BLOCK)
    hashes.close()
    assert len(hashes) == 0 and hashes._file is None


def test_a_repeat_found_early_leaves_every_hash_in_place(spill: str) -> None:
    """`has_repeat` stops at the first bucket with a repeat; the hashes after it are still there."""
    hashes = SpilledHashes()
    values = [0, 0, *RANDOM[:12]]  # the repeat is in bucket 0, read first
    hashes.append(np.array(values, dtype=np.uint64))
    hashes.append(np.array([TOP], dtype=np.uint64))  # pending, not yet written
    assert hashes.has_repeat()
    assert hashes.sorted().tolist() == sorted([*values, TOP])
