"""Alerts: fired triggers -> alert lifecycle in state -> Slack pings, CRM tasks, daily digests, escalation.

See docs/alerts.md. Entry point: `AlertEngine` (engine.py); configuration: model.py.
"""

from __future__ import annotations

from syncer.alerts.digest import next_send_at
from syncer.alerts.engine import AlertEngine, Report
from syncer.alerts.model import AlertSettings, load_alert_settings

__all__ = ["AlertEngine", "AlertSettings", "Report", "load_alert_settings", "next_send_at"]
