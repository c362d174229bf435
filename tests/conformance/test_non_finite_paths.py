"""NaN and infinities on every path that does not go through the conversion table (syncer.non_finite).

Kind: an alert row carries warehouse numbers (value, threshold, previous value, usage context) that
may be NaN or +-inf. Every place such a row becomes text a person reads (Slack alert and digest,
email alert and digest, CRM task subject and body) shows "n/a", never "nan"/"inf"; every structured
payload (Slack message JSON, Salesforce task JSON, HubSpot task properties) is valid JSON (RFC 8259:
no NaN/Infinity tokens) with the value left out. Table-driven: path x non-finite value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from syncer_connectors.email.render import render_alert_email, render_digest_email
from syncer_connectors.hubspot.batch import properties_of
from syncer_connectors.slack import playbook
from syncer_connectors.slack.blocks import render_alert, render_digest

from syncer.alerts.tasks import task_fields, task_text
from syncer.connector import Record
from syncer.non_finite import json_safe
from syncer.values import to_json

NON_FINITE: dict[str, Any] = {
    "float nan": math.nan,
    "float +inf": math.inf,
    "float -inf": -math.inf,
    "Decimal NaN": Decimal("NaN"),
    "Decimal -Infinity": Decimal("-Infinity"),
}
BARE = re.compile(r"\b(nan|inf|infinity|snan)\b", re.IGNORECASE)


def alert_row(bad: Any, trigger: str) -> dict[str, Any]:
    return {
        "account_id": "A1",
        "account_name": "Acme",
        "trigger": trigger,
        "priority": "high",
        "value": bad,
        "threshold": bad,
        "previous_value": bad,
        "seats_used": bad,
        "seat_limit": bad,
        "context": {"seats_used": bad, "context": "seats_used=nan seat_limit=inf"},
        "owner_email": "rep@example.com",
        "crm_url": "https://crm.example.com/A1",
        "fired_at": "2026-03-02T08:00:00Z",
    }


def _email_text(email: Any) -> str:
    return json.dumps(email if isinstance(email, dict) else vars(email) if hasattr(email, "__dict__") else list(email))


# path -> (alert row -> (human text, structured JSON payload or None))
PATHS: dict[str, Callable[[dict[str, Any]], tuple[str, Any]]] = {
    "slack alert": lambda a: (lambda t, b: (t + json.dumps(b), b))(*render_alert(a)),
    "slack digest": lambda a: (
        "".join(t for t, _ in render_digest("U1", [a, alert_row(3, "usage_drop")])),
        [b for _, b in render_digest("U1", [a, alert_row(3, "usage_drop")])],
    ),
    "email alert": lambda a: (str(render_alert_email(a)), None),
    "email digest": lambda a: (str(render_digest_email("rep@example.com", [a])), None),
    "task text (fallback wording)": lambda a: (" ".join(task_text(a, None)), None),
    "task text (playbook wording)": lambda a: (" ".join(task_text(a, playbook)), None),
    "hubspot task properties": lambda a: (
        json.dumps(
            p := properties_of(Record("k", "upsert", {**task_fields("hubspot", a, _due()), "n": a["value"]}, "f", "k"))
        ),
        p,
    ),
    "salesforce task JSON": lambda a: (
        to_json(f := task_fields("salesforce", a, _due(), words=playbook)),
        f,
    ),
    "slack message payload": lambda a: (
        "",
        json_safe({"text": "x", "metadata": {"event_payload": {"key": "k", "v": a["value"]}}, "list": [a["value"], 1]}),
    ),
}


def _due() -> Any:
    import datetime as dt

    return dt.date(2026, 3, 9)


@pytest.mark.parametrize("trigger", ["seat_limit_approaching", "usage_drop"])
@pytest.mark.parametrize("bad", list(NON_FINITE))
@pytest.mark.parametrize("path", list(PATHS))
def test_non_finite_numbers_read_na_and_never_break_json(path: str, bad: str, trigger: str) -> None:
    text, structured = PATHS[path](alert_row(NON_FINITE[bad], trigger))
    assert not BARE.search(text), text  # never "nan" / "inf" where a person reads it
    if structured is not None:
        wire = json.dumps(structured, allow_nan=False, default=str)  # raises on NaN / Infinity
        assert not BARE.search(wire), wire
    if path.startswith(("slack alert", "email alert", "task text")):
        assert "n/a" in text, text


def test_webhook_alert_payload_with_nan_is_valid_json() -> None:
    """Tier webhooks carry untyped alert payloads: the receiver gets valid JSON without the NaN."""
    from syncer_connectors.webhook.connector import WebhookConnector, WebhookSettings
    from syncer_connectors.webhook.emulator import WebhookReceiver

    from syncer.connector import Destination

    with WebhookReceiver("s3cret-hook") as rx:
        settings = WebhookSettings(url=f"{rx.base_url}/hooks", signing_secret="s3cret-hook")  # type: ignore[arg-type]
        hook = WebhookConnector(settings, Destination("alerts", "key"))
        try:
            [result] = hook.send([Record("k1", "upsert", {"value": math.nan, "threshold": 0.8}, "f", "k1")])
        finally:
            hook.close()
        assert result.status == "ok", result
        assert rx.records["k1"] == {"threshold": 0.8}  # NaN left out, the rest delivered


def test_json_safe_drops_non_finite_from_objects_and_nulls_them_in_lists() -> None:
    payload = {"a": math.nan, "b": [math.inf, 1, Decimal("NaN")], "c": {"d": Decimal("-Infinity"), "e": "ok"}}
    assert json_safe(payload) == {"b": [None, 1, None], "c": {"e": "ok"}}
