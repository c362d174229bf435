"""User text escaped for its channel, table-driven over every rendering path (issue 12, item 5).

Account names, owner names and trigger names that contain Slack control sequences (`<!channel>`,
`<@U123>`), HTML (`<b>`, `&`), and line breaks go through every path that renders user text: Slack
alert, digest, escalation and ops alert (blocks AND the top-level `text`), e-mail alert and digest
(subject, text part, HTML part), and CRM tasks on the HubSpot and Salesforce emulators (subject,
body). Each path must show the text, never obey it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from syncer_connectors.email.render import render_alert_email, render_digest_email
from syncer_connectors.hubspot.tasks import task_key as hubspot_task_key
from syncer_connectors.salesforce.tasks import task_key as salesforce_task_key
from syncer_connectors.slack.blocks import render_alert, render_digest

from syncer.alerts.escalation import escalation_message
from syncer.connector import Destination, Record, Result
from syncer.escaping import html_lines, html_text, one_line, plain_text, slack_line, slack_text
from syncer.ops_alerts import OpsAlert, SlackNotifier
from tests.connectors.test_hubspot_support import TASKS, make_connector, make_emulator
from tests.connectors.test_salesforce import connect, org, rec, running_org

__all__ = ["org", "running_org"]  # Salesforce emulator fixtures

# name -> what a channel must never receive raw from it
NASTY: dict[str, list[str]] = {
    "<!channel> Acme": ["<!channel>"],
    "<@U123> Corp": ["<@U123>"],
    "Smith & Sons <script>x</script>": ["<script>", "& Sons"],
    "a > b < c": ["> b <"],
    "<https://evil.example|click here>": ["<https://evil"],
    "Acme\nSecond line": ["\n"],
    "Acme\r\nBcc: victim@example.com": ["\r", "\nBcc"],
}
OWNER = "<!here> owner & <@U999>\nx"


def _markup(name: str) -> list[str]:
    """The raw pieces of `name` an HTML channel must not receive as they are."""
    return [raw for raw in NASTY[name] if "<" in raw or "&" in raw]


def _alert(name: str, trigger: str = "seat_limit_approaching") -> dict[str, Any]:
    return {
        "alert_id": "a-1",
        "account_id": "acct-1",
        "account_name": name,
        "trigger": trigger,
        "priority": "high",
        "value": 0.92,
        "threshold": 0.8,
        "previous_value": 0.7,
        "owner_email": OWNER,
        "crm_url": "https://crm.example/acct-1",
        "fired_at": "2026-03-08T09:00:00Z",
    }


def _slack_texts(payload: Any) -> Iterator[str]:
    """Every string Slack renders in a message: the top-level text and every block `text`."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _slack_texts(value)
    elif isinstance(payload, list | tuple):
        for item in payload:
            yield from _slack_texts(item)


class Capture:
    """A slack connector stand-in for SlackNotifier: keeps what it was asked to post."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def send(self, batch: list[Record]) -> list[Result]:
        self.records += batch
        return [Result.ok(r) for r in batch]


def _ops_alert(name: str) -> list[dict[str, Any]]:
    capture = Capture()
    SlackNotifier(capture, "C-OPS").notify(OpsAlert(name, "rejected_share", "firing", f"rows rejected for {name}"))  # type: ignore[arg-type]
    return [capture.records[0].fields]


SLACK_PATHS: dict[str, Callable[[str], Any]] = {
    "alert": lambda name: render_alert(_alert(name)),
    "alert, unknown trigger named like the account": lambda name: render_alert(_alert(name, trigger=name)),
    "digest": lambda name: render_digest(name, [_alert(name), _alert(name + " 2", "api_limit_approaching")]),
    "escalation": lambda name: escalation_message(*render_alert(_alert(name)), "C-ESC", name, 24, name, OWNER),
    "ops alert": _ops_alert,
}


@pytest.mark.parametrize("path", list(SLACK_PATHS))
@pytest.mark.parametrize("name", list(NASTY))
def test_slack_shows_user_text_and_never_obeys_it(path: str, name: str) -> None:
    texts = list(_slack_texts(SLACK_PATHS[path](name)))
    assert texts, path
    joined = "\n\n".join(texts)
    for raw in [*NASTY[name], "<!here>", "<@U999>"]:
        if raw == "\n":
            continue  # mrkdwn uses its own line breaks; the name's are checked below
        assert raw not in joined, (path, raw, texts)
    assert slack_line(name) in joined  # shown, escaped, on one line
    if path != "digest":  # the top-level text (notifications, screen readers) names the account too
        assert slack_line(name) in _top_level_text(SLACK_PATHS[path](name))


def _top_level_text(payload: Any) -> str:
    if isinstance(payload, tuple):  # (text, blocks)
        return str(payload[0])
    if isinstance(payload, list):  # [fields]
        payload = payload[0]
    return str(payload["text"])


EMAIL_PATHS: dict[str, Callable[[str], tuple[str, str, str]]] = {
    "alert": lambda name: render_alert_email(_alert(name)),
    "alert, unknown trigger": lambda name: render_alert_email(_alert(name, trigger=name)),
    "digest": lambda name: render_digest_email(name, [_alert(name), _alert(name, "api_limit_approaching")]),
}


@pytest.mark.parametrize("path", list(EMAIL_PATHS))
@pytest.mark.parametrize("name", list(NASTY))
def test_email_subject_is_one_line_and_html_is_escaped(path: str, name: str) -> None:
    subject, text, html = EMAIL_PATHS[path](name)
    assert "\n" not in subject and "\r" not in subject, subject  # no header injection
    assert "\r" not in text
    assert one_line(name) in text  # the text part shows the name on one line
    body = html.split("<body", 1)[1]
    for raw in _markup(name):
        assert raw not in body, (path, raw)
    assert html_text(one_line(name)) in body
    assert "<!here>" not in body and html_text(one_line(OWNER)) in body


@pytest.mark.parametrize("name", list(NASTY))
def test_hubspot_task_subject_is_one_line_and_notes_are_escaped_html(name: str, clock: Any) -> None:
    emu = make_emulator(clock)
    try:
        emu.store.create("companies", {"syncer_account_id": "acct-1", "name": name})
        connector = make_connector(emu, clock, TASKS)
        body = f"Reach out to {name}.\nOwner: {OWNER}"
        fields = {"subject": f"Seat limit: {name}", "body": body, "company": "acct-1"}
        [result] = connector.send([Record("k-1", "upsert", fields, "fp", "ik", match_value="acct-1")])
        assert result.status == "ok", result
        task = emu.stored("tasks", "syncer_key")[hubspot_task_key("k-1")]
    finally:
        emu.stop()
    assert task["hs_task_subject"] == one_line(f"Seat limit: {name}")
    assert task["hs_task_body"] == html_lines(body)
    for raw in _markup(name):
        assert raw not in task["hs_task_body"], raw


SF_TASKS = Destination(
    "Task",
    "External_Id__c",
    mode="insert",
    fields={"Subject": "alert.subject", "Description": "alert.body", "account_external_id": "alert.account_id"},
)


@pytest.mark.parametrize("name", list(NASTY))
def test_salesforce_task_subject_is_one_line_and_description_plain(name: str, org: Any) -> None:
    connect(org).send([rec(1)])
    description = f"Reach out to {name}.\r\nOwner: {OWNER}"
    fields = {
        "Subject": f"Seat limit: {name}",
        "Description": description,
        "ActivityDate": dt.date(2026, 3, 9),
        "account_external_id": "ext-1",
    }
    [result] = connect(org, SF_TASKS).send([Record("k-1", "upsert", fields, "fp", "ik", match_value="ext-1")])
    assert result.status == "ok", result
    [task] = [t for t in org.emulator.records("Task") if t.get("Syncer_Key__c") == salesforce_task_key("k-1")]
    assert task["Subject"] == one_line(f"Seat limit: {name}")
    assert task["Description"] == plain_text(description) and "\r" not in task["Description"]


@pytest.mark.parametrize(
    ("function", "text", "expected"),
    [
        (slack_text, "<!channel> & <@U1>", "&lt;!channel&gt; &amp; &lt;@U1&gt;"),
        (slack_line, "a\nb\r\n\tc", "a b c"),
        (html_text, "<b>\"x\" & 'y'</b>", "&lt;b&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/b&gt;"),
        (html_lines, "a<b>\r\nc", "a&lt;b&gt;<br>c"),
        (one_line, "Subject\r\nBcc: x@y\u2028z\x00", "Subject Bcc: x@y z"),
        (plain_text, "a\r\nb\rc\x07d\te", "a\nb\ncd\te"),
    ],
)
def test_escape_functions(function: Callable[[str], str], text: str, expected: str) -> None:
    assert function(text) == expected


def test_the_nasty_inputs_are_nasty() -> None:
    """Without escaping, the raw names would reach the channel (the checks above can fail)."""
    for name, raws in NASTY.items():
        assert all(raw in name for raw in raws), name


# -- a mapping-driven Slack sync: the message `text` field is Slack markup --------------------------

MAPPED_TEXT = {
    "column": ({"column": "name"}, lambda name: slack_text(name)),
    "template": (
        {"template": "<!here> {name} crossed {score} & more"},  # the author's markup stays as written
        lambda name: f"<!here> {slack_text(name)} crossed 91 & more",
    ),
    "const": ({"const": "<@U42> daily"}, lambda name: "<@U42> daily"),
}


@pytest.mark.parametrize("source", list(MAPPED_TEXT))
@pytest.mark.parametrize("name", list(NASTY))
def test_mapped_slack_text_escapes_column_values_not_the_authors_markup(source: str, name: str) -> None:
    from syncer_connectors.slack.connector import TEXT_FIELDS

    from syncer.mapping import FieldSpec, Mapper

    spec, expected = MAPPED_TEXT[source]
    mapper = Mapper({"text": FieldSpec(**spec), "channel": FieldSpec(const="C123")}, "id", types=TEXT_FIELDS)
    _, fields = mapper.map({"id": "a-1", "name": name, "score": 91})
    assert fields["text"] == expected(name)
    if source == "column":
        assert all(raw not in fields["text"] for raw in NASTY[name] if "<" in raw or "&" in raw)


def _markup_fields() -> dict[str, Any]:
    """Every mapped field that a destination renders as markup, on every connector (finding 8)."""
    from syncer_connectors.email.connector import EmailConnector, EmailSettings
    from syncer_connectors.hubspot.schema import field_type as hubspot_type
    from syncer_connectors.salesforce.describe import field_type as salesforce_type
    from syncer_connectors.slack.connector import TEXT_FIELDS

    email = EmailConnector(
        EmailSettings(host="127.0.0.1", port=2525, security="none", from_address="alerts@example.com"),
        Destination("emails", "id", "insert", {"to": "to", "subject": "s", "text": "t", "html": "h"}),
    )
    return {
        "slack text": TEXT_FIELDS.get("text"),
        "email html": email.field_types().get("html"),
        "hubspot rich text property": hubspot_type({"type": "string", "fieldType": "html"}),
        "salesforce rich text area": salesforce_type({"type": "textarea", "length": 32768, "htmlFormatted": True}),
    }


MARKUP_FIELDS = _markup_fields()


@pytest.mark.parametrize("source", list(MAPPED_TEXT))
@pytest.mark.parametrize("destination", list(MARKUP_FIELDS))
@pytest.mark.parametrize("name", list(NASTY))
def test_every_markup_field_escapes_column_and_template_values(source: str, destination: str, name: str) -> None:
    from syncer.escaping import FOR_MARKUP
    from syncer.mapping import FieldSpec, Mapper

    field_type = MARKUP_FIELDS[destination]
    assert field_type is not None and field_type.markup is not None, f"{destination} is not typed as markup"
    escape = FOR_MARKUP[field_type.markup]
    spec, _ = MAPPED_TEXT[source]
    _, fields = Mapper({"f": FieldSpec(**spec)}, "id", types={"f": field_type}).map(
        {"id": "a-1", "name": name, "score": 91}
    )
    expected = {
        "column": escape(name),
        "template": f"<!here> {escape(name)} crossed 91 & more",  # the author's own text stays as written
        "const": "<@U42> daily",
    }[source]
    assert fields["f"] == expected


def test_plain_text_fields_are_not_escaped() -> None:
    """Subjects, text parts and ordinary CRM text show the value as it is: escaping there would show
    `&amp;` to the reader."""
    from syncer_connectors.email import connector
    from syncer_connectors.hubspot.schema import field_type as hubspot_type
    from syncer_connectors.salesforce.describe import field_type as salesforce_type

    email = connector.TEXT_FIELDS
    plain = [email["subject"], email["text"], hubspot_type({"type": "string", "fieldType": "text"})]
    plain.append(salesforce_type({"type": "textarea", "length": 32768, "htmlFormatted": False}))
    assert all(t.markup is None for t in plain)
