"""A total of alerts a person reads is labelled as the report labels it: opened = sent + held out as the control
group (outcomes/report.py `counts_line`), so the demo's "opened over N days" line agrees with the report's total."""

from __future__ import annotations

import re

import pytest

from syncer.demo.history import History

LABELLED = re.compile(
    r"([\d,]+) alerts? opened over \d+ days? \(([\d,]+) sent; ([\d,]+) held out as the control group\)"
)


@pytest.mark.parametrize(
    ("opened", "held_out", "worked", "shown"),
    [
        ([10, 20, 30], 6, 4, "60 alerts opened over 3 days (54 sent; 6 held out as the control group)"),
        ([1500, 2565], 475, 1099, "4,065 alerts opened over 2 days (3,590 sent; 475 held out as the control group)"),
        ([1], 0, 1, "1 alert opened over 1 day (1 sent; 0 held out as the control group)"),
    ],
)
def test_the_history_line_labels_held_out_alerts(opened: list[int], held_out: int, worked: int, shown: str) -> None:
    line = History([], opened, accounts=100, worked=worked, held_out=held_out).line()
    assert line.startswith(shown), line
    found = LABELLED.match(line)
    assert found is not None, line
    total, sent, held = (int(g.replace(",", "")) for g in found.groups())
    assert total == sent + held == sum(opened)
    assert f"{worked:,} task{'' if worked == 1 else 's'} worked" in line
