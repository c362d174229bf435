"""What makes an `updated_at` window diff the whole model once, in both modes that keep one (warehouse
mode's window, test_incremental; columnar mode's, test_columnar_window): a mapping edit, and a new type
of the `updated_at` column. A watermark read from a TIMESTAMP bounds no window on a TIMESTAMPTZ (its
zone-less bound would be read in the session's zone: hours of changes outside the window) or on a
DATE: the type is part of what the watermark was read under. After the full diff, the window again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.diffmodes import test_columnar_window as columnar
from tests.diffmodes import test_incremental as warehouse
from tests.diffmodes.test_columnar_window import small_batches
from tests.diffmodes.test_incremental import BUMPED, FIRST, MAPPING, Clock, _close, _execute, clock, synced_jobs

__all__ = ["clock", "small_batches"]  # the fixtures: watermark's clock patched; batches of 3 rows

BUMP = f"UPDATE model SET score = 20, updated_at = TIMESTAMP '{BUMPED}' WHERE id = 2"

# edit -> (the mapping after it, statements on the model, records the full diff changes)
EDITS = {
    "mapping edit": (MAPPING.replace('score = "score"', 'score = "score"\nmail = "email"'), [], len(FIRST)),
    "updated_at turned TIMESTAMPTZ": (MAPPING, ["ALTER TABLE model ALTER COLUMN updated_at TYPE TIMESTAMPTZ", BUMP], 1),
    "updated_at turned DATE": (MAPPING, ["ALTER TABLE model ALTER COLUMN updated_at TYPE DATE", BUMP], 1),
}


def _run(windowed: str, job: Any) -> tuple[Any, str]:
    """(plan, which path answered: window / full) of one run in the windowed mode's own terms."""
    return (warehouse.answered_run if windowed == "warehouse" else columnar.answered_run)(job)


@pytest.mark.parametrize("edit", list(EDITS))
@pytest.mark.parametrize("windowed", ["warehouse", "columnar"])
def test_an_edit_diffs_the_whole_model_once(tmp_path: Path, clock: Clock, windowed: str, edit: str) -> None:
    mapping, statements, changed = EDITS[edit]
    synced = synced_jobs(tmp_path, windowed)  # (DuckDB URL, jobs by mode) after a first run: watermark 08:00
    url, jobs = next(synced)
    edited = warehouse._jobs(tmp_path, url, mapping, windowed=windowed) if mapping != MAPPING else None
    try:
        if statements:
            _execute(url, *statements)
        rows, _ = warehouse._run((edited or jobs)["rows"])
        ran, answered = _run(windowed, (edited or jobs)[windowed])
        assert answered == "full" and ran == rows and rows.tally["changed"] == changed
        again, answered = _run(windowed, (edited or jobs)[windowed])
        assert answered == "window" and again.tally["unchanged"] == len(FIRST)
    finally:
        if edited:
            _close(edited)
        synced.close()
