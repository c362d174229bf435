"""A zoned timestamp's transforms do not depend on the warehouse session's time zone (mapping._utc).

`cast = "date"`, `format` without `tz`, `cast = "str"`, templates and untyped fields worked on the
datetime in whatever zone the driver returned it (PostgreSQL: the server's or session's `timezone`;
DuckDB: the process's TZ), so a session in New York sent 2026-03-09T02:30Z as the 8th, and a
restart under another zone re-sent every such field. Table-driven over session zones and diff
modes on a real PostgreSQL: every combination sends the UTC-based values.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from tests.diffmodes.harness import hook_mapping, open_job, run, write_project

os.environ.setdefault("HOOK_SECRET", "whsec-test-session-zone")

MAPPING = hook_mapping(
    """\
at = "at"
day = { column = "at", cast = "date" }
hm = { column = "at", format = "%Y-%m-%d %H:%M" }
text = { column = "at", cast = "str" }
berlin = { column = "at", tz = "Europe/Berlin", format = "%Y-%m-%d %H:%M" }
note = { template = "at {at}" }
spec = { template = "on {at:%Y-%m-%d %H:%M}" }
"""
)

EXPECTED = {
    "at": "2026-03-09T02:30:00.000Z",  # the one text of a zoned timestamp (syncer.value_text)
    "day": "2026-03-09",
    "hm": "2026-03-09 02:30",
    "text": "2026-03-09T02:30:00.000Z",
    "berlin": "2026-03-09 03:30",
    "note": "at 2026-03-09T02:30:00.000Z",
    "spec": "on 2026-03-09 02:30",
}


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
@pytest.mark.parametrize("mode", ["columnar", "rows", "warehouse"])
def test_transforms_start_from_utc_whatever_the_session_zone(pg_url: str, tmp_path: Path, zone: str, mode: str) -> None:
    with sa.create_engine(pg_url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS model (a INT PRIMARY KEY, m TEXT, at TIMESTAMPTZ)"))
        conn.execute(sa.text("INSERT INTO model VALUES (1, 'x1', '2026-03-09 02:30:00+00') ON CONFLICT DO NOTHING"))
    url = f"{pg_url}?options={quote('-c timezone=' + zone)}"
    job = open_job(write_project(tmp_path / mode, url, MAPPING, mode))
    try:
        (change,) = run(job, set()).changes
    finally:
        job.close()
        job.state.close()
    assert change[4] == EXPECTED
