"""Email rendering: the same content as the Slack messages, escaped, grouped and ranked."""

from __future__ import annotations

import re
from collections import Counter
from html import escape
from html.parser import HTMLParser

from syncer_connectors.email.render import render_alert_email, render_digest_email
from syncer_connectors.slack.playbook import DEFAULT_PLAYBOOK, TRIGGERS

from tests.connectors.test_slack_blocks import alerts

ALERT = {
    "alert_id": "acct-1:seat",
    "account_name": "Acme & Sons <script>alert(1)</script>",
    "trigger": "Seat limit approaching",
    "priority": "high",
    "value": 0.85,
    "threshold": 0.8,
    "previous_value": 0.72,
    "owner_email": "anna@example.com",
    "crm_url": 'https://crm.example.com/a/1?x="><b>',
    "fired_at": "2026-11-23T06:00:00Z",
}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.links += [v or "" for k, v in attrs if k == "href"]


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def test_alert_says_what_fired_for_whom_and_what_to_do() -> None:
    subject, text, html = render_alert_email(ALERT)
    assert subject.startswith("[High] Seat limit approaching: Acme & Sons")
    for body in (text, html):
        assert "85% (threshold 80%)" in body
        assert "up from 72% (+13 pts)" in body
        assert "anna@example.com" in body
    playbook = TRIGGERS["seat_limit_approaching"].playbook  # Slack's line, imported, not copied
    assert playbook in text and escape(playbook) in html
    assert 'Open in CRM: https://crm.example.com/a/1?x="><b>' in text
    tags = parse(html)
    assert tags.tags["script"] == 0 and tags.tags["b"] >= 1  # the name's <script> is text, not markup
    assert "&lt;script&gt;" in html
    assert tags.links == ['https://crm.example.com/a/1?x="><b>', 'https://crm.example.com/a/1?x="><b>']


def test_alert_without_owner_or_url_uses_the_general_playbook() -> None:
    subject, text, html = render_alert_email({"account_name": "Beta", "trigger": "custom_signal", "value": 12})
    assert subject == "[Low] Custom signal: Beta (12)"
    assert DEFAULT_PLAYBOOK in text and "unassigned" in text and "Trend:            new" in text
    assert "Open in CRM" not in text and parse(html).links == []


def test_javascript_urls_are_not_linked() -> None:
    _, text, html = render_alert_email({**ALERT, "crm_url": "javascript:alert(1)"})
    assert parse(html).links == [] and "javascript:" not in html and "Open in CRM" not in text


def test_digest_groups_by_priority_and_ranks_by_severity() -> None:
    subject, text, html = render_digest_email("anna@example.com", alerts(12))
    assert subject == "Daily usage digest: 12 alerts (4 high, 6 medium, 2 low)"
    titles = ("Seat limit approaching", "Rapid seat growth", "Premium feature", "High engagement growth")
    for body in (text, html):
        positions = [body.rindex(title) for title in titles]  # rindex: past the summary table
        assert positions == sorted(positions)
        seat = re.findall(r"Acct-(\d{5})", body[body.rindex("Seat limit") : body.rindex("Rapid seat")])
        assert seat == ["00006", "00000"]  # further past its threshold first
    assert "== High · Seat limit approaching (2) ==" in text


def test_digest_of_3000_alerts_lists_each_once() -> None:
    subject, text, html = render_digest_email("anna@example.com", alerts(3000))
    assert subject.startswith("Daily usage digest: 3000 alerts")
    for body in (text, html):
        ids = Counter(re.findall(r"Acct-(\d{5})", body))
        assert len(ids) == 3000 and set(ids.values()) == {1}
    tags = parse(html)
    assert tags.tags["li"] == 3000 and tags.tags["script"] == 0
    assert "Ünïcødé GmbH &amp; &lt;Co&gt;" in html
