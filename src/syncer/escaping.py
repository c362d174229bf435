"""User text escaped for the channel that renders it: one function per channel, used everywhere.

Account names, owner names and e-mails, trigger names and error details come from the warehouse or
from other systems; a channel must show them as text, never obey them. Each rendering path builds
its markup from constants and passes every piece of user text through exactly one of these:

    channel                                       function         what it does
    Slack: mrkdwn, plain_text, top-level `text`   slack_text       & < > -> &amp; &lt; &gt;
    Slack: a name inside a line                   slack_line       one line, then slack_text
    HTML (email HTML part)                        html_text        & < > " ' -> entities
    HTML with line breaks (HubSpot task notes)    html_lines       html_text, newlines -> <br>
    one-line plain text (email subject, CRM       one_line         every run of whitespace or
      task subject, any header)                                    control characters -> one space
    multi-line plain text (email text part,       plain_text       CR LF / CR -> LF; other control
      Salesforce Task Description)                                 characters dropped

A mapped field whose destination renders markup (a Slack message `text`: FieldType.markup) gets
its column values, and the values substituted into its template, escaped by FOR_MARKUP; the
template's own text and constants are the author's markup and stay as written.

Sources: Slack "Formatting text for app surfaces" (escape &, <, > in any text Slack renders, else
`<!channel>` pings a channel and `<@U123>` mentions someone; API-FACTS "Slack mrkdwn"); RFC 5322
(a header is one line: CR/LF in a subject would start new headers); HubSpot's task notes
(`hs_task_body`) are rich text, shown as HTML in the CRM.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable

_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def slack_text(text: object) -> str:
    """Text Slack renders (mrkdwn, plain_text, the message's top-level `text`), shown literally."""
    return str(text).translate(_SLACK)


def slack_line(text: object) -> str:
    """A value shown inside one line of a Slack message: newlines cannot start fake lines or quotes."""
    return slack_text(one_line(text))


def html_text(text: object) -> str:
    """Text inside HTML element content or a quoted attribute."""
    return html.escape(str(text), quote=True)


def html_lines(text: object) -> str:
    """Multi-line text as HTML: escaped, line breaks kept as <br>."""
    return "<br>".join(html_text(line) for line in plain_text(text).split("\n"))


def one_line(text: object) -> str:
    """One line of plain text: whitespace and control characters (CR, LF, TAB, U+2028 ...) collapse
    to single spaces, leading and trailing ones go."""
    cleaned = "".join(" " if _is_control(c) else c for c in str(text))
    return " ".join(cleaned.split())


def plain_text(text: object) -> str:
    """Multi-line plain text: line breaks normalised to LF, other control characters dropped."""
    normalised = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in normalised if c in "\n\t" or not _is_control(c))


# a destination field's markup (syncer.values.FieldType.markup) -> how a mapped column value is escaped
FOR_MARKUP: dict[str, Callable[[object], str]] = {"slack": slack_text, "html": html_text}


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")
