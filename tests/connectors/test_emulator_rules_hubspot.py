"""The HubSpot emulator refuses what HubSpot refuses: one row per rule, over real HTTP.

Each case is (rule, property, value, expected error code or None when HubSpot accepts it). The
rules and their sources are in connectors/hubspot/emulator_rules.py and the connector README.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.hubspot.emulator_store import CrmStore

TOKEN = "rules-token"
MIDNIGHT_MS = int(datetime(2026, 3, 8, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def running() -> Iterator[HubSpotEmulator]:
    emu = HubSpotEmulator(token=TOKEN)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def hubspot(running: HubSpotEmulator) -> HubSpotEmulator:
    running.store = CrmStore(clock_iso=running.store.clock_iso)  # a fresh portal for every case
    define = running.store.define
    define("companies", "syncer_account_id", "string", unique=True)
    define("companies", "pql_score", "number")
    define("companies", "pql_date", "date")
    define("companies", "pql_at", "datetime")
    define("companies", "is_pql", "bool")
    define("companies", "pql_tier", "enumeration", options=["hot", "warm", "cold"])
    define("companies", "signals", "enumeration", options=["trial", "seats"], field_type="checkbox")
    define("companies", "note", "string")
    define("companies", "pql_formula", "number", read_only=True)
    return running


def post(emu: HubSpotEmulator, path: str, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return httpx.post(f"{emu.base_url}{path}", json=body, headers=headers, timeout=5)


def upsert(emu: HubSpotEmulator, *inputs: dict[str, Any], traced: bool = True) -> httpx.Response:
    items = [
        {"id": f"acct-{i}", "idProperty": "syncer_account_id", "properties": props}
        | ({"objectWriteTraceId": str(i)} if traced else {})
        for i, props in enumerate(inputs)
    ]
    return post(emu, "/crm/v3/objects/companies/batch/upsert", {"inputs": items})


CASES: list[tuple[str, str, str, str | None]] = [
    # rule, property, value, expected error (None: accepted)
    ("number plain", "pql_score", "55.5", None),
    ("number negative integer", "pql_score", "-3", None),
    ("number nan", "pql_score", "nan", "INVALID_DECIMAL"),
    ("number NaN", "pql_score", "NaN", "INVALID_DECIMAL"),
    ("number inf", "pql_score", "inf", "INVALID_DECIMAL"),
    ("number -Infinity", "pql_score", "-Infinity", "INVALID_DECIMAL"),
    ("number exponent", "pql_score", "1e-07", "INVALID_DECIMAL"),
    ("number thousands separator", "pql_score", "1,000", "INVALID_DECIMAL"),
    ("number leading plus", "pql_score", "+5", "INVALID_DECIMAL"),
    ("number surrounding space", "pql_score", " 5", "LEADING_TRAILING_WHITESPACE"),
    ("date YYYY-MM-DD", "pql_date", "2026-03-08", None),
    ("date epoch ms at midnight UTC", "pql_date", str(MIDNIGHT_MS), None),
    ("date ISO at midnight UTC", "pql_date", "2026-03-08T00:00:00.000Z", None),
    ("date epoch ms not midnight", "pql_date", str(MIDNIGHT_MS + 1), "INVALID_DATE"),
    ("date ISO 23:30 no zone", "pql_date", "2026-03-08T23:30:00", "INVALID_DATE"),
    ("date ISO 23:30 UTC", "pql_date", "2026-03-08T23:30:00Z", "INVALID_DATE"),
    ("date midnight in another zone", "pql_date", "2026-03-08T00:00:00+01:00", "INVALID_DATE"),
    ("date impossible day", "pql_date", "2026-02-30", "INVALID_DATE"),
    ("datetime ISO with Z", "pql_at", "2026-03-08T23:30:00.000Z", None),
    ("datetime ISO with offset", "pql_at", "2026-03-08T23:30:00+02:00", None),
    ("datetime epoch ms", "pql_at", str(MIDNIGHT_MS + 1234), None),
    ("datetime ISO without zone", "pql_at", "2026-03-08T23:30:00", "INVALID_DATETIME"),
    ("datetime words", "pql_at", "yesterday", "INVALID_DATETIME"),
    ("bool true", "is_pql", "true", None),
    ("bool false", "is_pql", "false", None),
    ("bool capitalised", "is_pql", "True", "INVALID_BOOLEAN"),
    ("bool digit", "is_pql", "1", "INVALID_BOOLEAN"),
    ("enumeration option", "pql_tier", "hot", None),
    ("enumeration label case", "pql_tier", "Hot", "INVALID_OPTION"),
    ("enumeration unknown", "pql_tier", "lukewarm", "INVALID_OPTION"),
    ("multi-checkbox options", "signals", "trial;seats", None),
    ("multi-checkbox one unknown", "signals", "trial;vip", "INVALID_OPTION"),
    ("string at limit", "note", "x" * 65_536, None),
    ("string over limit", "note", "x" * 65_537, "INVALID_STRING_LENGTH"),
    ("string keeps spaces", "note", "  padded  ", None),
    ("empty clears any type", "pql_date", "", None),
    ("read-only property", "pql_formula", "5", "READ_ONLY_VALUE"),
    ("read-only hs_object_id", "hs_object_id", "5", "READ_ONLY_VALUE"),
    ("unknown property", "pql_scor", "5", "PROPERTY_DOESNT_EXIST"),
]


@pytest.mark.parametrize(("rule", "prop", "value", "expected"), CASES, ids=[c[0] for c in CASES])
def test_property_value_rule(hubspot: HubSpotEmulator, rule: str, prop: str, value: str, expected: str | None) -> None:
    response = upsert(hubspot, {"name": "ok"}, {prop: value})
    body = response.json()
    if expected is None:
        assert response.status_code == 200, body
        stored = hubspot.stored("companies", "syncer_account_id")["acct-1"]
        assert stored.get(prop) == (value or None)
        return
    assert response.status_code == 207, body
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["0"]  # the valid input still lands
    [error] = body["errors"]
    assert error["category"] == "VALIDATION_ERROR" and error["context"]["objectWriteTraceId"] == ["1"]
    assert [(d["code"], d["in"]) for d in error["errors"]] == [(expected, prop)]
    listed = json.loads(error["message"].removeprefix("Property values were not valid: "))
    assert [(p["error"], p["name"], p["isValid"]) for p in listed] == [(expected, prop, False)]
    assert "acct-1" not in hubspot.stored("companies", "syncer_account_id")


def test_an_untraced_batch_with_one_invalid_input_fails_whole_with_400(hubspot: HubSpotEmulator) -> None:
    response = upsert(hubspot, {"pql_score": "1"}, {"pql_score": "nan"}, traced=False)
    body = response.json()
    assert response.status_code == 400
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR" and body["correlationId"]
    assert body["message"].startswith("Property values were not valid: [")
    assert body["errors"] == [
        {
            "message": "nan was not a valid number.",
            "code": "INVALID_DECIMAL",
            "in": "pql_score",
            "context": {"propertyName": ["pql_score"]},
        }
    ]
    assert hubspot.stored("companies", "syncer_account_id") == {}  # nothing applied


def test_a_unique_value_held_by_another_record_is_refused(hubspot: HubSpotEmulator) -> None:
    hubspot.store.define("companies", "domain_key", "string", unique=True)
    assert upsert(hubspot, {"domain_key": "acme.com"}).status_code == 200
    response = post(
        hubspot,
        "/crm/v3/objects/companies/batch/upsert",
        {
            "inputs": [
                {
                    "id": "acct-9",
                    "idProperty": "syncer_account_id",
                    "properties": {"domain_key": "acme.com"},
                    "objectWriteTraceId": "0",
                }
            ]
        },
    )
    assert response.status_code == 207
    assert response.json()["errors"][0]["errors"][0]["code"] == "DUPLICATE_VALUE"
    # the record holding the value may set it again (no clash with itself)
    assert upsert(hubspot, {"domain_key": "acme.com"}).status_code == 200


def test_contact_email_compares_case_insensitively(hubspot: HubSpotEmulator) -> None:
    first = post(
        hubspot,
        "/crm/v3/objects/contacts/batch/upsert",
        {"inputs": [{"id": "Ada@Example.com", "idProperty": "email", "properties": {"firstname": "Ada"}}]},
    )
    again = post(
        hubspot,
        "/crm/v3/objects/contacts/batch/upsert",
        {"inputs": [{"id": "ada@example.com", "idProperty": "email", "properties": {"firstname": "Ada L."}}]},
    )
    assert first.json()["results"][0]["new"] is True
    assert again.json()["results"][0]["new"] is False
    assert again.json()["results"][0]["id"] == first.json()["results"][0]["id"]


def test_property_definitions_carry_the_real_fields(hubspot: HubSpotEmulator) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = httpx.get(f"{hubspot.base_url}/crm/v3/properties/companies", headers=headers, timeout=5).json()
    by_name = {p["name"]: p for p in body["results"]}
    tier, formula, key = by_name["pql_tier"], by_name["pql_formula"], by_name["syncer_account_id"]
    assert (tier["type"], tier["fieldType"]) == ("enumeration", "select")
    assert [o["value"] for o in tier["options"]] == ["hot", "warm", "cold"]
    assert by_name["signals"]["fieldType"] == "checkbox"
    assert (by_name["pql_date"]["type"], by_name["pql_at"]["type"], by_name["is_pql"]["fieldType"]) == (
        "date",
        "datetime",
        "booleancheckbox",
    )
    assert formula["modificationMetadata"]["readOnlyValue"] is True and key["hasUniqueValue"] is True


REQUEST_CASES: list[tuple[str, bytes]] = [
    # rule, raw body: HubSpot's JSON parser refuses the whole request (400, nothing applied)
    ("NaN literal", b'{"inputs":[{"id":"a","idProperty":"syncer_account_id","properties":{"pql_score":NaN}}]}'),
    (
        "Infinity literal",
        b'{"inputs":[{"id":"a","idProperty":"syncer_account_id","properties":{"pql_score":Infinity}}]}',
    ),
    ("truncated JSON", b'{"inputs":[{"id":"a",'),
]


@pytest.mark.parametrize(("rule", "raw"), REQUEST_CASES, ids=[c[0] for c in REQUEST_CASES])
def test_invalid_json_fails_the_whole_request(hubspot: HubSpotEmulator, rule: str, raw: bytes) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    url = f"{hubspot.base_url}/crm/v3/objects/companies/batch/upsert"
    response = httpx.post(url, content=raw, headers=headers, timeout=5)
    body = response.json()
    assert response.status_code == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Invalid input JSON on line 1, column ")
    assert hubspot.stored("companies", "syncer_account_id") == {}


def test_one_batch_naming_a_contact_twice_is_refused_under_hubspots_comparison(hubspot: HubSpotEmulator) -> None:
    inputs = [
        {"id": email, "idProperty": "email", "properties": {"firstname": "Ada"}, "objectWriteTraceId": str(i)}
        for i, email in enumerate(["Ada@Example.com", "ada@example.com"])
    ]
    response = post(hubspot, "/crm/v3/objects/contacts/batch/upsert", {"inputs": inputs})
    assert response.status_code == 400
    assert response.json()["message"] == "Duplicate IDs found in batch input: Ada@Example.com, ada@example.com"
    assert hubspot.stored("contacts", "email") == {}


@pytest.mark.parametrize(
    ("properties", "created"),
    [
        ({"hs_task_subject": "Call", "hs_timestamp": "2026-03-08T00:00:00.000Z"}, True),
        ({"hs_task_subject": "Call"}, False),  # HubSpot tasks guide: hs_timestamp is required
        ({"hs_task_subject": "Call", "hs_timestamp": ""}, False),
    ],
)
def test_a_task_needs_hs_timestamp(hubspot: HubSpotEmulator, properties: dict[str, str], created: bool) -> None:
    body = {"inputs": [{"properties": properties, "objectWriteTraceId": "0"}]}
    response = post(hubspot, "/crm/v3/objects/tasks/batch/create", body)
    assert (response.status_code == 201) is created, response.text
    if not created:
        assert response.json()["errors"][0]["category"] == "VALIDATION_ERROR"
    assert len(hubspot.store.live("tasks")) == int(created)
