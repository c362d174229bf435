"""A diff reads the model's column types once (`modes.model_column_types`): warehouse mode needs them
for the fingerprint and, with `updated_at`, for the watermark's spec; both used to query them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from syncer.warehouse_diff.differ import WarehouseDiffer
from tests.diffmodes.harness import open_job, plan, run, write_project
from tests.diffmodes.test_incremental import FIRST, MAPPING, _load, warehouse_url

os.environ.setdefault("HOOK_SECRET", "whsec-test-type-reads")

__all__ = ["warehouse_url"]  # the fixture: DuckDB and PostgreSQL

WITHOUT_UPDATED_AT = MAPPING.replace('updated_at = "updated_at"\n', "")


def _is_type_read(statement: str) -> bool:
    """`dialects.model_types`' query: DuckDB's DESCRIBE, PostgreSQL's zero-row read of the whole model
    (other zero-row probes of the model say `WHERE 1 = 0`)."""
    text = " ".join(statement.split())
    return text.startswith("DESCRIBE SELECT * FROM (") or (
        text.startswith("SELECT * FROM (") and text.endswith("LIMIT 0")
    )


# (diff mode, mapping) -> column-type reads per diff
CASES = {
    "warehouse, updated_at": ("warehouse", MAPPING, 1),
    "warehouse": ("warehouse", WITHOUT_UPDATED_AT, 1),
    "columnar, updated_at": ("columnar", MAPPING, 1),
    "columnar": ("columnar", WITHOUT_UPDATED_AT, 0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_diff_reads_the_column_types_once(warehouse_url: str, tmp_path: Path, case: str) -> None:
    mode, mapping, reads = CASES[case]
    _load(warehouse_url, FIRST)
    job = open_job(write_project(tmp_path / mode, warehouse_url, mapping, mode))
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if _is_type_read(statement):
            seen.append(statement)

    sa.event.listen(job.source.engine, "before_cursor_execute", count)
    try:
        run(job, set())  # a run's diff (warehouse mode: builds the snapshot)
        assert len(seen) == reads, seen
        seen.clear()
        differ, _ = plan(job)  # on the snapshot the run left
        assert len(seen) == reads, seen
        assert isinstance(differ, WarehouseDiffer) is (mode == "warehouse")
    finally:
        sa.event.remove(job.source.engine, "before_cursor_execute", count)
        job.close()
        job.state.close()
