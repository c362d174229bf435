"""The "what landed" page renders Slack's mrkdwn and Block Kit as Slack would, without ever letting text
from the data become markup (a name like `<script>` or `<!channel>` shows as text)."""

from __future__ import annotations

import pytest

from syncer.demo.landed import block_html, mrkdwn

USERS = {"U0OWNER001": "Dana Reyes"}


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*Account 12* crossed", "<b>Account 12</b> crossed"),
        ("_trend_ and ~old~ and `code`", "<i>trend</i> and <s>old</s> and <code>code</code>"),
        ("<https://crm.example/r/1|Acme &amp; Co>", '<a href="https://crm.example/r/1">Acme &amp; Co</a>'),
        ("<@U0OWNER001> please call", '<span class="mention">@Dana Reyes</span> please call'),
        ("<@U0UNKNOWN>", '<span class="mention">@U0UNKNOWN</span>'),
        ("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;"),  # Slack-escaped stays text
        ("&lt;!channel&gt; hi", "&lt;!channel&gt; hi"),
        ("a\nb", "a<br>b"),
        ('<https://x.example/?q="1"|q>', '<a href="https://x.example/?q=&quot;1&quot;">q</a>'),
        ("snake_case_name stays", "snake_case_name stays"),
        ("2 * 3 * 4", "2 * 3 * 4"),
    ],
)
def test_mrkdwn(text: str, html: str) -> None:
    assert mrkdwn(text, USERS) == html


@pytest.mark.parametrize(
    ("block", "contains"),
    [
        ({"type": "header", "text": {"type": "plain_text", "text": "Seat limit: <b>Acme</b>"}}, "&lt;b&gt;Acme"),
        ({"type": "divider"}, '<hr class="sk-divider">'),
        ({"type": "context", "elements": [{"type": "mrkdwn", "text": "Fired *today*"}]}, "Fired <b>today</b>"),
        (
            {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open"},
                                              "url": "https://crm.example/1", "style": "primary"}]},
            '<a class="sk-button primary" href="https://crm.example/1">Open</a>',
        ),
        (
            {"type": "section", "text": {"type": "mrkdwn", "text": "x"},
             "fields": [{"type": "mrkdwn", "text": "*Now*\n86%"}]},
            '<div class="sk-fields"><div><b>Now</b><br>86%</div></div>',
        ),
        ({"type": "unknown_kind"}, ""),
    ],
)  # fmt: skip
def test_blocks(block: dict[str, object], contains: str) -> None:
    out = block_html(block, USERS)
    assert contains in out if contains else out == ""
    assert "<script" not in out and "<b>Acme" not in out
