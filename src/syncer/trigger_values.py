"""A trigger's value (and threshold) as a person reads it: one formatter for every surface.

Slack pings and digests, alert emails, CRM task bodies, `digest --preview`, the demo's pages and the
dashboard all show a trigger value through `value_words`, so the same alert never reads 32% in Slack,
0.333 on the dashboard and 0.308 in its drill-down. Machine-readable output (--json, the report's JSON,
webhooks, audit rows) keeps the raw number.

    value_words(0.333, "high_engagement_growth")          -> "33%"      (a ratio: 1.0 is 100%)
    value_words(5, "advanced_features_power_users")       -> "5"        (a count)
    value_words(1.5789, "usage_spike")                    -> "1.6x"     (a multiple of a baseline)
    value_words(None, "seat_limit_approaching")           -> "n/a"      (no number: syncer.non_finite)

The unit of each default trigger comes from what its value measures (scoring/triggers.py, seeds 002
and 003): utilisation and growth shares are ratios, features / invites / users / overage are counts,
the usage spike is the 7-day minimum over its baseline. An alert row may carry its own `unit` column
(`ratio`, `count`, `multiple`), which wins; any other trigger reads as a plain number.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from syncer.non_finite import READABLE, is_finite_number, is_non_finite

Unit = Literal["ratio", "count", "multiple"]
UNITS: dict[str, Unit] = {
    "seat_limit_approaching": "ratio",  # seat_utilisation
    "rapid_seat_growth": "ratio",  # seat_growth_pct
    "premium_feature_adoption": "count",  # premium_features_used
    "api_limit_approaching": "ratio",  # api_projected_utilisation
    "storage_limit_approaching": "ratio",  # storage_utilisation
    "high_engagement_growth": "ratio",  # dau_growth_pct
    "usage_spike": "multiple",  # dau_min_7d_vs_baseline
    "advanced_features_power_users": "count",  # power_users_advanced
    "team_expansion": "count",  # admin_invites_14d
    "billing_anomaly": "count",  # overage_30d
    "engagement_milestone": "ratio",  # onboarding_pct
}


def trigger_id(trigger: object) -> str:
    """Normalise "Seat limit approaching", "seat-limit-approaching" ... to "seat_limit_approaching"."""
    return re.sub(r"[^a-z0-9]+", "_", str(trigger or "").lower()).strip("_")


def unit_of(trigger: object, given: object = None) -> Unit:
    """The unit a trigger's value is read in: `given` (an alert row's `unit`) when it is one, else the trigger's
    (UNITS; "seat_limit_80" still matches its trigger by its first two words), else "count"."""
    if given in ("ratio", "count", "multiple"):
        return given  # type: ignore[return-value]
    key = trigger_id(trigger)
    if key in UNITS:
        return UNITS[key]
    for known, unit in UNITS.items():
        if key.startswith("_".join(known.split("_")[:2])):
            return unit
    return "count"


def format_value(value: Any, unit: str) -> str:
    """A number as people read it in `unit`: ratios as whole percentages (0.333 -> 33%), multiples to one
    decimal (1.58 -> 1.6x), counts with thousands separators (1204 -> 1,204; 2.5 -> 2.50). Not a number:
    "n/a" for NaN / infinity / None, anything else as text."""
    if not is_finite_number(value):
        return str(value) if value is not None and not is_non_finite(value) else READABLE
    number = float(value)
    if unit == "ratio":
        return f"{number * 100:.0f}%"
    if unit == "multiple":
        return f"{number:,.1f}x"
    return f"{number:,.0f}" if number.is_integer() else f"{number:,.2f}"


def value_words(value: Any, trigger: object, unit: object = None) -> str:
    """`value` of `trigger` as people read it (format_value in unit_of(trigger, unit))."""
    return format_value(value, unit_of(trigger, unit))
