"""A schedule that is invalid or schedules nothing is refused by `syncer check` and by `syncer daemon` at
start, as processes: one line per problem naming the file and key and the fix, exit 2, no traceback
(leftovers4 #1).

Repro: `[daemon.score]` with an invalid cron and no `[scoring]` section: `check` said nothing of it and the
daemon started with "0 scheduled job(s)". The same held for every `[daemon.<job>]` table of a job the config
does not run, a cron that never fires (`0 0 30 2 *`), an every_minutes too long to count (a traceback when
the scheduler started), and a job that runs only after a job that never runs.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.daemon.conftest import configure
from tests.engine.conftest import MAPPING, Project


@dataclass(frozen=True)
class Bad:
    """A config change (`daemon`: appended to config.toml; `schedule`: the accounts sync's [schedule]; `more`:
    anything else) and the `file: key` plus words of the one problem it must raise."""

    key: str
    says: str
    daemon: str = ""
    schedule: str = "every_minutes = 5"
    more: Callable[[Project], None] | None = None
    in_mapping: bool = False  # the key is in mappings/accounts.toml, not config.toml


def _scoring(p: Project) -> None:
    p.config.write_text(p.config.read_text() + "\n[scoring]\n")


def _unscheduled_sync(p: Project) -> None:
    """A second sync, `other`, with no [schedule]: it runs from the command line only."""
    other = MAPPING.format(mode="upsert").replace('object = "accounts"', 'object = "others"')  # shared_records
    (p.root / "mappings" / "other.toml").write_text(other)


BAD = {
    "[daemon.score] with an invalid cron, no [scoring] (the tester's)": Bad(
        "daemon.score", "runs only with a [scoring] section", daemon='[daemon.score]\ncron = "61 * * * *"'
    ),
    "[daemon.score], no [scoring]": Bad(
        "daemon.score", "add a [scoring] section", daemon='[daemon.score]\ncron = "0 5 * * *"'
    ),
    **{
        f"[daemon.{job}], no [alerts]": Bad(
            f"daemon.{job}", "an [alerts] section", daemon=f"[daemon.{job}]\nevery_minutes = 5"
        )
        for job in ("alerts", "digest", "escalate", "intraday")
    },
    "[daemon.report], no [report] path": Bad(
        "daemon.report", "[report] path", daemon='[daemon.report]\ncron = "0 6 * * *"'
    ),
    "[daemon.score] cron that never fires": Bad(
        "daemon.score.cron", "matches no date", daemon='[daemon.score]\ncron = "0 0 30 2 *"', more=_scoring
    ),
    "a sync's cron that never fires": Bad(
        "schedule.cron", "matches no date", schedule='cron = "0 0 31 4 *"', in_mapping=True
    ),
    "a sync's every_minutes too long to count": Bad(
        "schedule.every_minutes", "too long to count", schedule="every_minutes = 1e12", in_mapping=True
    ),
    "a sync after a sync that never runs": Bad(
        "schedule.after", "'other': no schedule", schedule='after = ["other"]', more=_unscheduled_sync, in_mapping=True
    ),
    "a sync after score, which has no schedule": Bad(
        "schedule.after", "'score': no schedule", schedule='after = ["score"]', more=_scoring, in_mapping=True
    ),
}


def _problems(project: Project, command: str) -> tuple[int | None, str]:
    """Exit code and stderr of `syncer COMMAND` as a process; a daemon still up after 60 s is stopped (None)."""
    proc = project.subprocess(command)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # it started: the problem was not refused
        proc.terminate()
        _, stderr = proc.communicate(timeout=60)
        return None, stderr
    return proc.returncode, stderr


@pytest.mark.parametrize("command", ["check", "daemon"])
@pytest.mark.parametrize("name", sorted(BAD))
def test_a_schedule_that_schedules_nothing_is_refused(project: Project, name: str, command: str) -> None:
    bad = BAD[name]
    configure(project, bad.schedule, daemon=textwrap.dedent(bad.daemon))
    if bad.more is not None:
        bad.more(project)
    code, stderr = _problems(project, command)
    flat = " ".join(stderr.split())  # the terminal wraps long lines
    file = project.root / "mappings" / "accounts.toml" if bad.in_mapping else project.config
    assert code == 2, stderr
    assert f"{file}: {bad.key}: " in flat and bad.says in flat, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
