"""`[daemon.intraday]` in config.toml: IntradaySettings, and `intraday_settings(config)` (None when absent).

[daemon.intraday]
every_minutes = 2                  # cadence of the intraday job
table = "account_current"          # the current-state table (docs/scoring.md), one row per account
updated_at = "updated_at"          # its update-time column (UTC); rows newer than the watermark are evaluated
budget_seconds = 300               # ops alert when the lane's p95 event-to-action goes over this
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from syncer.config import ScheduleConfig

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LANE = "intraday"


class IntradaySettings(BaseModel):
    """`[daemon.intraday]`: the intraday lane's cadence, source table and latency budget."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True)

    every_minutes: float = Field(default=2.0, gt=0)
    """Minutes between intraday evaluations."""
    table: str = "account_current"
    """Current-state table: one row per account with the columns the intraday triggers read."""
    schema_: str | None = Field(default=None, alias="schema")
    """Warehouse schema of `table`. Default: the connection's."""
    updated_at: str = "updated_at"
    """Update-time column of `table` (UTC): set whenever the row's current state changes."""
    budget_seconds: float = Field(default=300.0, gt=0)
    """Event-to-action budget: an ops alert fires when the lane's p95 over the last hour is above it."""

    @field_validator("table", "schema_", "updated_at")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not _IDENT.match(value):
            raise ValueError(f"{value!r} is not a plain SQL identifier")
        return value

    def schedule(self) -> ScheduleConfig:
        return ScheduleConfig(every_minutes=self.every_minutes)


def intraday_settings(raw: dict[str, Any]) -> IntradaySettings | None:
    """The validated `[daemon.intraday]` table of a raw config, or None when the lane is not configured."""
    table = (raw.get("daemon") or {}).get("intraday")
    return None if table is None else IntradaySettings.model_validate(table)
