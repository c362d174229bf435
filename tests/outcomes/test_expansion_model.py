"""The synthetic expansion model (simulate.py) in isolation: every alert raises the hazard, not only the first,
and `expected_conversion` is the probability `draw_expansions` really draws (Monte Carlo, pure Python, < 1 s)."""

from __future__ import annotations

import datetime as dt

from syncer.outcomes.simulate import draw_expansions, expected_conversion
from syncer.outcomes.tracking import AlertRecord, parse_expansions, track

T0 = dt.datetime(2026, 7, 1, 8, tzinfo=dt.UTC)
WINDOW = 90.0
ACCOUNTS = 400


def alert(n: int, account: str, trigger: str, day: float) -> AlertRecord:
    at = T0 + dt.timedelta(days=day)
    return AlertRecord(n, f"{account}:{trigger}:{n}", account, trigger, "medium", "digest", None, at, "none", None)


def world() -> tuple[list[AlertRecord], dict[str, tuple[float, bool]]]:
    """Each account: `early` on day 0, `early` again on day 40 (inside the first window), `late` on day 150."""
    alerts, truth = [], {}
    for i in range(ACCOUNTS):
        account = f"acc_{i:04d}"
        for day, trigger in ((0, "early"), (40, "early"), (150, "late")):
            alerts.append(alert(len(alerts) + 1, account, trigger, day))
        truth[account] = (1.0, True)
    return alerts, truth


def test_expansions_keep_arriving_after_later_alerts() -> None:
    alerts, truth = world()
    end = T0 + dt.timedelta(days=240)
    rows = draw_expansions(alerts, truth, {}, T0, end, WINDOW, seed=3)
    assert len(rows) == ACCOUNTS  # every account with will_expand expands exactly once
    after_first_window = [r for r in rows if r["expanded_at"] > (T0 + dt.timedelta(days=WINDOW)).replace(tzinfo=None)]
    # tied to the first alert, none would fall past day 90; one alert window in three is the day-150 one
    # plus the day-40 window's last 40 days: 1/3 + 1/3 x 40/90 = 48 % of the accounts
    assert 0.40 < len(after_first_window) / ACCOUNTS < 0.56
    assert max(r["expanded_at"] for r in rows) > (T0 + dt.timedelta(days=150)).replace(tzinfo=None)


def test_expected_conversion_is_what_the_draws_convert() -> None:
    alerts, truth = world()
    report_at = T0 + dt.timedelta(days=250)
    expected = expected_conversion(alerts, truth, report_at, WINDOW)
    converted = {"early": 0, "late": 0}
    matured = {"early": 0, "late": 0}
    for seed in range(1, 6):
        rows = draw_expansions(alerts, truth, {}, T0, report_at, WINDOW, seed=seed)
        outcomes, _ = track(alerts, parse_expansions(rows), report_at, WINDOW, {})
        for o in outcomes:
            matured[o.alert.trigger] += o.matured
            converted[o.alert.trigger] += o.converted is not None
    # by hand: `late` gets its own window (1/3) and nothing else -> 1/3; `early` at day 0 gets its window
    # (1/3) plus the day-40 window's first 50 days (1/3 x 50/90); `early` at day 40 is credited only past day
    # 90 (the earlier one of its trigger holds the rest): 1/3 x 40/90. Mean over the two: (1/3 + 1/3) / 2
    assert abs(expected["late"] - 1 / 3) < 1e-9
    assert abs(expected["early"] - 1 / 3) < 1e-9
    for trigger, rate in expected.items():
        measured = converted[trigger] / matured[trigger]
        assert abs(measured - rate) < 0.03, (trigger, measured, rate)  # 2,000-4,000 draws: SE about 0.01
