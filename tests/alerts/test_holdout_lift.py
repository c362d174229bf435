"""Holdout lift on a synthetic world whose true lift per trigger is known (one trigger has none).

The real AlertEngine evaluates the firing rows (it assigns the holdout group and records the alerts in
SQLite state); expansions are then drawn from the known truth - p0 for held-out accounts, p0 + lift for
alerted ones, inside the window - and the outcomes code measures the lift back.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.outcomes.lift import holdout_lift, lift_rows, sample_size_per_group
from syncer.outcomes.tracking import Expansion, load_alerts, track
from tests.alerts.support import engine, row, sqlite_url

TRUTH = {  # trigger -> (conversion without an alert, true lift of alerting)
    "seat_limit_approaching": (0.20, 0.10),
    "rapid_seat_growth": (0.30, 0.08),
    "storage_limit_approaching": (0.15, 0.05),
    "api_limit_approaching": (0.25, 0.0),
}
ACCOUNTS = 2500
SHARE = 0.3
WINDOW = 30
T0 = dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC)


def test_measured_lift_covers_the_truth_and_zero_lift_is_not_significant(
    tmp_path: Path, slack: SlackEmulator, fake: Any
) -> None:
    alerts = {"activation": {"quiet": False}, "holdout": {"share": SHARE}}
    eng = engine(sqlite_url(tmp_path), slack.api_url, slack.token, fake, alerts=alerts)
    # distinct accounts per trigger: each trigger is its own experiment
    rows = [row(k * ACCOUNTS + i, trigger=t) for k, t in enumerate(TRUTH) for i in range(ACCOUNTS)]
    evaluation = eng.evaluate(rows, T0)
    eng.close()
    assert evaluation.opened == len(rows) and 0.27 < evaluation.holdout / len(rows) < 0.33
    records = load_alerts(eng.engine)
    rng = random.Random(14)
    expansions = []
    for r in records:
        base, lift = TRUTH[r.trigger]
        if rng.random() < base + (lift if r.delivery != "holdout" else 0.0):
            at = r.opened_at + dt.timedelta(days=rng.uniform(0.5, WINDOW - 0.5))
            expansions.append(Expansion(r.account_id, at, "seats", 100.0))
    now = T0 + dt.timedelta(days=WINDOW + 1)
    sent, _ = track([r for r in records if r.delivery != "holdout"], expansions, now, WINDOW, {"high": 24.0})
    held, _ = track([r for r in records if r.delivery == "holdout"], expansions, now, WINDOW, {"high": 24.0})
    lifts = holdout_lift(sent, held, dict.fromkeys(TRUTH, SHARE), mde=0.05)
    print()
    for line, x in zip(lift_rows(lifts), lifts, strict=True):
        print(f"true lift {100 * TRUTH[x.trigger][1]:+.1f} pts | " + " | ".join(f"{k}: {v}" for k, v in line.items()))
    assert {x.trigger for x in lifts} == set(TRUTH)
    for x in lifts:
        truth = TRUTH[x.trigger][1]
        assert x.ci_low is not None and x.ci_high is not None
        assert x.ci_low <= truth <= x.ci_high, (x.trigger, truth, x.ci_low, x.ci_high)
    assert not next(x for x in lifts if x.trigger == "api_limit_approaching").significant  # zero true lift
    assert next(x for x in lifts if x.trigger == "seat_limit_approaching").significant  # the test has power


def test_power_calculation_is_the_seed_formula() -> None:
    # seed 003: n = 2 (1.96 + 0.84)^2 p (1 - p) / d^2; p 20%, d 3% -> 2,788 with the rounded z's, 2,791 with
    # exact ones (1.95996 + 0.84162); the seed prints "~1,050", which the formula does not give
    assert sample_size_per_group(0.20, 0.03) == 2791
    assert round(2 * (1.96 + 0.84) ** 2 * 0.2 * 0.8 / 0.03**2) == 2788
    assert sample_size_per_group(0.20, 0.10) == 252


def _outcomes(trigger: str, n: int, converted: int) -> list[Any]:
    """`n` matured outcomes of `trigger`, the first `converted` of them expanded in their window."""
    from types import SimpleNamespace

    return [
        SimpleNamespace(alert=SimpleNamespace(trigger=trigger), matured=True, relevant=i < converted) for i in range(n)
    ]


@pytest.mark.parametrize(
    ("alerted", "held_out", "significant", "too_few"),
    [
        ((16, 2), (1, 1), False, True),  # the newcomer's case: Newcombe excludes 0, one held-out account is no evidence
        ((400, 40), (29, 27), False, True),  # a huge gap, but 29 held out: still under the floor
        ((400, 40), (30, 27), True, False),  # at the floor the interval is read
        ((400, 80), (100, 20), False, False),  # enough data, no difference: not significant
    ],
)
def test_a_lift_is_read_only_once_each_group_has_enough_matured_alerts(
    alerted: tuple[int, int], held_out: tuple[int, int], significant: bool, too_few: bool
) -> None:
    (lift,) = holdout_lift(_outcomes("t", *alerted), _outcomes("t", *held_out), {"t": 0.1}, mde=0.05)
    assert (lift.significant, lift.too_few) == (significant, too_few), lift
    (row_,) = lift_rows([lift])
    assert row_["significant"].startswith("too few") is too_few
