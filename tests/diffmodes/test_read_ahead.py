"""The columnar diff prepares the next batch on a thread (syncer.columnar.differ.read_ahead): the
batches come out in order, an error surfaces where it happened, and a consumer that stops early
leaves no thread behind and closes the batch stream (the warehouse cursor) on that thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from syncer.columnar.differ import AHEAD, read_ahead


def numbers(n: int, log: list[str], fail_at: int | None = None) -> Iterator[int]:
    try:
        for i in range(n):
            if i == fail_at:
                raise RuntimeError(f"warehouse failed at {i}")
            yield i
    finally:
        log.append(f"closed on {threading.current_thread().name}")


def squared(i: Any) -> Any:
    return i * i


def test_every_batch_comes_out_in_order() -> None:
    log: list[str] = []
    assert list(read_ahead(numbers(50, log), squared)) == [i * i for i in range(50)]
    assert log == ["closed on columnar-read-ahead"]


def test_an_error_surfaces_after_the_batches_before_it() -> None:
    log: list[str] = []
    seen = []
    with pytest.raises(RuntimeError, match="failed at 7"):
        for value in read_ahead(numbers(50, log, fail_at=7), squared):
            seen.append(value)
    assert seen == [i * i for i in range(7)] and log == ["closed on columnar-read-ahead"]


def test_stopping_early_closes_the_stream_and_ends_the_thread() -> None:
    log: list[str] = []
    ahead = read_ahead(numbers(1000, log), squared)
    assert [next(ahead) for _ in range(3)] == [0, 1, 4]
    ahead.close()  # what a daemon's stop or a failed send does to the diff's generator
    assert log == ["closed on columnar-read-ahead"]
    assert not any(t.name == "columnar-read-ahead" for t in threading.enumerate())


def test_light_batches_are_fetched_on_while_the_caller_maps() -> None:
    """A window's batches (key hashes and few rows) keep coming while the caller still holds the first
    (mapping the window's rows): AHEAD queue, one more is prepared; then all arrive, in order."""
    log: list[str] = []
    prepared: list[int] = []
    far = threading.Event()

    def note(i: Any) -> Any:
        prepared.append(i)
        if len(prepared) == AHEAD + 2:  # 1 taken + AHEAD queued + 1 waiting to be queued
            far.set()
        return i

    ahead = read_ahead(numbers(100, log), note, light=lambda i: True)
    assert next(ahead) == 0
    assert far.wait(timeout=10), prepared  # (a Queue of one would stop at 3)
    assert list(ahead) == list(range(1, 100)) and log == ["closed on columnar-read-ahead"]
