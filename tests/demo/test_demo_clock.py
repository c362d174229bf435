"""The demo simulates its days in the past: no display of what it made shows a negative age or a future time.

`syncer demo` and the commands it tells a newcomer to run, each as a process whose clock is patched
(time-machine, ticking from a fixed instant): early morning before the simulated 08:00 alerts, late morning
before the noon report, and late evening when UTC is already on the next day. Each display's ages must be
>= 0 and each instant it shows must be before the clock the display ran at.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syncer.demo import DIGEST_ZONE, last_scored_day

NY = ZoneInfo("America/New_York")
# python -c: start time-machine at argv[1] (ticking), then run `python -m syncer argv[2:]`
AT_CLOCK = (
    "import datetime, runpy, sys, time_machine; "
    "time_machine.travel(datetime.datetime.fromisoformat(sys.argv[1]), tick=True).start(); "
    "sys.argv = ['syncer', *sys.argv[2:]]; runpy.run_module('syncer', run_name='__main__')"
)
CLOCKS = {
    "06:30 before the 08:00 alerts": dt.datetime(2026, 6, 16, 6, 30, tzinfo=NY),
    "11:00 before the noon report": dt.datetime(2026, 6, 16, 11, 0, tzinfo=NY),
    "23:30 local, UTC already tomorrow": dt.datetime(2026, 6, 16, 23, 30, tzinfo=NY),
}
LATER = dt.timedelta(minutes=5)  # the displays run this long after the demo started (its run takes seconds)
SLACK = dt.timedelta(minutes=2)  # a ticking clock: the display's own run time
ISO = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?")


def run_at(at: dt.datetime, folder: Path, *args: str) -> str:
    """`syncer ARGS` as a process whose clock starts at `at`, with the demo's env; stdout (exit 0 asserted)."""
    env = dict(os.environ, COLUMNS="250")
    demo_env = folder / "demo.env"
    if demo_env.is_file():
        env.update(line.split("=", 1) for line in demo_env.read_text().splitlines() if "=" in line)
    command = [sys.executable, "-c", AT_CLOCK, at.isoformat(), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass
class Ran:
    clock: dt.datetime  # when the demo process started
    folder: Path

    def display(self, *args: str) -> tuple[str, dt.datetime]:
        """A command the demo prints, run at the demo's clock + LATER: (stdout, that clock)."""
        at = self.clock + LATER
        return run_at(at, self.folder, *args, "-c", str(self.folder / "config.toml")), at


@pytest.fixture(scope="module", params=list(CLOCKS), ids=list(CLOCKS))
def ran(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Ran:
    clock = CLOCKS[request.param]
    folder = tmp_path_factory.mktemp("clock") / "demo"
    run_at(clock, folder, "demo", "--dir", str(folder), "--accounts", "120", "--days", "45")
    return Ran(clock, folder)


def iso_instants(text: str) -> list[dt.datetime]:
    """Every ISO-8601 date-time in `text`; a naive one is UTC (syncer's convention)."""
    out = []
    for found in ISO.findall(text):
        value = dt.datetime.fromisoformat(found.replace("Z", "+00:00"))
        out.append(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    return out


def table_times(text: str) -> list[dt.datetime]:
    """`syncer runs`: '2026-06-16 06:35:01 EDT' cells, in the New York zone the demo's config names."""
    return [
        dt.datetime.fromisoformat(f"{d} {t}").replace(tzinfo=NY) for d, t in re.findall(r"(\S+) (\S+) E[SD]T", text)
    ]


def digest_times(text: str) -> list[dt.datetime]:
    """`syncer digest --preview`: 'the last digests went out Mon Jun 15 09:01 America/New_York'."""
    found = re.findall(r"went out \w{3} (\w{3} \d+ \d\d:\d\d) America/New_York", text)
    return [dt.datetime.strptime(f"2026 {f}", "%Y %b %d %H:%M").replace(tzinfo=NY) for f in found]


def report_times(text: str) -> list[dt.datetime]:
    """report.html: the data's `generated_at` and every ISO instant, plus the 'Generated 16 Jun 2026, 12:00' line."""
    shown = [
        dt.datetime.strptime(f, "%d %b %Y, %H:%M").replace(tzinfo=NY)
        for f in re.findall(r"Generated (\d+ \w{3} \d{4}, \d\d:\d\d) E[SD]T", text)
    ]
    assert shown, "report.html no longer says when it was generated"
    return shown + iso_instants(text)


def table_ages(text: str) -> list[float]:
    """`syncer alerts`: the age column ('45m', '5h', '3d') as hours."""
    scale = {"m": 1 / 60, "h": 1.0, "d": 24.0}
    return [int(n) * scale[u] for n, u in re.findall(r"^(-?\d+)([mhd]) ", text, re.M)]


def json_ages(text: str) -> list[float]:
    return [float(r["age_hours"]) for r in json.loads(text) if r.get("age_hours") is not None]


# (display, command args or a file in the demo folder, times it shows, ages it shows)
Times = Callable[[str], list[dt.datetime]]
Ages = Callable[[str], list[float]]
DISPLAYS: list[tuple[str, tuple[str, ...] | str, Times | None, Ages | None]] = [
    ("syncer alerts", ("alerts", "--all"), None, table_ages),
    ("syncer alerts --json", ("alerts", "--json"), iso_instants, json_ages),
    ("syncer runs", ("runs",), table_times, None),
    ("syncer runs --json", ("runs", "--json"), iso_instants, None),
    ("syncer audit --json", ("audit", "hubspot_companies", "--limit", "20", "--json"), iso_instants, None),
    ("syncer status --json", ("status", "--json"), iso_instants, None),
    ("syncer digest --preview", ("digest", "--preview"), digest_times, None),
    ("demo.html (what landed: Slack, email, timeline)", "demo.html", iso_instants, None),
    ("report.html (alert outcomes report)", "report.html", report_times, None),
    ("summary.json", "summary.json", iso_instants, None),
]


@pytest.mark.parametrize(("name", "source", "times", "ages"), DISPLAYS, ids=[d[0] for d in DISPLAYS])
def test_no_display_shows_the_future(
    ran: Ran, name: str, source: tuple[str, ...] | str, times: Times | None, ages: Ages | None
) -> None:
    if isinstance(source, str):
        text, now = (ran.folder / source).read_text(encoding="utf-8"), ran.clock + SLACK
    else:
        text, now = ran.display(*source)
        now += SLACK
    if times is not None:
        shown = times(text)
        assert shown or name.startswith(("syncer digest", "summary")), f"{name}: no time found to check"
        future = [t.isoformat() for t in shown if t > now]
        assert not future, f"{name} at {now:%Y-%m-%d %H:%M %Z} shows future times: {future[:5]}"
    if ages is not None:
        found = ages(text)
        assert found, f"{name}: no age found to check"
        assert min(found) >= 0, f"{name} shows negative ages: {sorted(found)[:5]}"


def test_the_demo_pings_only_high_priority_within_budget(ran: Ran) -> None:
    """Product rule: a real-time ping only for a high-priority signal, at most the budget a rep a local day."""
    with sqlite3.connect(ran.folder / "data" / "state.sqlite") as conn:
        by_priority = dict(conn.execute("SELECT priority, count(*) FROM alerts WHERE delivery = 'ping' GROUP BY 1"))
        opened = [dt.datetime.fromisoformat(o) for (o,) in conn.execute("SELECT opened_at FROM alerts")]
        per_day = conn.execute(
            "SELECT max(n) FROM (SELECT owner_email, date(opened_at, '-4 hours'), count(*) AS n FROM alerts "
            "WHERE delivery = 'ping' GROUP BY 1, 2)"
        ).fetchone()[0]
    assert set(by_priority) <= {"high"}, by_priority
    assert (per_day or 0) <= 5, per_day  # [alerts.budget] per_recipient in config.example.toml
    assert opened and max(o.replace(tzinfo=dt.UTC) for o in opened) <= ran.clock + SLACK


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (dt.datetime(2026, 6, 16, 0, 5), dt.date(2026, 6, 14)),  # just after midnight: report was yesterday noon
        (dt.datetime(2026, 6, 16, 6, 30), dt.date(2026, 6, 14)),  # before the 08:00 alerts
        (dt.datetime(2026, 6, 16, 11, 59), dt.date(2026, 6, 14)),  # before today's noon report
        (dt.datetime(2026, 6, 16, 12, 0), dt.date(2026, 6, 15)),  # the report's own minute: its day has come
        (dt.datetime(2026, 6, 16, 23, 30), dt.date(2026, 6, 15)),  # UTC already on the 17th
        (dt.datetime(2026, 11, 1, 6, 30), dt.date(2026, 10, 30)),  # the morning clocks go back
        (dt.datetime(2026, 3, 8, 12, 30), dt.date(2026, 3, 7)),  # the day clocks go forward
    ],
)
def test_last_scored_day_keeps_the_whole_schedule_in_the_past(local: dt.datetime, expected: dt.date) -> None:
    now = local.replace(tzinfo=DIGEST_ZONE).astimezone(dt.UTC)
    day = last_scored_day(now)
    assert day == expected
    report = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(12), DIGEST_ZONE)
    assert report <= now
