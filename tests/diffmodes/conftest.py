"""The engine tests' receiver fixture, for the diff-mode tests; and a tiny hash block, so every
columnar diff here writes its key and match hashes to disk as a big model's does (hash_spill)."""

from collections.abc import Iterator

import pytest

from syncer.columnar import hash_spill
from tests.engine.conftest import receiver

__all__ = ["receiver"]


@pytest.fixture(autouse=True)
def spilled_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(hash_spill, "BLOCK", 3)
    yield
