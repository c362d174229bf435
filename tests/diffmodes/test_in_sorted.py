"""`kernels.in_sorted` (is each sorted key hash in another sorted array?) answers as `numpy.isin` does,
on its fast path (the same array: the window's common case, the model's keys are state's), across
its chunks, and at the edges."""

from __future__ import annotations

import numpy as np
import pytest

from syncer.columnar import kernels


def _sorted(values: list[int]) -> np.ndarray:
    return np.sort(np.asarray(values, dtype=np.uint64))


CASES = {
    "the same keys": ([1, 5, 9, 2**64 - 1], [1, 5, 9, 2**64 - 1]),
    "same length, one differs": ([1, 5, 9, 12], [1, 5, 10, 12]),
    "one key more in the model": ([1, 5, 9, 12], [1, 5, 12]),
    "one key fewer": ([1, 12], [1, 5, 12]),
    "state empty": ([3, 4], []),
    "model empty": ([], [3, 4]),
    "beyond the last": ([7, 8, 20], [1, 7]),
}


@pytest.mark.parametrize("values, ordered", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("chunk", [1 << 20, 2])
def test_in_sorted_answers_as_isin(
    values: list[int], ordered: list[int], chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kernels, "IN_SORTED_CHUNK", chunk)
    left, right = _sorted(values), _sorted(ordered)
    found = kernels.in_sorted(left, right)
    assert found.dtype == bool and found.tolist() == np.isin(left, right).tolist()
