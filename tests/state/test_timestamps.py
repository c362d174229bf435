"""Every instant syncer stores comes back as the same instant, whatever zone it was written in.

The kind: SQLite keeps a datetime's wall clock and drops its zone, so 09:00 New York read back
as 09:00 UTC (the demo's alert times were five hours off). Checked three ways: the column type on
SQLite and real PostgreSQL over a table of zones, a real migrated state store, and a scan that no
table syncer owns declares a bare `sa.DateTime`.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncer.state import COUNTERS, StateStore, runs
from syncer.timestamps import UtcDateTime

SRC = Path(__file__).resolve().parents[2] / "src" / "syncer"
# modules that describe the user's warehouse columns (read, never written by syncer's tables)
READS_USER_COLUMNS = {"intraday/query.py", "scoring/quality.py"}

INSTANT = dt.datetime(2026, 11, 30, 14, 0, 0, 123000, tzinfo=dt.UTC)
ZONES = [
    ("UTC", dt.UTC),
    ("New York, -05:00", zoneinfo.ZoneInfo("America/New_York")),
    ("Kolkata, +05:30", zoneinfo.ZoneInfo("Asia/Kolkata")),
    ("Chatham, +13:45", zoneinfo.ZoneInfo("Pacific/Chatham")),
    ("fixed -09:30", dt.timezone(dt.timedelta(hours=-9, minutes=-30))),
]


def _round_trip(url: str) -> list[tuple[str, bool, dt.datetime | None]]:
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    table = sa.Table(
        "instants",
        meta,
        sa.Column("label", sa.String(40)),
        sa.Column("aware", UtcDateTime()),
        sa.Column("naive", UtcDateTime(timezone=False)),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        for label, zone in ZONES:
            written = INSTANT.astimezone(zone)
            conn.execute(table.insert(), {"label": label, "aware": written, "naive": written})
        conn.execute(table.insert(), {"label": "naive UTC", "aware": INSTANT.replace(tzinfo=None), "naive": None})
        rows = conn.execute(sa.select(table)).all()
    engine.dispose()
    out: list[tuple[str, bool, dt.datetime | None]] = []
    for label, aware, naive in rows:
        out.append((label, True, aware))
        out.append((label, False, naive))
    return out


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_every_zone_reads_back_as_the_same_instant(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}" if database == "sqlite" else request.getfixturevalue("pg_url")
    for label, timezone, value in _round_trip(url):
        if value is None:
            continue
        if timezone:
            assert value.tzinfo is not None and value.utcoffset() == dt.timedelta(0), label
            assert value == INSTANT, f"{database} {label}: {value} is not {INSTANT}"
        else:
            assert value.tzinfo is None, label  # a timezone=False column keeps its naive-UTC contract
            assert value == INSTANT.replace(tzinfo=None), f"{database} {label} (naive column): {value}"


def test_a_state_store_keeps_the_instant(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    new_york = INSTANT.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    with store.engine.begin() as conn:
        conn.execute(
            runs.insert(),
            {"sync": "s", "started_at": new_york, "status": "ok", "full": False, **dict.fromkeys(COUNTERS, 0)},
        )
        (started,) = conn.execute(sa.select(runs.c.started_at).where(runs.c.sync == "s")).one()
    store.close()
    assert started == INSTANT


def test_no_table_syncer_owns_declares_a_bare_datetime() -> None:
    bare = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("migrations/") or relative == "timestamps.py" or relative in READS_USER_COLUMNS:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bsa\.DateTime\(|\bsqlalchemy\.DateTime\(", line):
                bare.append(f"{relative}:{number}: {line.strip()}")
    assert not bare, "use syncer.timestamps.UtcDateTime for stored instants:\n" + "\n".join(bare)
