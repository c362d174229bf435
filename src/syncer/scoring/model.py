"""Scoring configuration: every weight, threshold, window, band and trigger is data, not code.

Defaults come from the source documents: seed 002 (usage health score, six expansion triggers with
confidence and expected conversion) and seed 003 (seven-factor PQL model, tiers, five triggers).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from syncer.scoring.triggers import DEFAULT_TRIGGERS, TriggerDef

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class TableNames(_Frozen):
    """Where inputs are read and outputs written; names are plain identifiers, schema optional."""

    schema_: str | None = Field(default=None, alias="schema")
    """Warehouse schema of every table below. Default: the connection's."""
    accounts: str = "accounts"
    """Input: one row per account (plan, seat limit, owner, ...)."""
    usage_daily: str = "usage_daily"
    """Input: one row per account per day of usage."""
    events: str | None = None
    """Input: raw Segment-style events; enables the match-rate check."""
    metrics: str = "account_metrics"
    """Output: per-account metrics the triggers read."""
    scores: str = "account_scores"
    """Output: health and PQL scores, bands and tiers."""
    triggers: str = "fired_triggers"
    """Output: fired triggers, one row per account x trigger (the alerts model)."""
    staging_suffix: str = "__staging"
    """Outputs are built in `<table><suffix>` and swapped in, so readers never see half a refresh."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True)

    @field_validator("schema_", "accounts", "usage_daily", "events", "metrics", "scores", "triggers")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not _IDENT.match(value):
            raise ValueError(f"{value!r} is not a plain SQL identifier")
        return value


class HealthConfig(_Frozen):
    """Seed 002 usage health score: four components, each capped at its weight."""

    seat_weight: float = 30.0
    """Points of the seat component."""
    seat_full_at: float = 0.8
    """seats_used / seat_limit at which the seat component is full."""
    engagement_weight: float = 30.0
    """Points of the engagement component."""
    engagement_full_at: float = 0.7
    """WAU / seats at which the engagement component is full."""
    breadth_weight: float = 20.0
    """Points of breadth: features_used / total_features."""
    depth_weight: float = 20.0
    """Points of depth: power_actions / total_actions over the action window."""
    action_window_days: int = Field(default=30, gt=0)
    """Window of the depth component, in days (at least 1)."""
    bands: dict[str, float] = {"expansion_ready": 80.0, "healthy": 60.0, "developing": 40.0, "at_risk": 0.0}
    """Band name -> lowest score in the band; checked from the highest floor down."""


class PqlFactor(_Frozen):
    """One PQL factor: points = min(metric / full_at, 1) * weight (negative metrics score 0)."""

    weight: float
    """Points of this factor."""
    full_at: float
    """Metric value at which the factor gives full points."""


def _default_factors() -> dict[str, PqlFactor]:
    # Seed 003 "PQL Scoring Components and Thresholds". Integer counts with a strict ">N" threshold
    # get full points at N+1 (">5 advanced features" -> 6, ">3 integrations" -> 4).
    return {
        "wau": PqlFactor(weight=20, full_at=0.8),  # WAU / seats
        "feature_depth": PqlFactor(weight=15, full_at=6),  # advanced (premium) features used
        "session_duration": PqlFactor(weight=15, full_at=30),  # avg session minutes, 7 days
        "collaboration": PqlFactor(weight=10, full_at=20),  # interactions per user, 30 days
        "integrations": PqlFactor(weight=10, full_at=4),  # active integrations
        "org_expansion": PqlFactor(weight=15, full_at=0.10),  # seat growth over 30 days
        "billing_proximity": PqlFactor(weight=15, full_at=0.8),  # max utilisation; overage = full
    }


class PqlConfig(_Frozen):
    """Seed 003 seven-factor PQL score and its three tiers."""

    factors: dict[str, PqlFactor] = Field(default_factory=_default_factors)
    """The seven factors (wau, feature_depth, session_duration, collaboration, integrations, org_expansion,
    billing_proximity); all seven must be given.
    """
    nurture_above: float = 40.0
    """Scores above this are nurture (0-40: monitor)."""
    escalate_above: float = 70.0
    """Scores above this are escalate (41-70 nurture, 71-100 escalate)."""

    @field_validator("factors")
    @classmethod
    def _all_seven(cls, value: dict[str, PqlFactor]) -> dict[str, PqlFactor]:
        missing = set(_default_factors()) - set(value)
        unknown = set(value) - set(_default_factors())
        if missing or unknown:
            from syncer.config import _did_you_mean  # config reads this module

            meant = "".join(f"; unknown {u!r}{_did_you_mean(u, missing)}" for u in sorted(unknown))
            raise ValueError(f"PQL factors must be exactly {sorted(_default_factors())}{meant}")
        return value


class QualityConfig(_Frozen):
    """Data-quality guard thresholds: a failing check holds new scores and triggers back."""

    max_lag_days: int = Field(default=1, ge=0)
    """The latest usage day may be at most this many days old (0: it must be today's)."""
    min_coverage_ratio: float = 0.9
    """Share of accounts that must have usage rows."""
    min_match_rate: float = 0.95
    """Share of events whose account is known (needs `tables.events`)."""
    match_window_days: int = Field(default=1, gt=0)
    """Days of events the match rate is measured over (at least 1)."""
    max_utilisation: float = 10.0
    """Usage above this multiple of the plan limit is impossible data."""
    max_impossible_rows: int = 0
    """Impossible rows (negative counts, usage over `max_utilisation`) tolerated before scores are held."""


class ScoringConfig(_Frozen):
    """Everything `refresh_scores` needs; validate once, then it is frozen."""

    tables: TableNames = Field(default_factory=TableNames)
    """Where inputs are read and outputs written."""
    seat_basis: Literal["seats_used", "seat_limit"] = "seats_used"
    """Denominator of WAU per seat ratios."""
    dau_baseline_days: int = Field(default=30, gt=0)
    """DAU baseline = mean DAU over this many days before the 7-day window."""
    api_projection_days: int = Field(default=7, gt=0)
    """API run rate is measured over this many days ..."""
    api_period_days: int = Field(default=30, gt=0)
    """... and projected onto a billing period this long."""
    health: HealthConfig = Field(default_factory=HealthConfig)
    """The usage health score (seed 002)."""
    pql: PqlConfig = Field(default_factory=PqlConfig)
    """The PQL score (seed 003)."""
    triggers: tuple[TriggerDef, ...] = DEFAULT_TRIGGERS
    """Trigger definitions as `[[scoring.triggers]]` tables; giving any replaces the built-in ones (seed 002's six, seed
    003's five).
    """
    quality: QualityConfig = Field(default_factory=QualityConfig)
    """Data-quality checks: a failing check holds new scores and triggers back."""

    @model_validator(mode="after")
    def _unique_triggers(self) -> ScoringConfig:
        names = [t.name for t in self.triggers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate trigger names: {dupes}")
        return self
