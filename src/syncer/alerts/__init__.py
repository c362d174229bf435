"""Alerts: fired triggers -> alert lifecycle in state -> Slack / email messages, CRM and SDR tasks,
tier webhooks, daily digests, escalation, and SLA tracking per PQL tier.

See docs/alerts.md and docs/tier-actions.md. Entry point: `AlertEngine` (engine.py); configuration:
model.py (`[alerts]`, `[routing]`, `[digest]`) and actions.py (`[actions]`).
"""

from __future__ import annotations

from syncer.alerts.actions import ActionsConfig, TierActions
from syncer.alerts.digest import next_send_at
from syncer.alerts.engine import AlertEngine
from syncer.alerts.model import AlertSettings, load_alert_settings
from syncer.alerts.report import Report
from syncer.alerts.sla import sla_report

__all__ = [
    "ActionsConfig",
    "AlertEngine",
    "AlertSettings",
    "Report",
    "TierActions",
    "load_alert_settings",
    "next_send_at",
    "sla_report",
]
