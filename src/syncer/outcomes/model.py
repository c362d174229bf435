"""Configuration of outcome tracking and the report: the `[outcomes]` and `[report]` sections of config.toml.

Defaults come from the seeds: a 90-day expansion window, SLA 24 h for high (003: AE/CS within 24 h,
SDR within 48 h), KPI targets from seed 002 (alert-to-conversion > 25 %, trigger accuracy > 75 %,
expansion revenue from alerts > $500K ARR per quarter). Problems are reported like the rest of the
config: one ConfigError listing every issue as `outcomes.<key>` / `report.<key>`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from syncer.config import ModelConfig, pydantic_issues
from syncer.errors import ConfigError, ConfigIssue

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
KINDS = ("plan_upgrade", "seat_increase", "closed_won_expansion")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class AdviceConfig(_Strict):
    """`[outcomes.advice]`: when tuning advice is given, and how big a threshold step is."""

    min_sample: int = Field(default=30, ge=1)
    """Matured alerts a trigger needs before any verdict."""
    confidence: float = Field(default=0.95, gt=0, lt=1)
    """Confidence level of the intervals the verdicts are read from."""
    min_lift: float = Field(default=0.10, ge=0)
    """'No lift' when 95% sure the trigger beats the baseline by less than this."""
    max_sole_share: float = Field(default=0.01, ge=0, le=1)
    """Retire a trigger only if it alone caught at most this share of expansions."""
    step: float = Field(default=0.10, gt=0, lt=1)
    """Relative threshold change advised (integer thresholds: at least 1)."""


class WritebackConfig(_Strict):
    """`[outcomes.writeback]`: the two tables the report replaces in the warehouse."""

    enabled: bool = True
    """Write the two tables below to the warehouse with each report."""
    triggers_table: str = "alert_trigger_effectiveness"
    """Table of per-trigger effectiveness (`table` or `schema.table`), replaced each time."""
    alerts_table: str = "alert_outcomes"
    """Table of per-alert outcomes (`table` or `schema.table`), replaced each time."""

    @field_validator("triggers_table", "alerts_table")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not _IDENT.match(value):
            raise ValueError(f"{value!r} is not a plain table name (optionally schema.table)")
        return value


class OutcomesConfig(_Strict):
    """`[outcomes]`: the expansion model, the attribution window, SLAs and KPI targets."""

    expansions: ModelConfig = ModelConfig(table="expansions", primary_key=["account_id", "expanded_at"])
    """The expansions model: one row per expansion (plan upgrade, seat increase, closed-won)."""
    churn: ModelConfig | None = None
    """The churn model: one row per cancellation or downgrade (account_id, churned_at UTC, kind, churned_mrr);
    unset: the report shows no churn."""
    window_days: float = Field(default=90.0, gt=0)
    """An expansion within this many days after an alert converts it."""
    sla_hours: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {"high": 24.0, "medium": 48.0, "low": 168.0}
    )
    """Priority -> hours to act before an alert counts as late (more than 0). `high` is `[alerts] sla_hours` (the
    escalation's hours) when not given here; both given, with different values, is refused."""
    target_conversion: float = Field(default=0.25, ge=0, le=1)
    """KPI target: alert-to-conversion rate (seed 002: > 25%)."""
    target_accuracy: float = Field(default=0.75, ge=0, le=1)
    """KPI target: trigger accuracy (seed 002: > 75%)."""
    target_action_hours: float = Field(default=24.0, gt=0)
    """KPI target: time to action for high alerts (seed 002: < 24 h)."""
    target_revenue_arr_per_quarter: float = Field(default=500_000.0, ge=0)
    """KPI target: expansion ARR from alerts per quarter (seed 002: > $500K)."""
    advice: AdviceConfig = AdviceConfig()
    """When tuning advice is given."""
    writeback: WritebackConfig = WritebackConfig()
    """Result tables written back to the warehouse."""

    @field_validator("sla_hours")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for priority, hours in value.items():
            if hours <= 0:
                raise ValueError(f"SLA for {priority!r} must be > 0 hours")
        return value

    def sla_for(self, priority: str) -> float | None:
        return self.sla_hours.get(priority)


class ReportConfig(_Strict):
    """`[report]`: where the daemon keeps the latest HTML report, and how much usage trend it shows."""

    path: Path | None = None
    """Where the daemon writes the HTML report (relative to config.toml); unset: no report file."""
    title: str = "Alert outcomes"
    """Report title."""
    trend_days: int = Field(default=84, ge=7, le=730)
    """Usage trend shown per account, in days (weekly points)."""
    max_accounts: int = Field(default=2000, ge=1)
    """Accounts in the drill-down table (alerted first)."""


class OutcomeSettings(_Strict):
    outcomes: OutcomesConfig = OutcomesConfig()
    """The `[outcomes]` section."""
    report: ReportConfig = ReportConfig()
    """The `[report]` section."""


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _hours(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def high_sla_hours(raw: dict[str, Any], file: str = "config.toml") -> tuple[float | None, list[ConfigIssue]]:
    """The one SLA of a high alert, in hours, as written: `[alerts] sla_hours` (escalation) or `[outcomes]
    sla_hours.high` (the report, the dashboard, `alerts sla`, the canary); None when neither is set (both
    defaults are 24). Both set to different values is an issue: they are the same promise, and each reader
    honoured its own (`alerts sla` showed 24.0 while `alerts escalate` escalated after 0.02 h)."""
    alerts, outcomes = _table(raw.get("alerts")), _table(raw.get("outcomes"))
    by_priority = _table(outcomes.get("sla_hours"))
    escalation, report = _hours(alerts.get("sla_hours")), _hours(by_priority.get("high"))
    if escalation is not None and report is not None and escalation != report:
        why = (
            f"{escalation:g} h here but outcomes.sla_hours.high is {report:g} h: both are the SLA of a high alert "
            "(escalation, and the report / dashboard / `alerts sla`); set it once, in either place"
        )
        return None, [ConfigIssue(file, "alerts.sla_hours", why)]
    return (escalation if escalation is not None else report), []


def load_outcome_settings(raw: dict[str, Any], file: str = "config.toml") -> OutcomeSettings:
    """Validate `config.raw`'s [outcomes] and [report]; every problem in one ConfigError. A high alert's
    SLA is `high_sla_hours`: `[alerts] sla_hours` when `[outcomes] sla_hours` does not name `high`."""
    high, issues = high_sla_hours(raw, file)
    parts: dict[str, Any] = {}
    models: dict[str, type[BaseModel]] = {"outcomes": OutcomesConfig, "report": ReportConfig}
    for section, model in models.items():
        body = raw.get(section) or {}
        if not isinstance(body, dict):
            issues.append(ConfigIssue(file, section, "must be a table"))
            continue
        if section == "outcomes" and high is not None:
            given = body.get("sla_hours")
            by_priority = dict(given) if isinstance(given, dict) else dict(OutcomesConfig().sla_hours)
            body = {**body, "sla_hours": {**by_priority, "high": high}}
        try:
            parts[section] = model.model_validate(body)
        except ValidationError as exc:
            issues += pydantic_issues(file, section, exc)
    if issues:
        raise ConfigError(issues)
    return OutcomeSettings(**parts)
