"""simple-salesforce (the vendor-ecosystem client syncer's Salesforce connector is built on) against
the Salesforce emulator over HTTPS: describe, SOQL query + queryMore, sObject Collections, single
upsert and Bulk API 2.0, including the errors simple-salesforce maps to its exception types.
If the client can't read an answer, the emulator is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import simple_salesforce.bulk2
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceOperationError,
    SalesforceResourceNotFound,
)
from syncer_connectors.salesforce.emulator import SalesforceEmulator

COLLECTIONS = "composite/sobjects/Account/External_Id__c"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SalesforceEmulator, str, str]]:
    emu = SalesforceEmulator()
    base_url, ca_bundle = emu.start_tls(Path(tmp_path_factory.mktemp("sf-vendor")))
    yield emu, base_url, ca_bundle
    emu.stop()


@pytest.fixture
def sf(running: tuple[SalesforceEmulator, str, str], monkeypatch: pytest.MonkeyPatch) -> Salesforce:
    emu, base_url, ca_bundle = running
    emu.reset()
    monkeypatch.setattr(simple_salesforce.bulk2, "sleep", lambda _seconds: None)  # bulk polling never sleeps
    session = requests.Session()
    session.verify = ca_bundle
    session.trust_env = False  # a REQUESTS_CA_BUNDLE in the environment would override `verify`
    return Salesforce(instance_url=base_url, session_id=emu.issue_session(), session=session, version="60.0")


@pytest.fixture
def emu(running: tuple[SalesforceEmulator, str, str]) -> SalesforceEmulator:
    return running[0]


def collection(*records: dict[str, object]) -> dict[str, object]:
    return {"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "Name": "n", **r} for r in records]}


def test_describe_through_sftype(sf: Salesforce) -> None:
    fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
    assert fields["External_Id__c"]["externalId"] and not fields["External_Id__c"]["caseSensitive"]
    assert fields["Plan__c"]["restrictedPicklist"] and fields["PQL_Score__c"]["scale"] == 2


def test_collections_upsert_create_update_delete_and_query(sf: Salesforce, emu: SalesforceEmulator) -> None:
    emu.query_page_size = 2
    answer = sf.restful(
        COLLECTIONS, method="PATCH", json=collection(*[{"External_Id__c": f"SF-{i}"} for i in range(3)])
    )
    assert [(item["success"], item["created"]) for item in answer] == [(True, True)] * 3
    rows = sf.query_all("SELECT Id, External_Id__c FROM Account WHERE External_Id__c IN ('sf-0','SF-1','SF-2')")
    assert rows["totalSize"] == 3 and len(rows["records"]) == 3  # followed nextRecordsUrl
    ids = [r["Id"] for r in rows["records"]]
    created = sf.restful("composite/sobjects", method="POST", json=collection({"External_Id__c": "SF-9"}))
    assert created[0]["success"] is True
    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "id": ids[0], "PQL_Tier__c": "hot"}]},
    )
    assert updated == [{"id": ids[0], "success": True, "errors": []}]
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(ids)})
    assert [d["success"] for d in deleted] == [True, True, True]


def test_collections_duplicate_external_ids_come_back_per_record(sf: Salesforce) -> None:
    answer = sf.restful(
        COLLECTIONS, method="PATCH", json=collection({"External_Id__c": "SF-1"}, {"External_Id__c": "sf-1"})
    )
    assert [e["statusCode"] for item in answer for e in item["errors"]] == ["DUPLICATE_VALUE", "DUPLICATE_VALUE"]


def test_nan_and_unreadable_values_raise_malformed_request(sf: Salesforce) -> None:
    body = '{"allOrNone":false,"records":[{"attributes":{"type":"Account"},"Name":"a","PQL_Score__c":NaN}]}'
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.restful(COLLECTIONS, method="PATCH", data=body, headers={"Content-Type": "application/json"})
    assert refused.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
    with pytest.raises(SalesforceMalformedRequest) as typed:
        sf.restful(COLLECTIONS, method="PATCH", json=collection({"External_Id__c": "SF-1", "PQL_Score__c": "high"}))
    assert typed.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_single_upsert_and_its_300(sf: Salesforce, emu: SalesforceEmulator) -> None:
    assert sf.Account.upsert("External_Id__c/SF-1", {"Name": "Acme"}) == 201
    assert sf.Account.upsert("External_Id__c/sf-1", {"Name": "Acme 2"}) == 200  # case-insensitive match
    emu.store.insert("Account", {"Name": "Twin", "External_Id__c": "SF-1"})
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Account.upsert("External_Id__c/SF-1", {"Name": "x"})
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Account.upsert("External_Id__c/SF-7", {"Name": "a", "Plan__c": "Platinum"})
    assert refused.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_bulk2_job_with_a_column_naming_no_field_ends_failed(sf: Salesforce, emu: SalesforceEmulator) -> None:
    """Bulk API 2.0 "Job States": Failed, with the reason in the job info's errorMessage (simple-salesforce raises it);
    the unprocessed records are readable and nothing was written."""
    records = [{"External_Id__c": "SF-1", "Name": "a", "Bogus__c": "x"}]
    with pytest.raises(SalesforceOperationError, match="InvalidBatch : Field name not found : Bogus__c"):
        sf.bulk2.Account.upsert(records=records, external_id_field="External_Id__c", wait=0)
    [job_id] = emu.bulk.jobs
    assert "SF-1" in sf.bulk2.Account.get_unprocessed_records(job_id)
    assert emu.records("Account") == []


def test_bulk2_upsert_results_and_na(sf: Salesforce, emu: SalesforceEmulator) -> None:
    records = [
        {"External_Id__c": "SF-1", "Name": "a", "PQL_Tier__c": "hot", "Top_Signal__c": "seats"},
        {"External_Id__c": "SF-2", "Name": "b", "PQL_Tier__c": "x" * 41, "Top_Signal__c": "trial"},
    ]
    [job] = sf.bulk2.Account.upsert(records=records, external_id_field="External_Id__c", wait=0)
    assert (job["numberRecordsProcessed"], job["numberRecordsFailed"]) == (2, 1)
    failed = sf.bulk2.Account.get_failed_records(job["job_id"])
    assert "STRING_TOO_LONG" in failed and "SF-2" in failed
    assert "SF-1" in sf.bulk2.Account.get_successful_records(job["job_id"])
    change = [{"External_Id__c": "SF-1", "Name": "a", "PQL_Tier__c": "", "Top_Signal__c": "#N/A"}]
    sf.bulk2.Account.upsert(records=change, external_id_field="External_Id__c", wait=0)
    [row] = [r for r in emu.records("Account") if r["External_Id__c"] == "SF-1"]
    assert (row["PQL_Tier__c"], row["Top_Signal__c"]) == ("hot", None)  # empty cell unchanged, #N/A cleared


def test_single_record_rest_through_sftype(sf: Salesforce, emu: SalesforceEmulator) -> None:
    """What a person (or a test modelling one) does to one record: create, read by Id and by external
    ID, update, delete, delete again, restore by creating it again. Each answer is parsed by simple-salesforce
    (REST API Developer Guide, "sObject Basic Information", "sObject Rows", "sObject Rows by External ID")."""
    created = sf.Account.create({"Name": "Acme", "External_Id__c": "SF-0001"})
    assert created["success"] is True and created["errors"] == []
    row_id = created["id"]
    by_id = sf.Account.get(row_id)
    assert by_id["attributes"] == {"type": "Account", "url": f"/services/data/v60.0/sobjects/Account/{row_id}"}
    assert (by_id["Id"], by_id["Name"], by_id["External_Id__c"]) == (row_id, "Acme", "SF-0001")
    assert sf.Account.get_by_custom_id("External_Id__c", "sf-0001")["Id"] == row_id  # case-insensitive ext ID
    assert sf.Account.update(row_id, {"Name": "Acme Inc"}) == 204
    assert emu.records("Account")[0]["Name"] == "Acme Inc"
    assert sf.Account.delete(row_id) == 204
    assert emu.records("Account") == []
    cases = [  # (call, exception simple-salesforce raises, errorCode)
        (lambda: sf.Account.get(row_id), SalesforceResourceNotFound, "NOT_FOUND"),
        (lambda: sf.Account.get_by_custom_id("External_Id__c", "SF-0001"), SalesforceResourceNotFound, "NOT_FOUND"),
        (lambda: sf.Account.delete(row_id), SalesforceResourceNotFound, "ENTITY_IS_DELETED"),
        (lambda: sf.Account.create({"Name": "x", "Nope__c": 1}), SalesforceMalformedRequest, "INVALID_FIELD"),
        (lambda: sf.Account.get_by_custom_id("Name", "Acme"), SalesforceMalformedRequest, "INVALID_FIELD"),
    ]
    for call, exception, code in cases:
        with pytest.raises(exception) as raised:
            call()
        assert raised.value.content[0]["errorCode"] == code
    restored = sf.Account.create({"Name": "Acme", "External_Id__c": "SF-0001"})  # a human restores it
    assert restored["id"] != row_id
    assert sf.Account.get_by_custom_id("External_Id__c", "SF-0001")["Id"] == restored["id"]


def test_unknown_route_says_so(sf: Salesforce) -> None:
    """A route the emulator lacks is Salesforce's 404 NOT_FOUND naming the route, not an injected fault."""
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.restful("sobjects/Account/listviews/recent/results", method="GET")
    assert raised.value.content == [
        {
            "message": "The requested resource does not exist: GET "
            "/services/data/v60.0/sobjects/Account/listviews/recent/results",
            "errorCode": "NOT_FOUND",
        }
    ]
