"""Block Kit rendering of alerts and digests. Pure functions: no I/O, so `digest --preview` can print.

The alert dict (one fired trigger for one account); only `account_name` and `trigger` are needed:

    alert_id        str    outbox key of the alert (internal: never shown)
    account_id      str    warehouse account key
    account_name    str    shown, escaped, linked to crm_url
    trigger         str    "seat_limit_approaching" or "Seat limit approaching" (see playbook.py)
    priority        str    "high" | "medium" | "low" (anything else is shown as low)
    value           number current value (a ratio like 0.85 for limit triggers, else a count)
    threshold       number the trigger's threshold, same unit
    previous_value  number value at the previous evaluation, for the trend (optional)
    unit            str    "ratio" | "count": overrides the trigger's default display (optional)
    owner_email     str    shown when owner_slack_id and owner_name are unknown
    owner_name      str    the owner's name, shown when owner_slack_id is unknown (top level or in context)
    owner_slack_id  str    "U..." -> mentioned as <@U...>
    crm_url         str    link on the account name and the "Open in CRM" button
    fired_at        str    ISO timestamp (or datetime), shown in the footer
    time_zone       str    IANA zone of the reader ([digest] timezone / timezones), set at render time and
                           never stored; the footer's time is in it (UTC, named, when absent)
    digest_section  str    "deferred" (over the day's ping budget) | "backlog" (above the threshold when
                           the trigger started): listed under their own heading in the digest (optional)
"""

from __future__ import annotations

import json
from typing import Any

from syncer.escaping import slack_line
from syncer.wording import plural

from .block_limits import MAX_BLOCKS, MAX_HEADER_TEXT, MAX_PAYLOAD_CHARS, MAX_SECTION_TEXT, MAX_URL
from .playbook import (
    PRIORITY_BADGE,
    PRIORITY_ORDER,
    TRIGGERS,
    TriggerStyle,
    fired_words,
    format_value,
    is_number,
    is_slack_channel,
    is_slack_user,
    measure,
    owner_name,
    priority_of,
    style_for,
    trend,
)

Blocks = list[dict[str, Any]]
Alert = dict[str, Any]
Message = tuple[str, Blocks]
_SECTION_JSON = 3_000  # one digest section, JSON-encoded, so a header + section always fit a message
_PART_RESERVE = 700  # room kept in every digest message for its heading blocks and fallback text
TRIGGER_ORDER = {style.title: i for i, style in enumerate(TRIGGERS.values())}
DIGEST_SECTIONS = {
    "": "",
    "deferred": "Past today's ping budget - listed here instead of a ping",
    "backlog": "Already above the threshold when this trigger started",
}
SECTION_ORDER = {name: i for i, name in enumerate(DIGEST_SECTIONS)}


def render_alert(alert: dict[str, Any]) -> tuple[str, Blocks]:
    """One real-time ping: what fired, how far past the threshold, for whom, and what to do now."""
    style = style_for(alert.get("trigger"))
    priority = priority_of(alert.get("priority"))
    name = _name(alert)
    current = _value_vs_threshold(alert, style)
    owner = _owner(alert)
    # the top-level text is what notifications and screen readers show: escaped like every block
    title = slack_line(style.title)
    text = f"{priority.capitalize()} priority: {title} for {slack_line(_plain(alert))} - {current} - owner {owner}"
    blocks: Blocks = [
        {"type": "header", "text": _plain_text(f"{title}: {slack_line(alert.get('account_name') or 'account')}")},
        {
            "type": "section",
            "text": _mrkdwn(f"{PRIORITY_BADGE[priority]} priority alert for {_link(alert, name)}"),
            "fields": [
                _mrkdwn(f"*Now vs threshold*\n{current}"),
                _mrkdwn(f"*Trend*\n{_trend(alert, style)}"),
                _mrkdwn(f"*Owner*\n{owner}"),
                _mrkdwn(f"*Trigger*\n{title}"),
            ],
        },
        {"type": "section", "text": _mrkdwn(f"*Playbook:* {slack_line(style.playbook)}")},
    ]
    url = _url(alert)
    if url:
        button = {"type": "button", "text": _plain_text("Open in CRM"), "url": url, "action_id": "open_crm"}
        blocks.append({"type": "actions", "elements": [button]})
    blocks.append({"type": "context", "elements": [_mrkdwn(_footer(alert, title))]})
    return text[:3000], blocks


def render_digest(recipient: str, alerts: list[dict[str, Any]]) -> list[tuple[str, Blocks]]:
    """The daily digest as as many messages as Slack's limits need, each alert listed exactly once.

    Alerts are grouped by priority then trigger, ranked within a group by how far past the
    threshold they are. Every message stays within 50 blocks, 3,000 chars per section and
    MAX_PAYLOAD_CHARS in total; a group that spills over continues in the next message.
    """
    if not alerts:
        return []
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for alert in sorted(alerts, key=lambda a: (SECTION_ORDER.get(_section(a), 0), _rank(a))):
        style = style_for(alert.get("trigger"))
        key = (_section(alert), PRIORITY_ORDER[priority_of(alert.get("priority"))], style.title)
        groups.setdefault(key, []).append(alert)
    parts: list[Blocks] = [[]]
    budget = MAX_PAYLOAD_CHARS - _PART_RESERVE
    shown_sections = {""}
    for (digest_section, _, title), members in groups.items():
        style = style_for(members[0].get("trigger"))
        priority = priority_of(members[0].get("priority"))
        for index, section in enumerate(_sections(members, style)):
            if index > 0 and _fits(parts[-1], [section], budget):
                parts[-1].append(section)
                continue
            heading = f"*{PRIORITY_BADGE[priority]} · {slack_line(title)}*"
            if digest_section not in shown_sections:
                shown_sections.add(digest_section)
                heading = f"*{DIGEST_SECTIONS[digest_section]}*\n{heading}"
            heading += f" ({len(members)})\n_{slack_line(style.playbook)}_" if index == 0 else " (continued)"
            pair = [{"type": "section", "text": _mrkdwn(heading)}, section]
            if not _fits(parts[-1], pair, budget):
                parts.append([])
            parts[-1].extend(pair)
    return [_with_heading(recipient, alerts, blocks, i + 1, len(parts)) for i, blocks in enumerate(parts)]


# -- digest helpers ---------------------------------------------------------------------------


def _rank(alert: dict[str, Any]) -> tuple[int, int, str, float, str]:
    """Priority, then the seed's trigger order, then furthest past the threshold first."""
    style = style_for(alert.get("trigger"))
    priority = PRIORITY_ORDER[priority_of(alert.get("priority"))]
    value: Any = alert.get("value")
    threshold: Any = alert.get("threshold")
    severity = 0.0
    if is_number(value) and is_number(threshold) and threshold:
        severity = float(value) / float(threshold)
    elif is_number(value):
        severity = float(value)
    order = TRIGGER_ORDER.get(style.title, len(TRIGGER_ORDER))
    return priority, order, style.title, -severity, str(alert.get("account_name") or "")


def _section(alert: dict[str, Any]) -> str:
    value = str(alert.get("digest_section") or "")
    return value if value in DIGEST_SECTIONS else ""


def _sections(members: list[dict[str, Any]], style: TriggerStyle) -> list[dict[str, Any]]:
    """Alert lines packed into sections no longer than Slack allows (text and encoded size)."""
    sections: list[dict[str, Any]] = []
    lines: list[str] = []
    for alert in members:
        line = _digest_line(alert, style)
        candidate = "\n".join([*lines, line])
        if lines and (len(candidate) > MAX_SECTION_TEXT or len(json.dumps(candidate)) > _SECTION_JSON):
            sections.append({"type": "section", "text": _mrkdwn("\n".join(lines))})
            lines = []
        lines.append(line)
    if lines:
        sections.append({"type": "section", "text": _mrkdwn("\n".join(lines))})
    return sections


def _digest_line(alert: dict[str, Any], style: TriggerStyle) -> str:
    trend = _trend(alert, style)
    trend_part = f", {trend}" if trend != "new" else ""
    current = _value_vs_threshold(alert, style)
    return f"• {_link(alert, _name(alert))}: {current}{trend_part} · {_owner(alert)}"


def _with_heading(recipient: str, alerts: list[Alert], body: Blocks, part: int, of: int) -> Message:
    counts = {p: sum(1 for a in alerts if priority_of(a.get("priority")) == p) for p in PRIORITY_ORDER}
    summary = ", ".join(f"{n} {p}" for p, n in counts.items() if n)
    # people and channels as Slack names them (<@U..> -> the person, <#C..> -> #channel), never a bare id
    who = f"<@{recipient}>" if is_slack_user(recipient) else f"<#{recipient}>" if is_slack_channel(recipient) else ""
    who = who or slack_line(recipient[:100])
    title = "Daily usage digest" + (f" ({part}/{of})" if of > 1 else "")
    heading: Blocks = [
        {"type": "header", "text": _plain_text(title)},
        {"type": "context", "elements": [_mrkdwn(f"For {who} · {plural(len(alerts), 'alert')}: {summary}")]},
    ]
    text = f"{title}: {plural(len(alerts), 'usage alert')} ({summary})"
    return text, heading + body


def _fits(part: Blocks, more: Blocks, budget: int) -> bool:
    """Room for `more` in a part, keeping 2 blocks for the part's heading."""
    return len(part) + len(more) <= MAX_BLOCKS - 2 and len(json.dumps(part + more)) <= budget


# -- formatting -------------------------------------------------------------------------------


def _value_vs_threshold(alert: dict[str, Any], style: TriggerStyle) -> str:
    return measure(alert, style)  # numbers and fixed words only: nothing to escape


def _trend(alert: dict[str, Any], style: TriggerStyle) -> str:
    return trend(alert, style, (":arrow_up:", ":arrow_down:", ":left_right_arrow:"))


def _footer(alert: dict[str, Any], title: str) -> str:
    """What a rep reads under a ping: the trigger's name and when it fired, no internal ids.

    The time is Slack's date token `<!date^UNIX^{date_short_pretty} at {time}|fallback>`, which each
    reader's client shows in their own time zone; the fallback (old clients, notifications) is in the
    recipient's configured zone (`time_zone`), UTC without one, the zone named either way.
    """
    words = slack_line(fired_words(alert.get("fired_at"), alert.get("time_zone")))
    at = _timestamp(alert.get("fired_at"))
    when = f"<!date^{at}^{{date_short_pretty}} at {{time}}|{words}>" if at is not None else words
    return f"{title} · fired {when}" if when else title


def _timestamp(fired_at: Any) -> int | None:
    """Unix seconds of an ISO string or datetime (naive = UTC); None for anything else."""
    import datetime as dt

    when = fired_at
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when)
        except ValueError:
            return None
    if not isinstance(when, dt.datetime):
        return None
    return int((when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp())


def _fmt(value: Any, unit: str) -> str:
    return format_value(value, unit) if is_number(value) else slack_line(format_value(value, unit))


def _owner(alert: dict[str, Any]) -> str:
    slack_id = str(alert.get("owner_slack_id") or "")
    if is_slack_user(slack_id):
        return f"<@{slack_id}>"
    return slack_line(str(owner_name(alert) or alert.get("owner_email") or "unassigned")[:200])


def _name(alert: dict[str, Any]) -> str:
    return slack_line(_plain(alert)).replace("|", "¦")


def _plain(alert: dict[str, Any]) -> str:
    return str(alert.get("account_name") or alert.get("account_id") or "unknown account")[:150]


def _url(alert: dict[str, Any]) -> str | None:
    url = str(alert.get("crm_url") or "")
    if not url.startswith(("https://", "http://")) or len(url) > min(MAX_URL, 500):
        return None
    return None if any(c in url for c in " <>|") else url


def _link(alert: dict[str, Any], label: str) -> str:
    url = _url(alert)
    return f"<{url}|{label}>" if url else f"*{label}*"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text[:MAX_SECTION_TEXT]}


def _plain_text(text: str) -> dict[str, Any]:
    """A plain_text object; its text is already escaped (Slack decodes &amp; &lt; &gt; there too)."""
    return {"type": "plain_text", "text": text[:MAX_HEADER_TEXT], "emoji": True}
