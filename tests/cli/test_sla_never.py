"""`alerts sla` shows an hours quantile that fell on an alert never acted on as "never", not as "-" (which
reads "nothing to measure"): 678 of 679 breached printed p50 1.3 h before (F2; alerts.sla.summarize)."""

from __future__ import annotations

import pytest

from syncer.alerts.sla import summarize
from syncer.cli import alerts as alerts_cli

ROWS = [  # (state, hours) per alert -> the p50 / p90 / max cells of its row
    ([("met", 1.3)] + [("breached", None)] * 678, ["never", "never", "never"]),  # most never worked
    ([("met", 1.0), ("met", 2.0), ("failed", None)], ["2.0", "never", "never"]),  # one failed
    ([("pending", None)], ["-", "-", "-"]),  # nothing due yet: nothing to measure
    ([("met", 1.0), ("missed", 30.0)], ["15.5", "27.1", "30.0"]),  # all worked
]


def test_hours_that_fall_on_a_never_read_never(capsys: pytest.CaptureFixture[str]) -> None:
    """One table (the last two rows read the same on the old rule: its controls)."""
    shown = []
    for items, _ in ROWS:
        alerts_cli._print_sla({}, {"high": summarize(items) | {"sla_hours": 24.0}}, {})
        [row] = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("high")]
        shown.append(row.split()[-3:])
    assert shown == [cells for _, cells in ROWS]
