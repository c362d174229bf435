"""Causal lift of alerting, per trigger: converted-within-window of alerted vs held-out accounts.

The holdout group (alerts/holdout.py) is recorded like any alert but nobody is pinged or tasked, so
the difference in conversion between the two groups is what the alert *caused* - unlike the
per-trigger conversion rate, which is the trigger's predictive value.

    lift = p_alerted - p_held_out            over matured alerts (window closed)
    95% interval: Newcombe's hybrid score interval for a difference of two independent proportions
        (statsmodels `confint_proportions_2indep(method="newcomb", compare="diff")`): built from the two
        Wilson intervals, so it keeps its coverage at small n and near 0 or 1 where the Wald interval
        (p1 - p2 +- z * se) does not - and statsmodels is a maintained, tested implementation.
    significant: the interval excludes 0 and each group has at least MIN_PER_GROUP matured alerts
        (Newcombe's interval can exclude 0 at 2 of 16 against 1 of 1: one held-out account is not
        evidence; 30 is the same floor the baseline below and the dashboard's churn split use).

Power (seed 003: "80% power, alpha 0.05"; its formula):

    n per group = 2 * (z_(1-alpha/2) + z_power)^2 * p * (1 - p) / mde^2

with p the trigger's baseline (the held-out conversion once measured, else the pooled rate) and mde
the configured minimum detectable effect. The seed's own example (p 20%, mde 3%) prints "~1,050";
the formula gives 2,788 - the example is an arithmetic slip, the formula is what is used here. With a
holdout share s, the held-out group is the smaller one (s < 0.5), so the alerts needed in total are
n / s; "still needed" subtracts the matured alerts there are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

from syncer.outcomes.tracking import AlertOutcome
from syncer.wording import readable

ALPHA = 0.05
POWER = 0.80
MIN_PER_GROUP = 30  # matured alerts each group needs before its lift can be called significant


def sample_size_per_group(baseline: float, mde: float, alpha: float = ALPHA, power: float = POWER) -> int:
    """Seed 003's formula: 2 (z_(1-alpha/2) + z_power)^2 p (1 - p) / mde^2, rounded up."""
    p = min(max(baseline, 0.01), 0.99)  # a measured 0% or 100% would claim no sample is ever needed
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return math.ceil(2 * z * z * p * (1 - p) / (mde * mde))


@dataclass(frozen=True)
class Lift:
    trigger: str
    alerted: int  # matured alerted alerts
    alerted_converted: int
    held_out: int  # matured held-out alerts
    held_out_converted: int
    alerted_rate: float | None
    held_out_rate: float | None
    lift: float | None  # alerted_rate - held_out_rate
    ci_low: float | None
    ci_high: float | None
    significant: bool
    baseline: float
    needed_per_group: int
    alerts_still_needed: int
    too_few: bool = False  # a group has fewer than MIN_PER_GROUP matured alerts: the lift is not read yet

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def holdout_lift(
    alerted: Sequence[AlertOutcome],
    held_out: Sequence[AlertOutcome],
    shares: dict[str, float],
    mde: float,
    alpha: float = ALPHA,
    power: float = POWER,
) -> list[Lift]:
    """One Lift per trigger that has a holdout share or held-out alerts; converted = expanded in the window."""
    triggers = sorted({o.alert.trigger for o in held_out} | {t for t, s in shares.items() if s > 0})
    pooled_n = sum(1 for o in alerted if o.matured)
    pooled = sum(1 for o in alerted if o.matured and o.relevant) / pooled_n if pooled_n else 0.2
    out = []
    for trigger in triggers:
        a = [o for o in alerted if o.alert.trigger == trigger and o.matured]
        h = [o for o in held_out if o.alert.trigger == trigger and o.matured]
        ka, kh = sum(o.relevant for o in a), sum(o.relevant for o in h)
        rate_a = ka / len(a) if a else None
        rate_h = kh / len(h) if h else None
        low = high = None
        if a and h:
            # imported here: the stats stack loads only when there is a held-out group to compare
            from statsmodels.stats.proportion import confint_proportions_2indep

            ci = confint_proportions_2indep(ka, len(a), kh, len(h), method="newcomb", compare="diff", alpha=alpha)
            low, high = float(ci[0]), float(ci[1])
        baseline = rate_h if rate_h is not None and len(h) >= MIN_PER_GROUP else pooled
        too_few = min(len(a), len(h)) < MIN_PER_GROUP
        n = sample_size_per_group(baseline, mde, alpha, power)
        share = shares.get(trigger, 0.0)
        total = math.ceil(n / min(share, 1 - share)) if 0 < share < 1 else 0
        out.append(
            Lift(
                trigger,
                len(a),
                ka,
                len(h),
                kh,
                rate_a,
                rate_h,
                None if rate_a is None or rate_h is None else rate_a - rate_h,
                low,
                high,
                not too_few and low is not None and high is not None and (low > 0 or high < 0),
                round(baseline, 4),
                n,
                max(0, total - len(a) - len(h)) if total else 0,
                too_few,
            )
        )
    return out


def lift_rows(lifts: Sequence[Lift]) -> list[dict[str, str]]:
    """The terminal table, numbers as people read them."""

    def pct(v: float | None, signed: bool = False) -> str:
        return "-" if v is None else (f"{100 * v:+.1f} pts" if signed else f"{100 * v:.1f}%")

    return [
        {
            "trigger": readable(x.trigger),
            "alerted": f"{pct(x.alerted_rate)} of {x.alerted:,}",
            "held out": f"{pct(x.held_out_rate)} of {x.held_out:,}",
            "lift (95% CI)": f"{pct(x.lift, True)} [{pct(x.ci_low, True)}, {pct(x.ci_high, True)}]",
            "significant": (
                f"too few yet (fewer than {MIN_PER_GROUP} matured in a group)"
                if x.too_few
                else "yes"
                if x.significant
                else "no"
            ),
            "alerts still needed": f"{x.alerts_still_needed:,} (n={x.needed_per_group:,}/group)",
        }
        for x in lifts
    ]
