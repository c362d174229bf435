"""Log lines go to the stderr of the moment: a command run in-process may swap and close its own."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from syncer.logs import setup_logging


@pytest.fixture
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = saved, level


def test_a_record_after_stderr_was_swapped_and_closed_goes_to_the_new_stderr(
    root_handlers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    setup_logging("json", "info")
    logging.getLogger("syncer.test").info("while the runner held stderr")
    assert "while the runner held stderr" in first.getvalue()
    first.close()  # the in-process runner is done with its copy; an emulator's thread still logs
    monkeypatch.setattr(sys, "stderr", second)
    monkeypatch.setattr(logging, "raiseExceptions", True)
    logging.getLogger("syncer.test").info("from a thread that outlived it")
    [line] = second.getvalue().splitlines()  # the record itself, not logging's "--- Logging error ---"
    assert json.loads(line)["msg"] == "from a thread that outlived it"
