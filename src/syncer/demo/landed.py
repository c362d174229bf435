"""The "what landed" page: what the people on the other side saw after the demo's two live days.

Read from the emulators' own stores (what the destinations acknowledged, not what syncer meant to
send): a few reps' Slack DMs and the alert channels rendered the way Slack shows them (mrkdwn, Block
Kit header / section / fields / context / actions, digest threads), Salesforce Accounts and HubSpot
companies as record cards with the fields syncer wrote and the tasks on them, the in-app webhook's
audience, and a timeline of the two runs. Names, not IDs; times in the recipients' zone; samples with
"N more". One self-contained HTML file (inline CSS, no script, no network), well under 1 MB.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import defaultdict
from collections.abc import Sequence
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from syncer.demo.services import ENTERPRISE, FALLBACK, Services
from syncer.wording import plural

UTC = ZoneInfo("UTC")
CSS = files("syncer.demo").joinpath("landed.css").read_text(encoding="utf-8")
SF_FIELDS = {"PQL_Score__c": "PQL score", "PQL_Tier__c": "PQL tier", "Health_Score__c": "Health score",
             "Top_Signal__c": "Top signal"}  # fmt: skip
HS_FIELDS = {"pql_score": "PQL score", "pql_tier": "PQL tier", "usage_health_score": "Health score",
             "usage_health_band": "Health band", "top_usage_signal": "Top signal"}  # fmt: skip
LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
DOTS = {
    "red_circle": "#e01e5a",
    "large_orange_circle": "#f2952f",
    "large_yellow_circle": "#ecb22e",
    "white_circle": "#dddddd",
    "large_blue_circle": "#1264a3",
}  # drawn: headless browsers lack emoji fonts
EMOJI = {"arrow_up": "⬆️", "arrow_down": "⬇️", "left_right_arrow": "↔️",
         "rotating_light": "🚨", "chart_with_upwards_trend": "📈", "chart_with_downwards_trend": "📉",
         "warning": "⚠️", "bell": "🔔", "calendar": "📅", "memo": "📝", "bulb": "💡", "dart": "🎯",
         "arrow_right": "➡️", "white_check_mark": "✅", "heavy_check_mark": "✔️", "fire": "🔥",
         "rocket": "🚀"}  # fmt: skip


def mrkdwn(text: str, users: dict[str, str], zone: ZoneInfo = UTC) -> str:
    """Slack mrkdwn -> HTML: links <url|label>, mentions <@U..> and <#C..> (`users` names both), *bold*,
    _italic_, ~strike~, `code`, newlines,
    date tokens <!date^unix^format|fallback> in `zone` (as Slack shows them in the reader's zone).
    Slack's own escapes (&amp; &lt; &gt;) are undone once, then everything is escaped for HTML."""
    out, last = [], 0
    for m in LINK.finditer(text):
        out.append(_inline(text[last : m.start()]))
        target, label = m.group(1), m.group(2)
        if target.startswith("@"):
            out.append(f'<span class="mention">@{html.escape(users.get(target[1:], target[1:]))}</span>')
        elif target.startswith("#"):  # <#C123> or <#C123|name>: Slack shows the channel's name
            name = label or users.get(target[1:]) or "private channel"
            out.append(f'<span class="mention">#{html.escape(name)}</span>')
        elif target.startswith("!date^"):
            out.append(_date(target, label, zone))
        elif target.startswith("!"):
            out.append(f'<span class="mention">@{html.escape(target[1:].split("^")[0])}</span>')
        else:
            url = html.escape(html.unescape(target), quote=True)
            out.append(f'<a href="{url}">{_inline(label or target)}</a>')
        last = m.end()
    out.append(_inline(text[last:]))
    return "".join(out).replace("\n", "<br>")


def _date(target: str, fallback: str | None, zone: ZoneInfo) -> str:
    """<!date^1700000000^{date_short_pretty} at {time}|fallback> the way a reader in `zone` sees it."""
    parts = target.split("^")
    try:
        when = dt.datetime.fromtimestamp(int(parts[1]), zone)
    except (IndexError, ValueError, OverflowError):
        return _inline(fallback or "")
    zone_name = when.tzname()
    words = {"{date_short_pretty}": f"{when:%b %-d}", "{date_short}": f"{when:%b %-d, %Y}",
             "{date}": f"{when:%B %-d, %Y}", "{date_num}": f"{when:%Y-%m-%d}",
             "{time}": f"{when:%-I:%M %p} {zone_name}", "{time_secs}": f"{when:%-I:%M:%S %p} {zone_name}"}  # fmt: skip
    shown = parts[2] if len(parts) > 2 else "{date_num} {time}"
    for token, value in words.items():
        shown = shown.replace(token, value)
    return f'<time datetime="{when.isoformat()}">{_inline(shown)}</time>'


def _inline(text: str) -> str:
    s = html.escape(html.unescape(text), quote=False)
    s = re.sub(r":([a-z0-9_+-]+):", _emoji, s)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    for mark, tag in (("*", "b"), ("_", "i"), ("~", "s")):  # Slack: no space just inside the marks
        m = re.escape(mark)
        s = re.sub(rf"(?<![\w{m}]){m}(\S(?:[^{m}\n]*?\S)?){m}(?![\w{m}])", rf"<{tag}>\1</{tag}>", s)
    return s


def _emoji(m: re.Match[str]) -> str:
    name = m.group(1)
    if name in DOTS:
        label = name.replace("_", " ")
        return f'<span class="dot" role="img" style="background:{DOTS[name]}" aria-label="{label}"></span>'
    return EMOJI.get(name, m.group(0))


def _text(obj: dict[str, Any] | None, users: dict[str, str], zone: ZoneInfo = UTC) -> str:
    if not obj:
        return ""
    raw = str(obj.get("text", ""))
    return mrkdwn(raw, users, zone) if obj.get("type") == "mrkdwn" else _inline(raw.replace("*", "").replace("_", " "))


def block_html(block: dict[str, Any], users: dict[str, str], zone: ZoneInfo = UTC) -> str:
    """One Block Kit block the way Slack lays it out (header, section + fields + accessory, context, actions)."""
    kind = block.get("type")
    if kind == "header":
        return f'<div class="sk-header">{_text(block.get("text"), users, zone)}</div>'
    if kind == "divider":
        return '<hr class="sk-divider">'
    if kind == "context":
        parts = [_text(e, users, zone) for e in block.get("elements", []) if e.get("type") in ("mrkdwn", "plain_text")]
        return f'<div class="sk-context">{" ".join(parts)}</div>'
    if kind == "actions":
        return f'<div class="sk-actions">{"".join(_button(e) for e in block.get("elements", []))}</div>'
    if kind == "section":
        fields = "".join(f"<div>{_text(f, users, zone)}</div>" for f in block.get("fields", []))
        accessory = block.get("accessory") or {}
        side = _button(accessory) if accessory.get("type") == "button" else ""
        body = f'<div class="sk-text">{_text(block.get("text"), users, zone)}</div>' if block.get("text") else ""
        grid = f'<div class="sk-fields">{fields}</div>' if fields else ""
        return f'<div class="sk-section"><div>{body}{grid}</div>{side}</div>'
    return ""


def _button(element: dict[str, Any]) -> str:
    label = html.escape(str((element.get("text") or {}).get("text", "")))
    style = " primary" if element.get("style") == "primary" else ""
    url = element.get("url")
    if url:
        return f'<a class="sk-button{style}" href="{html.escape(str(url), quote=True)}">{label}</a>'
    return f'<span class="sk-button{style}">{label}</span>'


def message_html(m: dict[str, Any], users: dict[str, str], zone: ZoneInfo, replies: Sequence[dict[str, Any]]) -> str:
    when = dt.datetime.fromtimestamp(float(m["ts"]), zone)
    blocks = m.get("blocks") or []
    body = (
        "".join(block_html(b, users, zone) for b in blocks)
        if blocks
        else f"<p>{mrkdwn(str(m.get('text', '')), users, zone)}</p>"
    )
    thread = ""
    if replies:
        inner = "".join(message_html(r, users, zone, ()) for r in replies[:2])
        more = (
            f'<p class="more">{plural(len(replies) - 2, "more reply", "more replies")}</p>' if len(replies) > 2 else ""
        )
        summary = plural(len(replies), "reply", "replies")
        thread = f'<details class="thread"><summary>{summary}</summary>{inner}{more}</details>'
    return (
        f'<article class="sk-msg"><div class="sk-avatar" aria-hidden="true">s</div><div class="sk-body">'
        f'<div class="sk-meta"><b>syncer</b> <span class="app">APP</span> <time datetime="{when.isoformat()}">'
        f"{when:%a %b %-d, %-I:%M %p} {when.tzname()}</time></div>{body}{thread}</div></article>"
    )


def channel_html(title: str, messages: list[dict[str, Any]], users: dict[str, str], zone: ZoneInfo, n: int) -> str:
    parents = [m for m in messages if m.get("thread_ts", m["ts"]) == m["ts"]]
    replies: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in messages:
        if m.get("thread_ts") and m["thread_ts"] != m["ts"]:
            replies[m["thread_ts"]].append(m)
    shown = parents[-n:]
    body = "".join(message_html(m, users, zone, replies.get(m["ts"], [])) for m in shown)
    more = (
        f'<p class="more">{plural(len(parents) - len(shown), "earlier message")}</p>'
        if len(parents) > len(shown)
        else ""
    )
    return f'<section class="slack"><h3>{html.escape(title)}</h3>{more}{body}</section>'


def slack_section(services: Services, zone: ZoneInfo, reps: int = 3) -> str:
    slack = services.slack
    users = {uid: str(u.get("name", uid)) for uid, u in slack.users.items()}
    users |= {cid: str(getattr(c, "name", "") or "private channel") for cid, c in slack.channels.items()}
    dms = []
    for uid in sorted(slack.users):
        channel = slack.dm_channel(uid)
        if channel in slack.channels and slack.messages(channel):
            dms.append((len(slack.messages(channel)), uid, channel))
    dms.sort(reverse=True)
    parts = [
        channel_html(f"Direct message to {users[uid]} ({slack.users[uid]['profile']['email']})",
                     slack.messages(channel), users, zone, 3)
        for _, uid, channel in dms[:reps]
    ]  # fmt: skip
    for channel, title in ((ENTERPRISE, "#expansion-desk"), (FALLBACK, "#syncer-alerts (owners not in Slack)")):
        if channel in slack.channels and slack.messages(channel):
            parts.append(channel_html(title, slack.messages(channel), users, zone, 2))
    more = f'<p class="more">{plural(len(dms) - reps, "more rep")} got DMs.</p>' if len(dms) > reps else ""
    return f'<div class="slack-grid">{"".join(parts)}</div>{more}'


def _card(title: str, subtitle: str, fields: dict[str, Any], tasks: str = "") -> str:
    rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in fields.items())
    return (
        f'<article class="crm-card"><h4>{html.escape(title)}</h4><p class="sub">{html.escape(subtitle)}</p>'
        f"<dl>{rows}</dl>{tasks}</article>"
    )


def salesforce_section(services: Services, zone: ZoneInfo, n: int = 3) -> str:
    sf = services.salesforce
    users = {u["Id"]: u.get("Name") or u.get("Email") for u in sf.records("User")}
    accounts = {a["Id"]: a for a in sf.records("Account")}
    tasks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in sf.records("Task"):
        tasks[str(t.get("WhatId"))].append(t)
    ranked = sorted(tasks, key=lambda k: (-len(tasks[k]), str(accounts.get(k, {}).get("Name"))))
    cards = []
    for account_id in ranked[:n]:
        a = accounts.get(account_id, {})
        items = "".join(
            f'<li><span class="tag {"done" if t.get("IsClosed") else "open"}">'
            f"{html.escape(str(t.get('Status')))}</span>"
            f' <b>{html.escape(str(t.get("Subject")))}</b><br><span class="sub">{html.escape(str(t.get("Priority")))}'
            f" priority · due {html.escape(str(t.get('ActivityDate')))} · assigned to "
            f"{html.escape(str(users.get(t.get('OwnerId'), 'the integration user')))}</span></li>"
            for t in tasks[account_id][:3]
        )
        fields = {label: a.get(name) for name, label in SF_FIELDS.items() if a.get(name) is not None}
        cards.append(_card(str(a.get("Name")), f"Account · {a.get('External_Id__c')}", fields,
                           f'<h5>Tasks</h5><ul class="tasks">{items}</ul>'))  # fmt: skip
    got = f"{plural(len(ranked) - n, 'more account')} got tasks; " if len(ranked) > n else ""
    more = f'<p class="more">{got}{plural(len(accounts), "account")} updated.</p>'
    return f'<div class="cards">{"".join(cards)}</div>{more}'


def hubspot_section(services: Services, n: int = 3) -> str:
    companies = [c.properties for c in services.hubspot.store.objects.get("companies", {}).values()]
    ranked = sorted(companies, key=lambda p: -float(p.get("pql_score") or 0))
    cards = [
        _card(str(p.get("name") or p.get("domain") or p.get("product_account_id")),
              f"Company · {p.get('domain') or p.get('product_account_id')}",
              {label: p[name] for name, label in HS_FIELDS.items() if p.get(name) not in (None, "")})
        for p in ranked[:n]
    ]  # fmt: skip
    more = f'<p class="more">{plural(len(companies), "company", "companies")} updated.</p>'
    return f'<div class="cards">{"".join(cards)}</div>{more}'


def email_section(services: Services, zone: ZoneInfo, n: int = 3) -> str:
    """The emails the SMTP emulator accepted, newest first, as a mail client shows them: subject, from, to,
    the time it arrived in the recipients' zone, and the plain-text body wrapped to the reading pane (a long
    link breaks rather than widening the page; the HTML part carries the same content)."""
    received = list(services.email.messages) if services.email is not None else []
    if not received:
        return "<p>No email was sent: no recipient who prefers email had an alert.</p>"
    parts = []
    for r in received[::-1][:n]:
        m = r.message
        body = m.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""
        when = dt.datetime.fromtimestamp(r.received_at, zone)
        head = "".join(
            f"<dt>{k}</dt><dd>{html.escape(str(v))}</dd>"
            for k, v in (("From", m["From"]), ("To", m["To"]), ("Date", f"{when:%a %b %-d, %-I:%M %p} {when.tzname()}"))
        )
        parts.append(
            f'<article class="mail"><h4>{html.escape(str(m["Subject"]))}</h4><dl>{head}</dl>'
            f'<pre class="mail-body">{html.escape(text)}</pre></article>'
        )
    return f'<div class="cards">{"".join(parts)}</div>' + _more(len(received) - len(parts), "more email", "sent")


def inapp_section(services: Services, names: dict[str, str], n: int = 4) -> str:
    items = list(services.inapp.records.items())
    rows = "".join(
        f"<tr><td>{html.escape(names.get(str(k), str(k)))}</td><td>{html.escape(str(v.get('pql_score', '')))}</td>"
        f"<td>{html.escape(str(v.get('health_band', '')).replace('_', ' '))}</td>"
        f"<td>{html.escape(str(v.get('campaign', '')))}</td></tr>"
        for k, v in items[:n]
    )
    head = (
        '<tr><th scope="col">account</th><th scope="col">PQL score</th><th scope="col">health band</th>'
        '<th scope="col">campaign</th></tr>'
    )
    return f'<table class="plain">{head}{rows}</table>' + _more(len(items) - n, "more account", "in the audience")


def _more(count: int, noun: str, tail: str, many: str | None = None) -> str:
    """'<p>N more nouns tail.</p>' under a sample, or nothing when the sample showed everything (never '0 more'
    or '-1 more')."""
    return f'<p class="more">{plural(count, noun, many)} {tail}.</p>' if count > 0 else ""


def landed_page(
    services: Services, timeline: Sequence[tuple[dt.datetime, str]], zone: ZoneInfo, names: dict[str, str]
) -> str:
    """The page; `names` maps account id -> account name (the warehouse's accounts)."""
    steps = "".join(
        f'<li><time datetime="{at.isoformat()}">{at.astimezone(zone):%a %-I:%M %p}</time> {html.escape(what)}</li>'
        for at, what in timeline
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>syncer demo: what landed</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head><body>
<header><h1>What landed</h1><p>Two live days of syncer on the demo's emulators, as the reps and the CRMs saw
them. Times are {zone.key} (the recipients' zone).</p></header><main>
<section class="card"><h2>Timeline</h2><ol class="timeline">{steps}</ol></section>
<section class="card"><h2>Slack</h2>{slack_section(services, zone)}</section>
<section class="card"><h2>Salesforce: Accounts with the fields syncer wrote and its tasks</h2>
{salesforce_section(services, zone)}</section>
<section class="card"><h2>HubSpot: companies</h2>{hubspot_section(services)}</section>
<section class="card"><h2>Email (a CSM who prefers email, over SMTP)</h2>{email_section(services, zone)}</section>
<section class="card"><h2>In-app messages (low PQL tier, webhook)</h2>{inapp_section(services, names)}</section>
</main></body></html>
"""
