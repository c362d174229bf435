"""CRM follow-up tasks for alerts, through the salesforce or hubspot connector's task writer.

The task's Record.key is its alert key in its project (`outbox.delivered_key`; `outbox.task_keys` maps
an alert key to it), so the connectors' key lookup makes a resend after a crash find the task instead of
creating a twin. Status is read back with `connector.task_status(keys)` under those keys
(Salesforce's TaskStatus has `.status`, HubSpot's `.state`: both "open" | "completed").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from syncer.connector import Record, Result
from syncer.non_finite import is_finite_number
from syncer.trigger_values import value_words
from syncer.wording import readable, readable_title


class TaskConnector(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def effective_batch_size(self) -> int: ...

    def send(self, batch: Sequence[Record]) -> list[Result]: ...

    def task_status(self, keys: Sequence[str]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TaskState:
    state: str  # open | completed
    completed_at: dt.datetime | None


def read_status(crm: TaskConnector, keys: Sequence[str]) -> dict[str, TaskState]:
    """Key -> open/completed for the tasks that exist (missing keys are absent)."""
    out: dict[str, TaskState] = {}
    for start in range(0, len(keys), 100):
        for key, status in crm.task_status(list(keys[start : start + 100])).items():
            state = getattr(status, "state", None) or getattr(status, "status", "open")
            out[key] = TaskState(str(state), getattr(status, "completed_at", None))
    return out


SALESFORCE_PRIORITY = {"low": "Low", "normal": "Normal", "medium": "Normal", "high": "High"}


def sdr_title(tier: str | None, trigger: object) -> str:
    """The title an SDR task's subject opens with: "SDR outreach (nurture) - API limit approaching" (the trigger
    as every message names it, syncer.wording)."""
    return f"SDR outreach ({tier}) - {readable(str(trigger))}"


def task_text(alert: dict[str, Any], words: Any = None) -> tuple[str, str]:
    """Subject and body as a rep reads them: the trigger's human name, the numbers as people say them
    ("82% of 40 seats (threshold 80%)"), the trend, the playbook line, the CRM link. No internal ids.
    `words` is the Slack connector's playbook module (titles, playbook lines, formatting) - found through
    the connector class, like the renderers; without it a plain fallback wording."""
    name = str(alert.get("account_name") or alert["account_id"])
    priority = str(alert.get("priority") or "low").capitalize()
    if words is None:
        title = readable_title(str(alert.get("trigger") or "")) or "Usage alert"
        trigger, unit, threshold = alert.get("trigger"), alert.get("unit"), alert.get("threshold")
        now = value_words(alert.get("value"), trigger, unit)  # the one formatter, as the renderers show it
        now += f" (threshold {value_words(threshold, trigger, unit)})" if is_finite_number(threshold) else ""
        trend, playbook = "", "Review usage and reach out the same day; log the outcome in the CRM."
    else:
        style = words.style_for(alert.get("trigger"))
        title, now, playbook = style.title, words.measure(alert, style), style.playbook
        moved = words.trend(alert, style, ("up", "down", "flat"))
        trend = "; first time past the threshold" if moved == "new" else f"; {moved}"
    subject = f"{alert.get('trigger_title') or title}: {name}"
    lines = [f"{priority} priority: {title} for {name}.", f"Now {now}{trend}.", f"Playbook: {playbook}"]
    url = str(alert.get("crm_url") or "")
    if url.startswith(("https://", "http://")):
        lines.append(f"Open in CRM: {url}")
    return subject, "\n".join(lines)


def task_fields(
    connector_type: str,
    alert: dict[str, Any],
    due: dt.date,
    match_column: str = "account_id",
    priority: str = "normal",
    words: Any = None,
) -> dict[str, Any]:
    """The task Record.fields each connector expects (see their READMEs). The task's priority is
    `alert["task_priority"]` when set (an SDR task's own), else `priority` ([alerts.tasks] priority,
    below `escalated_priority` so that escalation raises it)."""
    word = str(alert.get("task_priority") or priority).strip().lower()
    account_ref = str((alert.get("context") or {}).get(match_column) or alert.get(match_column) or alert["account_id"])
    subject, body = task_text(alert, words)
    email = alert.get("owner_email") or None
    if connector_type == "hubspot":
        fields: dict[str, Any] = {
            "subject": subject,
            "body": body,
            "due_at": due.isoformat(),
            "priority": "medium" if word == "normal" else word,
            "company": account_ref,
        }
        if email:
            fields["owner_email"] = email
        return fields
    fields = {
        "Subject": subject,
        "Description": body,
        "ActivityDate": due.isoformat(),
        "Priority": SALESFORCE_PRIORITY.get(word, word),
        "account_external_id": account_ref,
    }
    if email:
        fields["owner_email"] = email
    return fields
