"""The line under a cut listing names a --limit that shows every row when the total is known."""

from __future__ import annotations

import pytest

from syncer.tables import more_line


@pytest.mark.parametrize(
    ("shown", "total", "limit", "expected"),
    [
        (3, 10, 3, "7 more open alerts: --all or --limit 10"),  # --limit 6 would still hide 4
        (20, 21, 20, "1 more open alert: --all or --limit 21"),
        (20, 455, 20, "435 more open alerts: --all or --limit 455"),
        (20, 20, 20, None),
        (5, 5, 20, None),
        (20, None, 20, "more open alerts than these 20: --all or --limit 40"),  # only known to be more
    ],
)
def test_more_line(shown: int, total: int | None, limit: int, expected: str | None) -> None:
    assert more_line(shown, total, "open alert", limit) == expected
