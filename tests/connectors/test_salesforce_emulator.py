"""Emulator behaviours the connector relies on: duplicates, paging, caps, quota header."""

from __future__ import annotations

import requests

from syncer.connector import Destination
from tests.connectors.test_salesforce import ACCOUNT, connect, org, rec, running_org
from tests.contract.harness_salesforce import Harness

__all__ = ["org", "running_org"]  # fixtures shared with test_salesforce.py


def rest(org: Harness, method: str, path: str, **kwargs: object) -> requests.Response:
    token = org.emulator.issue_session()
    url = f"{org.base_url}/services/data/v60.0/{path}"
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, url, headers=headers, verify=org.ca_bundle, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_an_external_id_on_two_records_rejects_the_upsert(org: Harness) -> None:
    for _ in range(2):
        org.emulator.store.insert("Account", {"Name": "Twin", "External_Id__c": "ext-1"})
    result = connect(org).send([rec(1)])[0]
    assert result.status == "rejected" and str(result.reason).startswith("DUPLICATE_EXTERNAL_ID: Account: more than")
    single = rest(org, "PATCH", "sobjects/Account/External_Id__c/ext-1", json={"Name": "x"})
    assert single.status_code == 300 and len(single.json()) == 2


def test_lookups_follow_query_pages(org: Harness) -> None:
    org.emulator.query_page_size = 3
    connect(org).send([rec(i) for i in range(10)])
    update_only = Destination("Account", "External_Id__c", mode="update", fields=ACCOUNT.fields)
    results = connect(org, update_only).send([rec(i, PQL_Score__c=5.0) for i in range(10)])
    assert [r.status for r in results] == ["ok"] * 10
    assert any("/query/01g" in p for _, p, _ in org.emulator.requests)


def test_collections_cap_and_quota_header(org: Harness) -> None:
    body = {"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "Name": "a"}] * 201}
    response = rest(org, "POST", "composite/sobjects", json=body)
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert response.headers["Sforce-Limit-Info"] == f"api-usage=1/{org.emulator.daily_limit}"
    assert rest(org, "GET", "sobjects/Account/describe").headers["Sforce-Limit-Info"].startswith("api-usage=2/")


def test_a_batch_over_200_is_split_into_collections_calls_for_update_mode(org: Harness) -> None:
    connect(org).send([rec(i) for i in range(250)])
    update_only = Destination("Account", "External_Id__c", mode="update", fields=ACCOUNT.fields)
    results = connect(org, update_only).write([rec(i, PQL_Score__c=1.5) for i in range(250)])
    assert [r.status for r in results] == ["ok"] * 250
    assert all(row["PQL_Score__c"] == 1.5 for row in org.emulator.records("Account"))
