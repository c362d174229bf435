"""Tier actions: which actions run for an alert, by the account's PQL tier (seed 003's three-tier matrix).

    [actions.monitor]   webhook = "inapp"       sla_hours = 1    # automated in-app message (signed webhook)
    [actions.nurture]   sdr_task = { owner = "sdr-queue@x.com" }  sla_hours = 48   # SDR outreach task
    [actions.escalate]  notify = "ping"  crm_task = true          sla_hours = 24   # Slack/email + CRM task
    [actions] by_priority = { high = "escalate", medium = "nurture", low = "monitor" }

The tier comes from the row's `tier` column; a row without a configured tier uses `by_priority`.
Without an `[actions]` section nothing changes: priority routing decides (ping + CRM task for
`routing.immediate`, the digest for the rest). An alert's *actions* are what its SLA measures:
`notify` (a ping or alert email delivered), `task`, `sdr_task`, `webhook` (acknowledged); the
digest is not an action (it runs on its own daily schedule). docs/tier-actions.md has the details.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from syncer.config import _did_you_mean
from syncer.wording import readable

PRIORITIES = ("high", "medium", "low")

Notify = Literal["ping", "digest", "none"]
DEFAULT_SLA_HOURS = {"monitor": 1.0, "nurture": 48.0, "escalate": 24.0}  # seed 003, "Service level agreements"
DEFAULT_BY_PRIORITY = {"high": "escalate", "medium": "nurture", "low": "monitor"}
ACTION_OF_KIND = {"ping": "notify", "email": "notify", "task": "task", "sdr_task": "sdr_task", "webhook": "webhook"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class SdrTask(_Strict):
    """A CRM task (through `[alerts.tasks]`'s connector) assigned to the SDR queue's owner."""

    owner: str
    """Email of the SDR queue owner in the CRM (a user or a queue user)."""
    due_hours: float = Field(default=48.0, gt=0)
    """Task due this many hours after the alert (seed 003: SDR follow-up within 48 h)."""
    priority: Literal["high", "medium"] = "medium"
    """Priority of the SDR task."""


class TierActions(_Strict):
    """The actions of one tier; unset keys do nothing (`notify` unset keeps the priority routing)."""

    notify: Notify | None = None
    """`ping` now (Slack/email per routing), the daily `digest`, or `none`. Unset: priority routing decides."""
    crm_task: bool = False
    """Create the owner's CRM follow-up task (needs `[alerts.tasks]`)."""
    sdr_task: SdrTask | None = None
    """Create a CRM task for the SDR queue instead (needs `[alerts.tasks]`)."""
    webhook: str | None = None
    """Webhook connector name: the in-app messaging or SDR queue endpoint."""
    webhook_action: str | None = None
    """`action` in the webhook payload. Default: `inapp_message` for the monitor tier."""
    show_within_hours: float = Field(default=24.0, gt=0)
    """The in-app message should show within this many hours (seed 003: 24 h)."""
    message: str | None = None
    """In-app text. Default: the trigger's playbook line."""
    sla_hours: float | None = Field(default=None, gt=0)
    """SLA of this tier's actions. Default by tier name: monitor 1, nurture 48, escalate 24."""


class ActionsConfig(_Strict):
    """`[actions]`: tier name -> TierActions, and which tier a priority means when the row has none."""

    tiers: dict[str, TierActions] = Field(default_factory=dict)
    """Tier name -> its actions, written as `[actions.<tier>]` tables."""
    by_priority: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_BY_PRIORITY))
    """Tier used for a row without a configured tier, by its priority."""

    @field_validator("by_priority")
    @classmethod
    def _priorities(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(PRIORITIES))
        if unknown:
            meant = "".join(_did_you_mean(u, PRIORITIES) for u in unknown)
            raise ValueError(f"unknown priorities {unknown}{meant}: use high, medium, low")
        return value


def actions_body(body: dict[str, Any]) -> dict[str, Any]:
    """`[actions.monitor]` tables become `tiers.monitor`; `by_priority` stays where it is."""
    return {
        "tiers": {k: v for k, v in body.items() if k != "by_priority"},
        **({"by_priority": body["by_priority"]} if "by_priority" in body else {}),
    }


@dataclass(frozen=True)
class ActionPlan:
    """What runs for one alert: its tier, the actions its SLA waits for, and the SLA."""

    tier: str | None
    config: TierActions | None
    sla_hours: float | None

    def wants_task(self, delivery: str, crm: bool) -> bool:
        if not crm:
            return False
        return self.config.crm_task if self.config is not None else delivery == "ping"

    def delivery(self, routed: str) -> str:
        """ping | digest | none: the tier's `notify`, else what routing decided."""
        return self.config.notify if self.config is not None and self.config.notify else routed

    def actions(self, delivery: str, task: bool) -> list[str]:
        names = ["notify"] if delivery == "ping" else []
        if task:
            names.append("task")
        if self.config is not None and self.config.sdr_task is not None:
            names.append("sdr_task")
        if self.config is not None and self.config.webhook is not None:
            names.append("webhook")
        return names


def plan_for(config: ActionsConfig, alert: dict[str, Any], default_sla_hours: float) -> ActionPlan:
    """The tier's action plan; without a configured tier, the legacy priority plan (SLA = alerts.sla_hours)."""
    tier = str(alert.get("tier") or "").strip().lower() or None
    if tier not in config.tiers:
        tier = config.by_priority.get(str(alert.get("priority") or "low"))
    actions = config.tiers.get(tier or "")
    if actions is None:
        return ActionPlan(tier, None, default_sla_hours)
    sla = actions.sla_hours or DEFAULT_SLA_HOURS.get(tier or "", default_sla_hours)
    return ActionPlan(tier, actions, sla)


def webhook_payload(alert: dict[str, Any], plan: ActionPlan, signal_at: dt.datetime) -> dict[str, Any]:
    """The record `fields` of one tier webhook (docs/webhook-payload-inapp.md documents every key)."""
    config = plan.config
    assert config is not None
    action = config.webhook_action or ("inapp_message" if plan.tier == "monitor" else f"{plan.tier}_action")
    message = None
    if config.message:  # text a person reads: {trigger} as every message names it; the `trigger` field keeps the key
        said = {k: v for k, v in alert.items() if v is not None}
        if "trigger" in said:
            said["trigger"] = readable(str(said["trigger"]))
        message = config.message.format_map(_Blank(said))
    return {
        "action": action,
        "tier": plan.tier,
        "alert_id": alert["alert_id"],
        "account_id": alert["account_id"],
        "account_name": alert.get("account_name"),
        "trigger": alert.get("trigger"),
        "priority": alert.get("priority"),
        "value": alert.get("value"),
        "threshold": alert.get("threshold"),
        "owner_email": alert.get("owner_email"),
        "segment": alert.get("segment"),
        "message": message,
        "crm_url": alert.get("crm_url"),
        "signal_at": signal_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "show_by": (signal_at + dt.timedelta(hours=config.show_within_hours))
        .astimezone(dt.UTC)
        .isoformat(timespec="seconds"),
        "sla_due_at": (signal_at + dt.timedelta(hours=plan.sla_hours or 0))
        .astimezone(dt.UTC)
        .isoformat(timespec="seconds"),
    }


class _Blank(dict[str, Any]):
    """format_map over the alert: an unknown {name} renders empty instead of failing the evaluation."""

    def __missing__(self, key: str) -> str:
        return ""
