"""The engine tests' receiver fixture, for the diff-mode tests; and tiny spill blocks and sidecar
windows, so every columnar diff here keeps its hashes on disk and probes its sidecar from a mapped
copy, as a big model's does (hash_spill, mapped_checks), and read the stream order a few entries at a
time with little slack, so its refills and realignments happen in small models (stream_order)."""

from collections.abc import Iterator

import pytest

from syncer.columnar import hash_spill, mapped_checks, stream_order
from tests.engine.conftest import receiver

__all__ = ["receiver"]


@pytest.fixture(autouse=True)
def big_model_paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(hash_spill, "BLOCK", 3)
    monkeypatch.setattr(mapped_checks, "RESIDENT_BYTES", 0)
    monkeypatch.setattr(mapped_checks, "WINDOW", 2)
    monkeypatch.setattr(mapped_checks, "KEEP", 0)
    monkeypatch.setattr(mapped_checks, "FENCE", 2)
    monkeypatch.setattr(mapped_checks, "FEW", 1)  # fewer probes than checks: the fenced search (`_few`)
    monkeypatch.setattr(stream_order, "CHUNK", 64)
    monkeypatch.setattr(stream_order, "SLACK", 8)
    yield
