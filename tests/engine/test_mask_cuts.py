"""A secret is masked before any text holding it is shortened, wrapped or split (leftovers4 #2).

Repro: `syncer.http._short_body` cut an API error body at 300 characters and the mask ran later, on the
error message: a secret straddling the cut left its head in the message, which no mask recognises. The
same held for every cut of text that is masked afterwards: Salesforce's and Slack's error details, a
value's description (`describe_value`, 37 characters), the ops alert's Slack text (3000), the first line
of a driver's error (a secret holding a line break: a PEM key), a table cell wrapped to the terminal.

Each cut is driven with the secret placed across it (1 character, half of it, all but 1 character before
the cut); no 5-character piece of the secret may be left in what comes out.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse
from syncer_connectors.salesforce.client import detail
from syncer_connectors.slack.error_mapping import _detail

from syncer.errors import SyncerError
from syncer.http import raise_for_response
from syncer.ops_alerts import OpsAlert, SlackNotifier
from syncer.secrets import mask
from syncer.source import query_failed
from syncer.tables import MESSAGE, brief, print_table
from syncer.values import describe_value

SECRET = "Zq9-cut-sekret-Xw7"
PEM = "Zq9-pem-line-one\nXw7-pem-line-two"  # a secret with a line break: split, not cut


def _http_body(text: str) -> str:
    try:
        raise_for_response(httpx.Response(400, text=text), "POST /hooks")
    except SyncerError as exc:
        return str(exc)
    raise AssertionError("a 400 raised nothing")


def _salesforce_raw(text: str) -> str:
    response = requests.Response()
    response.status_code, response._content = 400, text.encode()
    return detail(response)


def _salesforce_codes(text: str) -> str:
    import json

    return _salesforce_raw(json.dumps([{"errorCode": "X", "message": text[len("X: ") :]}]))


def _slack_details(text: str) -> str:
    data = {"ok": False, "error": "invalid_blocks", "errors": [text[len(": ") :]]}
    response = SlackResponse(
        client=None, http_verb="POST", api_url="", req_args={}, data=data, headers={}, status_code=200
    )
    return _detail(SlackApiError("invalid_blocks", response))


def _describe(text: str) -> str:
    return describe_value(text)


class _Slack:
    """A Slack connector that keeps what it was asked to post."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def send(self, records: list[Any]) -> list[Any]:
        self.texts.append(records[0].fields["text"])
        return [type("Result", (), {"status": "ok", "reason": None})()]


def _ops_alert(text: str) -> str:
    slack = _Slack()
    head = ":red_circle: syncer s/failed firing: "
    SlackNotifier(slack, "C0OPS").notify(OpsAlert("s", "failed", "firing", text[len(head) :]))  # type: ignore[arg-type]
    return slack.texts[0]


def _driver_error(text: str) -> str:
    return str(query_failed(sa.exc.DBAPIError("SELECT 1", None, Exception(text))))


def _table_cell(text: str) -> str:
    table = Table("key", "value")
    table.add_row("error", text)
    out = io.StringIO()
    print_table(table, Console(file=out, width=40, force_terminal=True, color_system=None))
    return out.getvalue()


@dataclass(frozen=True)
class Cut:
    """One place that shortens text: `at` is where the cut falls in the text `run` is given."""

    run: Callable[[str], str]
    at: int
    secret: str = SECRET


CUTS = {
    "API error body (syncer.http, 300)": Cut(_http_body, 300),
    "Salesforce error text (300)": Cut(_salesforce_raw, 300),
    "Salesforce errorCode list (300)": Cut(_salesforce_codes, 300),
    "Slack error details (500)": Cut(_slack_details, 500),
    "a value's description (37)": Cut(_describe, 37),
    "ops alert Slack text (3000)": Cut(_ops_alert, 3000),
    "a driver error's first line": Cut(_driver_error, 0, PEM),
    "a table cell wrapped to the terminal": Cut(_table_cell, 20),
    "a table's message (tables.brief, 100)": Cut(lambda text: brief(text).plain, MESSAGE),
    "a table's message put on one line": Cut(lambda text: brief(text).plain, 0, PEM),
}


@pytest.fixture(scope="module", autouse=True)
def known() -> Iterator[None]:
    mask.clear()
    mask.add(SECRET)
    mask.add(PEM)
    yield
    mask.clear()


def _placed(cut: Cut, before: int) -> str:
    """Text with `before` characters of the secret in front of the cut and the rest after it (a line
    break is where a multi-line secret is split)."""
    if "\n" in cut.secret:
        return f"connection refused: {cut.secret} (see the server log)"
    return "." * (cut.at - before) + cut.secret + " and more text after it" + "." * 40


def _pieces(secret: str) -> list[str]:
    return [p for line in secret.splitlines() for p in (line[i : i + 5] for i in range(len(line) - 4))]


CASES = [
    (name, before)
    for name, cut in CUTS.items()
    for before in ((0,) if "\n" in cut.secret else (1, len(SECRET) // 2, len(SECRET) - 1))
]


@pytest.mark.parametrize(("name", "before"), CASES, ids=[f"{n} / {b} before" for n, b in CASES])
def test_a_secret_across_a_cut_leaves_no_piece(name: str, before: int) -> None:
    cut = CUTS[name]
    shown = cut.run(_placed(cut, before))
    left = [p for p in _pieces(cut.secret) if p in shown]
    assert not left, f"{left} in {shown!r}"
    assert "*" in shown, shown  # the cut still shows where the secret was
