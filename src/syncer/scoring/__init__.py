"""In-warehouse scoring: usage health, PQL and fired triggers, computed as SQL.

Public API (see docs/scoring.md): `ScoringConfig`, `TriggerDef`, `DEFAULT_TRIGGERS`,
`refresh_scores(engine, config, as_of) -> ScoreSummary`, `check_triggers`, `GuardResult` /
`CheckResult`, and
`build_world` for synthetic inputs.
"""

from __future__ import annotations

from syncer.scoring.model import HealthConfig, PqlConfig, PqlFactor, QualityConfig, ScoringConfig, TableNames
from syncer.scoring.quality import CheckResult, GuardResult
from syncer.scoring.refresh import ScoreSummary, check_triggers, refresh_scores
from syncer.scoring.synthetic import build_world
from syncer.scoring.triggers import DEFAULT_TRIGGERS, TriggerDef

__all__ = [
    "DEFAULT_TRIGGERS",
    "CheckResult",
    "GuardResult",
    "HealthConfig",
    "PqlConfig",
    "PqlFactor",
    "QualityConfig",
    "ScoreSummary",
    "ScoringConfig",
    "TableNames",
    "TriggerDef",
    "build_world",
    "check_triggers",
    "refresh_scores",
]
