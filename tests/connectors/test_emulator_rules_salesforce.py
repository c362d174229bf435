"""The Salesforce emulator refuses what Salesforce refuses: one row per rule, over real HTTP.

Rules and their sources: connectors/salesforce/emulator_rules.py, emulator_writes.py and the
connector README ("Emulator rules").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from syncer_connectors.salesforce.emulator import SalesforceEmulator
from syncer_connectors.salesforce.emulator_schema import FieldSpec

API = "/services/data/v60.0"


@pytest.fixture(scope="module")
def running() -> Iterator[SalesforceEmulator]:
    emu = SalesforceEmulator()
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def sf(running: SalesforceEmulator) -> SalesforceEmulator:
    running.reset()
    return running


def call(emu: SalesforceEmulator, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {emu.issue_session()}", **kwargs.pop("headers", {})}
    return httpx.request(method, f"{emu.base_url}{API}/{path}", headers=headers, timeout=5, **kwargs)


def upsert(emu: SalesforceEmulator, *records: dict[str, Any]) -> httpx.Response:
    body = {"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "Name": "n", **r} for r in records]}
    return call(emu, "PATCH", "composite/sobjects/Account/External_Id__c", json=body)


def codes(response: httpx.Response) -> list[str | None]:
    return [None if item["success"] else item["errors"][0]["statusCode"] for item in response.json()]


RECORD_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    # rule, field values of one record, expected statusCode (None: accepted)
    ("text within length", {"PQL_Tier__c": "x" * 40}, None),
    ("text over length", {"PQL_Tier__c": "x" * 41}, "STRING_TOO_LONG"),
    ("restricted picklist value", {"Plan__c": "Pro"}, None),
    ("restricted picklist other value", {"Plan__c": "Platinum"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
    ("restricted picklist wrong case", {"Plan__c": "pro"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
    ("unrestricted picklist takes any value", {"Industry": "Aerospace"}, None),
    ("number within precision", {"Employees__c": 99_999_999}, None),
    ("number beyond precision", {"Employees__c": 100_000_000}, "NUMBER_OUTSIDE_VALID_RANGE"),
    ("number beyond precision - scale", {"PQL_Score__c": 1e17}, "NUMBER_OUTSIDE_VALID_RANGE"),
    ("numeric string", {"PQL_Score__c": "55.5"}, None),
    ("exponent is JSON", {"PQL_Score__c": 1e-07}, None),
    ("unknown field", {"Bogus__c": 1}, "INVALID_FIELD"),
    ("read-only field", {"Formula_Tier__c": "A"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
    ("required field empty", {"Name": ""}, "REQUIRED_FIELD_MISSING"),
]


@pytest.mark.parametrize(("rule", "values", "expected"), RECORD_CASES, ids=[c[0] for c in RECORD_CASES])
def test_record_rule(sf: SalesforceEmulator, rule: str, values: dict[str, Any], expected: str | None) -> None:
    response = upsert(sf, {"External_Id__c": "ok-1"}, {"External_Id__c": "case-1", **values})
    assert response.status_code == 200
    assert codes(response) == [None, expected]  # the other record proceeds (allOrNone false)
    item = response.json()[1]
    if expected is not None:
        assert item["errors"][0]["fields"] and item["errors"][0]["message"]


REQUEST_CASES: list[tuple[str, bytes]] = [
    # rule, raw body: the whole request fails 400 JSON_PARSER_ERROR, nothing is written
    ("NaN literal", b'{"allOrNone":false,"records":[{"attributes":{"type":"Account"},"Name":"a","PQL_Score__c":NaN}]}'),
    ("Infinity literal", b'{"records":[{"attributes":{"type":"Account"},"Name":"a","PQL_Score__c":Infinity}]}'),
    ("text into a number", b'{"records":[{"attributes":{"type":"Account"},"Name":"a","PQL_Score__c":"high"}]}'),
    ("'NaN' string into a number", b'{"records":[{"attributes":{"type":"Account"},"Name":"a","PQL_Score__c":"NaN"}]}'),
    ("boolean into a number", b'{"records":[{"attributes":{"type":"Account"},"Name":"a","PQL_Score__c":true}]}'),
    ("truncated JSON", b'{"records":[{"attributes":{"type":"Account"},'),
]


@pytest.mark.parametrize(("rule", "raw"), REQUEST_CASES, ids=[c[0] for c in REQUEST_CASES])
def test_unreadable_request_fails_whole(sf: SalesforceEmulator, rule: str, raw: bytes) -> None:
    good = b'{"attributes":{"type":"Account"},"Name":"b","External_Id__c":"good"},'
    body = raw.replace(b'"records":[', b'"records":[' + good, 1)
    response = call(
        sf,
        "PATCH",
        "composite/sobjects/Account/External_Id__c",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == "JSON_PARSER_ERROR" and error["message"]
    assert sf.records("Account") == []


def test_nan_on_the_single_record_upsert_fails_too(sf: SalesforceEmulator) -> None:
    response = call(
        sf,
        "PATCH",
        "sobjects/Account/External_Id__c/SF-1",
        content=b'{"Name":"a","PQL_Score__c":NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert response.json()[0]["message"].startswith("Unexpected character ('N' (code 78))")


def test_duplicate_external_ids_in_one_request_fail_those_records(sf: SalesforceEmulator) -> None:
    response = upsert(
        sf,
        {"External_Id__c": "SF-1"},
        {"External_Id__c": "SF-2"},
        {"External_Id__c": "sf-1"},
        {"External_Id__c": "SF-1"},
    )
    assert codes(response) == ["DUPLICATE_VALUE", None, "DUPLICATE_VALUE", "DUPLICATE_VALUE"]
    error = response.json()[0]["errors"][0]
    assert error == {
        "statusCode": "DUPLICATE_VALUE",
        "message": "Duplicate external id specified: SF-1",
        "fields": ["External_Id__c"],
    }
    assert [r["External_Id__c"] for r in sf.records("Account")] == ["SF-2"]


def test_external_ids_match_case_insensitively(sf: SalesforceEmulator) -> None:
    first = upsert(sf, {"External_Id__c": "SF-1", "PQL_Tier__c": "a"}).json()[0]
    second = upsert(sf, {"External_Id__c": "sf-1", "PQL_Tier__c": "b"}).json()[0]
    assert (first["created"], second["created"], second["id"]) == (True, False, first["id"])
    assert [r["PQL_Tier__c"] for r in sf.records("Account")] == ["b"]


def test_a_case_sensitive_external_id_keeps_sf_1_and_SF_1_apart(sf: SalesforceEmulator) -> None:
    sf.store.objects["Account"].define(
        FieldSpec("External_Id__c", external_id=True, unique=True, case_sensitive=True, length=255)
    )
    response = upsert(sf, {"External_Id__c": "SF-1"}, {"External_Id__c": "sf-1"})
    assert codes(response) == [None, None]
    assert sorted(r["External_Id__c"] for r in sf.records("Account")) == ["SF-1", "sf-1"]
    described = call(sf, "GET", "sobjects/Account/describe").json()
    assert {f["name"]: f["caseSensitive"] for f in described["fields"]}["External_Id__c"] is True


def test_numbers_are_rounded_to_the_scale_and_empty_string_clears(sf: SalesforceEmulator) -> None:
    upsert(sf, {"External_Id__c": "SF-1", "PQL_Score__c": 1.005, "PQL_Tier__c": "hot"})
    assert sf.records("Account")[0]["PQL_Score__c"] == 1.01
    upsert(sf, {"External_Id__c": "SF-1", "PQL_Tier__c": ""})
    assert sf.records("Account")[0]["PQL_Tier__c"] is None


def test_describe_carries_the_real_field_properties(sf: SalesforceEmulator) -> None:
    fields = {f["name"]: f for f in call(sf, "GET", "sobjects/Account/describe").json()["fields"]}
    for name in ("Name", "PQL_Score__c", "Plan__c", "External_Id__c"):
        assert {"type", "length", "precision", "scale", "picklistValues", "nillable", "caseSensitive"} <= set(
            fields[name]
        )
        assert {"externalId", "updateable", "createable", "restrictedPicklist"} <= set(fields[name])
    assert (fields["PQL_Score__c"]["precision"], fields["PQL_Score__c"]["scale"]) == (18, 2)
    assert [v["value"] for v in fields["Plan__c"]["picklistValues"]] == ["Free", "Starter", "Pro", "Enterprise"]
    assert fields["Plan__c"]["restrictedPicklist"] is True and fields["Industry"]["restrictedPicklist"] is False
    assert fields["External_Id__c"]["externalId"] is True and fields["External_Id__c"]["caseSensitive"] is False
    assert fields["Name"]["nillable"] is False and fields["Formula_Tier__c"]["updateable"] is False


def bulk_upsert(emu: SalesforceEmulator, rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    job_id = closed_job(emu, rows)
    while call(emu, "GET", f"jobs/ingest/{job_id}").json()["state"] != "JobComplete":
        pass
    return {
        kind: list(csv.DictReader(io.StringIO(call(emu, "GET", f"jobs/ingest/{job_id}/{kind}").text)))
        for kind in ("successfulResults", "failedResults")
    }


def closed_job(emu: SalesforceEmulator, rows: list[dict[str, str]]) -> str:
    """A Bulk 2.0 upsert job created, `rows` uploaded, closed (UploadComplete); its id."""
    job = call(
        emu,
        "POST",
        "jobs/ingest",
        json={
            "object": "Account",
            "operation": "upsert",
            "externalIdFieldName": "External_Id__c",
            "contentType": "CSV",
        },
    ).json()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    call(
        emu,
        "PUT",
        f"jobs/ingest/{job['id']}/batches",
        content=out.getvalue().encode(),
        headers={"Content-Type": "text/csv"},
    )
    call(emu, "PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    return str(job["id"])


def test_bulk_job_states_and_a_job_held_in_progress(sf: SalesforceEmulator) -> None:
    """Bulk API 2.0 "Job States": UploadComplete -> InProgress -> JobComplete, one step per poll; a held job
    (`bulk.hold_jobs`) stays InProgress, its rows unwritten and its results not served, until `release()`; a job
    closed later but not held lands first. "Close or Abort a Job": only an Open job is aborted here."""
    sf.bulk.hold_jobs = 1
    old = closed_job(sf, [{"External_Id__c": "SF-1", "Name": "old"}])
    new = closed_job(sf, [{"External_Id__c": "SF-1", "Name": "new"}])
    states = [call(sf, "GET", f"jobs/ingest/{old}").json()["state"] for _ in range(3)]
    assert states == ["InProgress"] * 3 and sf.records("Account")[0]["Name"] == "new"
    assert call(sf, "GET", f"jobs/ingest/{old}/successfulResults").status_code == 409
    aborted = call(sf, "PATCH", f"jobs/ingest/{old}", json={"state": "Aborted"})
    assert aborted.status_code == 409 and aborted.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert sf.bulk.release() == [old]
    assert call(sf, "GET", f"jobs/ingest/{old}").json()["state"] == "JobComplete"
    assert sf.records("Account")[0]["Name"] == "old"  # two jobs on one record: no promised order
    assert [call(sf, "GET", f"jobs/ingest/{new}").json()["state"] for _ in range(2)] == ["InProgress", "JobComplete"]


def test_bulk_empty_cell_leaves_the_field_and_na_clears_it(sf: SalesforceEmulator) -> None:
    bulk_upsert(sf, [{"External_Id__c": "SF-1", "Name": "a", "PQL_Tier__c": "hot", "Top_Signal__c": "seats"}])
    bulk_upsert(sf, [{"External_Id__c": "SF-1", "Name": "a", "PQL_Tier__c": "", "Top_Signal__c": "#N/A"}])
    [row] = sf.records("Account")
    assert (row["PQL_Tier__c"], row["Top_Signal__c"]) == ("hot", None)


def test_bulk_rows_get_the_same_rules_as_collections(sf: SalesforceEmulator) -> None:
    results = bulk_upsert(
        sf,
        [
            {"External_Id__c": "SF-1", "Name": "a", "PQL_Score__c": "1"},
            {"External_Id__c": "sf-1", "Name": "b", "PQL_Score__c": "2"},
            {"External_Id__c": "SF-3", "Name": "c", "PQL_Score__c": "high"},
            {"External_Id__c": "SF-4", "Name": "d", "PQL_Score__c": "1e3"},
        ],
    )
    failed = {r["External_Id__c"]: r["sf__Error"].split(":")[0] for r in results["failedResults"]}
    assert failed == {"SF-1": "DUPLICATE_VALUE", "sf-1": "DUPLICATE_VALUE", "SF-3": "INVALID_TYPE_ON_FIELD_IN_RECORD"}
    assert [r["External_Id__c"] for r in results["successfulResults"]] == ["SF-4"]
    assert sf.records("Account")[0]["PQL_Score__c"] == 1000.0  # CSV doubles may use scientific notation
