"""Holdout groups: a stable share of each trigger's firing accounts is recorded but not alerted.

The held-out alerts are the control group the outcomes report compares against (converted within
the window, alerted vs held out: the causal lift of alerting). Assignment is deterministic by
account and trigger - sha256("<salt>:<trigger>:<account>") read as a number in [0, 1) - so an account
stays in (or out of) a trigger's holdout across runs, replicas and restarts, and different triggers
hold out different accounts. Changing `share` moves only the accounts between the old and new share.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field


class HoldoutConfig(BaseModel):
    """`[alerts.holdout]`: share of firing accounts held out, per trigger (`triggers`) or for all."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    share: float = Field(default=0.0, ge=0, lt=1)
    """Share of each trigger's firing accounts held out: alert recorded, nobody pinged or tasked (0.1 = one in ten)."""
    triggers: dict[str, float] = Field(default_factory=dict)
    """Trigger name -> its own holdout share."""
    minimum_detectable_effect: float = Field(default=0.05, gt=0, lt=1)
    """Absolute lift in conversion the power calculation targets (80% power, alpha 0.05, seed 003)."""

    def share_for(self, trigger: str) -> float:
        return self.triggers.get(trigger, self.share)


def unit_hash(salt: str, trigger: str, account_id: str) -> float:
    """A stable uniform number in [0, 1) for (salt, trigger, account)."""
    digest = hashlib.sha256(f"{salt}:{trigger}:{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_held_out(config: HoldoutConfig, trigger: str, account_id: str) -> bool:
    return unit_hash("holdout", trigger, account_id) < config.share_for(trigger)
