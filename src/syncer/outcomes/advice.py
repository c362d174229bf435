"""Tuning advice per trigger: retire / keep / lower threshold / raise threshold, with the evidence.

Seed 002: "If a trigger never converts, retire it. If one converts highly, lower the threshold."
Verdicts are read from the trigger's Wilson interval [lo, hi] over matured alerts (docs/outcomes.md):

| verdict | when (first that applies) |
|---|---|
| not_enough_data | fewer than `min_sample` (30) matured alerts: no verdict at all |
| retire | hi < baseline x (1 + min_lift) - 95 % sure it beats alerting on random accounts by less than 10 % -
  and at most `max_sole_share` (1 %) of the expanding alerted accounts were alerted by it alone |
| raise_threshold | no lift as above, but it alone caught more than that: keep the recall, cut the noise |
| raise_threshold | hi < pooled rate of all alerts: it converts below the average alert, make it more selective |
| lower_threshold | lo > pooled rate and lo > target (25 %): it converts above both, widen the net |
| keep | otherwise |

baseline = share of all accounts that expanded over the observed span (what an alert on a random
account would convert at); pooled = alert-to-conversion over every matured alert. A threshold moves
by `step` (10 %), at least 1 for integer thresholds. Nothing is applied automatically: `toml_snippet`
prints the `[[scoring.triggers]]` list to paste into config.toml (the list replaces the defaults).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from syncer.outcomes.effectiveness import TriggerStats
from syncer.outcomes.report import Report
from syncer.scoring.model import ScoringConfig
from syncer.scoring.triggers import TriggerDef

ACTIONS = ("not_enough_data", "retire", "raise_threshold", "lower_threshold", "keep")


@dataclass(frozen=True)
class Advice:
    trigger: str
    action: str  # one of ACTIONS
    reason: str
    threshold: float | None = None
    new_threshold: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def backtest(self) -> str | None:
        """The command that replays the suggested threshold over the warehouse history before applying it."""
        if self.new_threshold is None:
            return None
        return f"syncer triggers backtest {self.trigger} --set threshold={self.new_threshold:g} --since 180d"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "backtest": self.backtest}


def _step(threshold: float, step: float, up: bool) -> float:
    integer = float(threshold).is_integer()
    delta = max(1.0, round(abs(threshold) * step)) if integer else abs(threshold) * step
    value = threshold + delta if up else threshold - delta
    return round(value, 4) if not float(threshold).is_integer() else float(round(value))


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def advise_trigger(t: TriggerStats, report: Report) -> Advice:
    cfg = report.settings.outcomes.advice
    target = report.settings.outcomes.target_conversion
    baseline, pooled = report.kpis.baseline_conversion, report.kpis.alert_to_conversion
    evidence = {
        "fired": t.fired,
        "matured": t.matured,
        "converted": t.converted,
        "conversion_rate": t.conversion_rate,
        "ci": [round(t.ci_low, 4), round(t.ci_high, 4)],
        "baseline": baseline,
        "pooled": pooled,
        "target": target,
        "expected_conversion": t.expected_conversion,
        "sole_relevant": t.sole_relevant,
    }
    if t.matured < cfg.min_sample:
        reason = f"not enough data: {t.matured} matured alerts, {cfg.min_sample} needed before any verdict"
        return Advice(t.trigger, "not_enough_data", reason, t.threshold, None, evidence)
    measured = f"{t.converted}/{t.matured} = {_pct(t.conversion_rate)} [{_pct(t.ci_low)}, {_pct(t.ci_high)}]"
    if baseline is not None and t.ci_high < baseline * (1 + cfg.min_lift):
        no_lift = f"{measured}: even the upper bound is below baseline {_pct(baseline)} x {1 + cfg.min_lift:g}"
        caught = report.kpis.expanded_alerted_accounts
        if t.sole_relevant <= cfg.max_sole_share * caught or t.threshold is None:
            reason = (
                f"{no_lift} - no better than alerting on random accounts, and only {t.sole_relevant} of "
                f"{caught} expanding alerted accounts were alerted by it alone"
            )
            return Advice(t.trigger, "retire", reason, t.threshold, None, evidence)
        new = _step(t.threshold, cfg.step, up=True)
        reason = (
            f"{no_lift} - but {t.sole_relevant} of {caught} expanding alerted accounts were alerted by it alone "
            f"(> {_pct(cfg.max_sole_share)}): raise it rather than retire"
        )
        return Advice(t.trigger, "raise_threshold", reason, t.threshold, new, evidence)
    if t.threshold is not None and pooled is not None and t.ci_high < pooled:
        new = _step(t.threshold, cfg.step, up=True)
        reason = f"{measured}: upper bound below the average alert ({_pct(pooled)}) - make it more selective"
        return Advice(t.trigger, "raise_threshold", reason, t.threshold, new, evidence)
    if t.threshold is not None and pooled is not None and t.ci_low > max(pooled, target):
        new = _step(t.threshold, cfg.step, up=False)
        reason = (
            f"{measured}: lower bound above the average alert ({_pct(pooled)}) and the target ({_pct(target)}) "
            "- widen the net"
        )
        return Advice(t.trigger, "lower_threshold", reason, t.threshold, new, evidence)
    return Advice(
        t.trigger, "keep", f"{measured}: no confident difference from the average alert", t.threshold, None, evidence
    )


def advise(report: Report) -> list[Advice]:
    """One Advice per trigger still defined in the scoring config (in its order)."""
    return [advise_trigger(t, report) for t in report.triggers if t.defined]


def apply_advice(scoring: ScoringConfig, advice: Sequence[Advice]) -> ScoringConfig:
    """The scoring config the advice describes (retired triggers removed, thresholds moved)."""
    by_name = {a.trigger: a for a in advice}
    triggers: list[TriggerDef] = []
    for t in scoring.triggers:
        a = by_name.get(t.name)
        if a is not None and a.action == "retire":
            continue
        if a is not None and a.new_threshold is not None:
            t = t.model_copy(update={"threshold": a.new_threshold})
        triggers.append(t)
    return scoring.model_copy(update={"triggers": tuple(triggers)})


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def toml_snippet(scoring: ScoringConfig, advice: Sequence[Advice]) -> str:
    """The `[[scoring.triggers]]` list to paste into config.toml to follow the advice (replaces the list)."""
    changed = [a for a in advice if a.action in ("retire", "raise_threshold", "lower_threshold")]
    if not changed:
        return "# no change advised\n"
    lines = ["# syncer report --advise: " + ", ".join(f"{a.trigger}: {a.action}" for a in changed)]
    lines.append("# [[scoring.triggers]] replaces the whole list, so every kept trigger is listed.")
    for t in apply_advice(scoring, advice).triggers:
        lines.append("")
        lines.append("[[scoring.triggers]]")
        for key, value in t.model_dump(exclude_none=True).items():
            if key == "source" or value in ((), []):
                continue
            lines.append(f"{key} = {_toml_value(value)}")
    for a in changed:
        if a.action == "retire":
            lines.append(f"# retired: {a.trigger} ({a.reason})")
    return "\n".join(lines) + "\n"
