"""Trigger definitions: the six seed-002 expansion triggers, the five seed-003 ones, and user triggers.

A trigger is plain data: a `value` SQL expression over the per-account metric columns, a comparison
with `threshold`, an optional `alternative` condition (OR) and an optional `extra` condition (AND).
Built-in triggers use the same format as user triggers, so RevOps can tune or replace any of them in
config. The expressions are trusted SQL from the operator's own config file, evaluated inside the
warehouse against the `account_metrics` table (see docs/scoring.md for the column list).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class CanaryChange(BaseModel):
    """`canary = { threshold = 0.7 }`: the changed definition that runs on `[alerts.canary] share` of accounts."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    value: str | None = None
    """The canary's SQL value expression (default: the trigger's)."""
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    """The canary's threshold (default: the trigger's; a finite number)."""
    op: Literal[">=", ">"] | None = None
    """The canary's comparison (default: the trigger's)."""
    alternative: str | None = None
    """The canary's alternative condition (default: the trigger's)."""
    extra: str | None = None
    """The canary's extra condition (default: the trigger's)."""


class TriggerDef(BaseModel):
    """Fires for an account when (value <op> threshold OR alternative) AND extra."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    name: str
    """lower_snake_case trigger name (unique)."""
    priority: Literal["high", "medium", "low"]
    """Routing priority of the alerts it fires."""
    value: str
    """SQL expression over the metric columns compared with `threshold`."""
    threshold: float = Field(allow_inf_nan=False)
    """The trigger fires when `value <op> threshold` (a finite number: nan and inf would reach the SQL as names)."""
    op: Literal[">=", ">"] = ">="
    """Comparison of `value` with `threshold`."""
    alternative: str | None = None
    """SQL condition that also fires it (OR)."""
    extra: str | None = None
    """SQL condition that must also hold (AND)."""
    window_days: int = Field(default=1, gt=0)
    """Days the metric is measured over (at least 1)."""
    confidence: float | None = None
    """Documented confidence (0-1), shown in messages."""
    expected_conversion: str | None = None
    """Documented expected conversion, e.g. `35-45%`."""
    context: tuple[str, ...] = ()
    """Integer metric columns shown as `col=value` in the alert's context text."""
    source: str = "config"
    """Where the definition comes from (`002`, `003`, `config`)."""
    canary: CanaryChange | None = None
    """A changed definition run as a canary on `[alerts.canary] share` of accounts, e.g. `{ threshold = 0.7 }`."""

    def canary_def(self) -> TriggerDef | None:
        """The trigger as its canary defines it (same name), or None."""
        if self.canary is None:
            return None
        changes = {k: v for k, v in self.canary.model_dump().items() if v is not None}
        return TriggerDef.model_validate({**self.model_dump(exclude={"canary"}), **changes})

    lane: Literal["daily", "intraday"] = "daily"
    """`intraday`: judged on current state every few minutes over changed accounts ([daemon.intraday], needs only
    columns of the current-state table); `daily`: needs history (growth, trends), evaluated with the score refresh."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("trigger names are lower_snake_case")
        return value

    @field_validator("value", "alternative", "extra")
    @classmethod
    def _one_expression(cls, value: str | None) -> str | None:
        if value is not None and (";" in value or "--" in value or not value.strip()):
            raise ValueError("a trigger expression is one SQL expression (no ';' or comments)")
        return value

    @field_validator("context")
    @classmethod
    def _columns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for column in value:
            if not _NAME.match(column):
                raise ValueError(f"context column {column!r} is not a metric column name")
        return value


def _t(name: str, priority: Literal["high", "medium", "low"], value: str, threshold: float, **kw: object) -> TriggerDef:
    return TriggerDef.model_validate({"name": name, "priority": priority, "value": value, "threshold": threshold, **kw})


DEFAULT_TRIGGERS: tuple[TriggerDef, ...] = (
    # Seed 002 "Expansion Trigger Thresholds": priority, confidence and expected conversion as tabled.
    # Lanes: a trigger judged on current state (seats / storage used vs limit, API calls so far vs the projected
    # limit, a billing event) is intraday; one that needs history (30-day growth, engagement trends) is daily.
    _t(
        "seat_limit_approaching",
        "high",
        "seat_utilisation",
        0.80,
        confidence=0.85,
        expected_conversion="35-45%",
        context=("seats_used", "seat_limit"),
        source="002",
        lane="intraday",
    ),
    _t(
        "rapid_seat_growth",
        "high",
        "seat_growth_pct",
        0.20,
        alternative="seat_growth_abs >= 5",
        window_days=30,
        confidence=0.80,
        expected_conversion="30-40%",
        context=("seats_used", "seats_used_30d_ago"),
        source="002",
    ),
    _t(
        "premium_feature_adoption",
        "medium",
        "premium_features_used",
        3,
        extra="is_premium = 0",
        window_days=30,
        confidence=0.75,
        expected_conversion="25-35%",
        context=("premium_features_used",),
        source="002",
    ),
    _t(
        "api_limit_approaching",
        "medium",
        "api_projected_utilisation",
        0.70,
        window_days=7,
        confidence=0.70,
        expected_conversion="20-30%",
        context=("api_calls_7d", "api_limit"),
        source="002",
        lane="intraday",
    ),
    _t(
        "storage_limit_approaching",
        "medium",
        "storage_utilisation",
        0.75,
        confidence=0.80,
        expected_conversion="25-35%",
        context=("storage_used", "storage_limit"),
        source="002",
        lane="intraday",
    ),
    _t(
        "high_engagement_growth",
        "medium",
        "dau_growth_pct",
        0.30,
        window_days=30,
        confidence=0.70,
        expected_conversion="20-25%",
        context=("dau", "dau_30d_ago"),
        source="002",
    ),
    # Seed 003 "Trigger Taxonomy": no confidence/conversion table there; priorities are our choice.
    _t(
        "usage_spike",
        "high",
        "dau_min_7d_vs_baseline",
        1.5,
        op=">",
        extra="days_7d = 7",
        window_days=7,
        context=("dau_min_7d", "days_7d"),
        source="003",
    ),
    _t(
        "advanced_features_power_users",
        "medium",
        "power_users_advanced",
        3,
        window_days=30,
        context=("power_users_advanced",),
        source="003",
    ),
    _t(
        "team_expansion",
        "high",
        "admin_invites_14d",
        2,
        extra="new_user_activations_14d >= 5",
        window_days=14,
        context=("admin_invites_14d", "new_user_activations_14d"),
        source="003",
    ),
    _t(
        "billing_anomaly",
        "high",
        "overage_30d",
        500,
        op=">",
        alternative="payment_failed_30d >= 1",
        window_days=30,
        context=("payment_failed_30d",),
        source="003",
        lane="intraday",
    ),
    _t(
        "engagement_milestone",
        "low",
        "onboarding_pct",
        0.80,
        extra="reports_growth_pct >= 0.20",
        window_days=30,
        context=("reports_30d", "reports_prev_30d"),
        source="003",
    ),
)

PRIORITY_RANK = {"high": 1, "medium": 2, "low": 3}


def lane_triggers(triggers: tuple[TriggerDef, ...], lane: str) -> tuple[TriggerDef, ...]:
    """The triggers of one lane (`daily` | `intraday`), in definition order."""
    return tuple(t for t in triggers if t.lane == lane)
