"""Email rendering of alerts and digests: (subject, text, html). Pure functions, no I/O.

Same content as the Slack messages (connectors/slack/blocks.py documents the alert dict keys):
account, trigger, value vs threshold, trend, owner, the playbook line, the CRM link. The trigger
titles and playbook lines are Slack's (`playbook.py`), imported, so both channels say the same.
Every value from the warehouse is HTML-escaped (syncer.escaping.html_text) in the HTML part and
made one line (`one_line`) where a line is expected; the subject is one line; links are only http(s) URLs.

Email has no Block Kit limits, so a digest is one message however long, grouped by priority then
trigger and ranked by how far past the threshold each account is. A summary table comes first:
mail clients that clip long messages (Gmail, past ~100 KB of HTML) clip the least urgent end.
"""

from __future__ import annotations

from typing import Any

from syncer.escaping import html_text as escape
from syncer.escaping import one_line, plain_text
from syncer.wording import plural

from ..slack.playbook import (
    PRIORITY_ORDER,
    TRIGGERS,
    TriggerStyle,
    fired_words,
    format_value,
    is_number,
    measure,
    owner_name,
    priority_of,
    style_for,
    trend,
)

Alert = dict[str, Any]
Email = tuple[str, str, str]  # subject, text, html
TRIGGER_ORDER = {style.title: i for i, style in enumerate(TRIGGERS.values())}
PRIORITY_COLOR = {"high": "#c0392b", "medium": "#d68910", "low": "#7f8c8d"}
_FONT = "font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#222"


def render_alert_email(alert: Alert) -> Email:
    """One real-time alert: what fired, how far past the threshold, for whom, and what to do now."""
    style, priority = style_for(alert.get("trigger")), priority_of(alert.get("priority"))
    name, current, trend, owner = _name(alert), _value_vs_threshold(alert, style), _trend(alert, style), _owner(alert)
    subject = one_line(f"[{priority.capitalize()}] {style.title}: {name} ({current})")  # a header is one line
    url = _url(alert)
    footer = fired_words(alert.get("fired_at"), alert.get("time_zone"))  # the reader's zone; no internal ids
    rows = [("Now vs threshold", current), ("Trend", trend), ("Owner", owner), ("Trigger", style.title)]
    text = "\n".join(
        [
            f"{priority.capitalize()} priority alert: {style.title} for {name}",
            "",
            *(f"{label + ':':<18}{value}" for label, value in rows),
            "",
            f"Playbook: {style.playbook}",
            *([f"Open in CRM: {url}"] if url else []),
            *(["", f"Fired {footer}"] if footer else []),
        ]
    )
    cells = "".join(
        f'<tr><td style="padding:2px 12px 2px 0;color:#555">{escape(label)}</td><td>{escape(value)}</td></tr>'
        for label, value in rows
    )
    html = _page(
        f'<p><span style="color:{PRIORITY_COLOR[priority]};font-weight:bold">{priority.capitalize()} priority</span>'
        f" alert: {escape(style.title)} for {_link(alert, name)}</p>"
        f"<table>{cells}</table>"
        f"<p><b>Playbook:</b> {escape(style.playbook)}</p>"
        + (f'<p><a href="{escape(url)}">Open in CRM</a></p>' if url else "")
        + (f'<p style="color:#888;font-size:12px">Fired {escape(footer)}</p>' if footer else "")
    )
    return subject[:250], plain_text(text), html


def render_digest_email(recipient: str, alerts: list[Alert]) -> Email:
    """The daily digest as one email listing every alert once, grouped and ranked."""
    groups: dict[tuple[int, int, str], list[Alert]] = {}
    for alert in sorted(alerts, key=_rank):
        style, priority = style_for(alert.get("trigger")), priority_of(alert.get("priority"))
        order = TRIGGER_ORDER.get(style.title, len(TRIGGER_ORDER))
        groups.setdefault((PRIORITY_ORDER[priority], order, style.title), []).append(alert)
    counts = {p: sum(1 for a in alerts if priority_of(a.get("priority")) == p) for p in PRIORITY_ORDER}
    summary = ", ".join(f"{n} {p}" for p, n in counts.items() if n) or "nothing new"
    subject = f"Daily usage digest: {plural(len(alerts), 'alert')} ({summary})"
    name = _recipient_name(recipient, alerts)  # greet the person by name; the To: header already has the address
    greeting = f"Hi {one_line(name)}, your" if name else "Your"
    text_parts = [f"{greeting} daily usage digest: {plural(len(alerts), 'alert')} ({summary})", ""]
    html_parts = [
        '<h2 style="margin:0 0 4px">Daily usage digest</h2><p style="color:#555">'
        + (f"For {escape(name)} · " if name else "")
        + f"{plural(len(alerts), 'alert')} ({escape(summary)})</p>",
        '<table style="border-collapse:collapse;margin-bottom:16px">',
    ]
    for (_, _, title), members in groups.items():
        priority = priority_of(members[0].get("priority"))
        html_parts.append(
            f'<tr><td style="padding:2px 12px 2px 0;color:{PRIORITY_COLOR[priority]}">{priority.capitalize()}</td>'
            f'<td style="padding:2px 12px 2px 0">{escape(title)}</td><td align="right">{len(members)}</td></tr>'
        )
    html_parts.append("</table>")
    for (_, _, title), members in groups.items():
        style, priority = style_for(members[0].get("trigger")), priority_of(members[0].get("priority"))
        text_parts += [f"== {priority.capitalize()} · {title} ({len(members)}) ==", f"Playbook: {style.playbook}"]
        html_parts.append(
            f'<h3 style="margin:16px 0 2px;color:{PRIORITY_COLOR[priority]}">{priority.capitalize()} · '
            f'{escape(title)} ({len(members)})</h3><p style="margin:0 0 4px;color:#555"><i>'
            f'{escape(style.playbook)}</i></p><ol style="margin:0;padding-left:22px">'
        )
        for alert in members:
            current, trend, owner = _value_vs_threshold(alert, style), _trend(alert, style), _owner(alert)
            trend_part = f", {trend}" if trend != "new" else ""
            url = _url(alert)
            text_parts.append(f"- {_name(alert)}: {current}{trend_part} · {owner}" + (f" · {url}" if url else ""))
            html_parts.append(
                f"<li>{_link(alert, _name(alert))}: {escape(current + trend_part)} · {escape(owner)}</li>"
            )
        text_parts.append("")
        html_parts.append("</ol>")
    return one_line(subject), plain_text("\n".join(text_parts)), _page("".join(html_parts))


# -- formatting (plain text; the HTML side escapes what these return) -------------------------


def _rank(alert: Alert) -> tuple[int, int, float, str]:
    """Priority, then the seed's trigger order, then furthest past the threshold first."""
    style = style_for(alert.get("trigger"))
    value: Any = alert.get("value")
    threshold: Any = alert.get("threshold")
    severity = 0.0
    if is_number(value):
        severity = float(value) / float(threshold) if is_number(threshold) and threshold else float(value)
    order = TRIGGER_ORDER.get(style.title, len(TRIGGER_ORDER))
    return PRIORITY_ORDER[priority_of(alert.get("priority"))], order, -severity, _name(alert)


def _value_vs_threshold(alert: Alert, style: TriggerStyle) -> str:
    return measure(alert, style)  # numbers and fixed words only: nothing to escape


def _trend(alert: Alert, style: TriggerStyle) -> str:
    return trend(alert, style, ("up", "down", "flat"))


def _fmt(value: Any, unit: str) -> str:
    return one_line(format_value(value, unit))


def _owner(alert: Alert) -> str:
    return one_line(owner_name(alert) or alert.get("owner_email") or "unassigned")[:200]


def _recipient_name(recipient: str, alerts: list[Alert]) -> str | None:
    """The digest recipient's name: the owner name of an alert they own (an address is not a greeting)."""
    address = recipient.strip().lower()
    for alert in alerts:
        if str(alert.get("owner_email") or "").strip().lower() == address and owner_name(alert):
            return owner_name(alert)
    return None


def _name(alert: Alert) -> str:
    return one_line(alert.get("account_name") or alert.get("account_id") or "unknown account")[:150]


def _url(alert: Alert) -> str | None:
    url = str(alert.get("crm_url") or "")
    if not url.startswith(("https://", "http://")) or len(url) > 2000 or any(c.isspace() for c in url):
        return None
    return url


def _link(alert: Alert, label: str) -> str:
    url = _url(alert)
    return f'<a href="{escape(url)}"><b>{escape(label)}</b></a>' if url else f"<b>{escape(label)}</b>"


def _page(body: str) -> str:
    return f'<!doctype html><html><body style="{_FONT}">{body}</body></html>'
