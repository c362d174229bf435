"""The default triggers as a reader sees them in Slack: title, how to show the value, what to do.

Written from seed 002 ("Expansion Trigger Thresholds" and "Alert Response Playbook"): review the
data, prepare the approach for the trigger (seat limit: lead with value delivered and growth;
feature usage: ask about outcomes; API limit: discuss integration success and scaling), reach out
the same day without leading with the limit, then log the outcome in the CRM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from syncer.non_finite import is_finite_number
from syncer.trigger_values import UNITS, format_value, trigger_id, unit_of
from syncer.wording import readable_title

__all__ = ["format_value", "trigger_id", "unit_of"]  # the one value formatter (syncer.trigger_values), re-exported


@dataclass(frozen=True)
class TriggerStyle:
    title: str
    unit: str  # syncer.trigger_values: "ratio" shows 0.85 as 85%; "count" 1,204; "multiple" 1.6x
    playbook: str


DEFAULT_PLAYBOOK = (
    "Review usage vs limits, the 90-day trend and recent support tickets; reach out the same day, "
    "then log the outcome in the CRM."
)

# trigger -> what to do about it (seed 002's playbook); the title is the trigger's name as every page,
# report and message says it (syncer.wording.readable_title), the unit its display (syncer.trigger_values)
PLAYBOOKS: dict[str, str] = {
    "seat_limit_approaching": (
        "Lead with the value delivered and the growth they've seen; don't open with the seat limit."
    ),
    "rapid_seat_growth": "Lead with the growth they've seen and the value behind it; reach out to the champion today.",
    "premium_feature_adoption": "Ask what outcomes they're achieving with the premium features they already use.",
    "api_limit_approaching": "Talk about how their integration is going and how they plan to scale it.",
    "storage_limit_approaching": (
        "Check usage vs limits and the 90-day trend, then check in on their adoption, not the limit."
    ),
    "high_engagement_growth": "Check in on how things are going: they've had great adoption lately.",
}
TRIGGERS: dict[str, TriggerStyle] = {
    key: TriggerStyle(readable_title(key), UNITS[key], playbook) for key, playbook in PLAYBOOKS.items()
}

PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}
PRIORITY_BADGE = {
    "high": ":red_circle: High",
    "medium": ":large_orange_circle: Medium",
    "low": ":white_circle: Low",
}


def style_for(trigger: object) -> TriggerStyle:
    """The style of a known trigger; unknown triggers get their own name and the general playbook."""
    key = trigger_id(trigger)
    if key in TRIGGERS:
        return TRIGGERS[key]
    for known, style in TRIGGERS.items():  # "seat_limit" or "api_limit_80" still match their trigger
        stem = "_".join(known.split("_")[:2])
        if key.startswith(stem):
            return style
    title = readable_title(str(trigger or "")) or "Usage alert"
    return TriggerStyle(title, unit_of(trigger), DEFAULT_PLAYBOOK)


def priority_of(alert_priority: object) -> str:
    value = str(alert_priority or "").lower()
    return value if value in PRIORITY_ORDER else "low"


def is_number(value: Any) -> bool:
    """A finite number (NaN and infinities are not: they read "n/a", syncer.non_finite)."""
    return is_finite_number(value)


def trend(alert: dict[str, Any], style: TriggerStyle, words: tuple[str, str, str]) -> str:
    """'<up|down|flat word> from <previous> (<change>)', or 'new' without a previous value."""
    unit = str(alert.get("unit") or style.unit)
    value: Any = alert.get("value")
    previous: Any = alert.get("previous_value")
    if not (is_number(value) and is_number(previous)):
        return "new"
    delta = float(value) - float(previous)
    word = words[0] if delta > 0 else words[1] if delta < 0 else words[2]
    change = f"{delta * 100:+.0f} pts" if unit == "ratio" else f"{delta:+,.4g}"
    return f"{word} from {format_value(previous, unit)} ({change})"


# trigger -> (used column, limit column, what is counted): "82% of 40 seats"
LIMITS = {
    "seat_limit_approaching": ("seats_used", "seat_limit", "seats"),
    "storage_limit_approaching": ("storage_used", "storage_limit", "of storage"),
}


def usage_numbers(alert: dict[str, Any]) -> dict[str, float]:
    """Numbers the alert row carries besides value/threshold: model columns and the trigger's
    `context` text ("seats_used=33 seat_limit=40")."""
    found: dict[str, float] = {}
    given = alert.get("context")
    extras: dict[str, Any] = given if isinstance(given, dict) else {}
    for key, value in {**extras, **alert}.items():
        if is_number(value):
            found[str(key)] = float(value)
    text = extras.get("context") if isinstance(extras.get("context"), str) else alert.get("context")
    if isinstance(text, str):
        for part in text.split():
            key, _, value = part.partition("=")
            try:
                number = float(value)
            except ValueError:
                continue
            if math.isfinite(number):  # "nan" / "inf" parse as floats; they are not usage numbers
                found.setdefault(key, number)
    return found


def measure(alert: dict[str, Any], style: TriggerStyle) -> str:
    """The value as a rep reads it, with its limit when known: '82% of 40 seats (threshold 80%)'."""
    unit = str(alert.get("unit") or style.unit)
    current = format_value(alert.get("value"), unit)
    limit = LIMITS.get(trigger_id(alert.get("trigger")))
    if limit is not None and unit == "ratio":
        numbers = usage_numbers(alert)
        if numbers.get(limit[1]):
            current = f"{current} of {format_value(numbers[limit[1]], 'count')} {limit[2]}"
    if alert.get("threshold") is None:
        return current
    return f"{current} (threshold {format_value(alert.get('threshold'), unit)})"


def fired_words(fired_at: Any, zone: Any = None) -> str:
    """'2 Mar 2026, 03:00 EST' from an ISO string or datetime, in the reader's IANA `zone` (the alert's
    `time_zone`: [digest] timezone / timezones), '... 08:00 UTC' without one (syncer.local_time); anything else
    as given."""
    import datetime as dt

    from syncer.local_time import local_words

    when = fired_at
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when)
        except ValueError:
            return str(when)
    if not isinstance(when, dt.datetime):
        return str(when or "")
    return local_words(when, str(zone) if zone else None)


def owner_name(alert: dict[str, Any]) -> str | None:
    """The owner's name when the alert model selects one (`owner_name`, top level or in `context`), else None:
    a renderer shows it where a person is meant, and falls back to the address only when no name is known."""
    context = alert.get("context")
    name = alert.get("owner_name") or (context.get("owner_name") if isinstance(context, dict) else None)
    return (str(name).strip() or None) if name else None


def is_slack_user(target: object) -> bool:
    """A Slack user id ("U..." / "W..."): mentioned as <@id>, which Slack shows as the person's name."""
    text = str(target or "")
    return text[:1] in ("U", "W") and text.isalnum()


def is_slack_channel(target: object) -> bool:
    """A Slack channel id ("C...", private "G..."): mentioned as <#id>, which Slack shows as #name."""
    text = str(target or "")
    return text[:1] in ("C", "G") and text.isalnum() and text.upper() == text
