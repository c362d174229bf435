"""Bulk API 2.0 path: job lifecycle, polling without sleeping, results joined on the external ID."""

from __future__ import annotations

import pytest
from syncer_connectors.salesforce.connector import SalesforceConnector
from syncer_connectors.salesforce.settings import SalesforceSettings

from syncer.connector import Destination
from syncer.errors import RetryableError
from syncer.retry import RetryPolicy
from tests.connectors.test_salesforce import ACCOUNT, connect, org, rec, running_org
from tests.contract.harness_salesforce import Harness

__all__ = ["org", "running_org"]  # fixtures shared with test_salesforce.py


def test_preferred_batch_size_switches_to_bulk_at_the_threshold(org: Harness) -> None:
    connector = connect(org, bulk_threshold=1000, bulk_batch_size=5000)
    assert connector.preferred_batch_size(999) == 200
    assert connector.preferred_batch_size(1000) == 5000
    update_only = Destination("Account", "External_Id__c", mode="update", fields=ACCOUNT.fields)
    assert connect(org, update_only).preferred_batch_size(50_000) == 200  # bulk is upsert-only
    assert connect(org, Destination("Task", "External_Id__c")).preferred_batch_size(50_000) == 200


def test_bulk_results_are_joined_on_the_external_id_not_input_order(org: Harness) -> None:
    slept: list[float] = []
    policy = RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0, sleep=slept.append)
    settings = SalesforceSettings.model_validate(org.settings(bulk_poll_interval=5.0))
    connector = SalesforceConnector(settings, ACCOUNT, retry=policy)
    bad = {3, 222, 449}
    records = [rec(i, PQL_Tier__c="x" * 41) if i in bad else rec(i) for i in range(450)]
    results = connector.send(records)

    assert {i for i, r in enumerate(results) if r.status == "rejected"} == bad
    assert all(r.status == "ok" for i, r in enumerate(results) if i not in bad)
    reason = str(results[222].reason)
    assert reason.startswith("STRING_TOO_LONG: PQL Tier: data value too large") and not reason.endswith("--")
    ids = {row["External_Id__c"]: row["Id"] for row in org.emulator.records("Account")}
    assert len(ids) == 447
    assert all(results[i].dest_id == ids[f"ext-{i}"] for i in range(450) if i not in bad)
    paths = [(m, p.split("/v60.0/")[-1]) for m, p, _ in org.emulator.requests if "/services/data/" in p]
    assert not any(p.startswith("composite") for _, p in paths)
    assert [m for m, p in paths if p.startswith("jobs/ingest")][:3] == ["POST", "PUT", "PATCH"]
    assert sum(1 for m, p in paths if m == "GET" and p.count("/") == 2) == 2  # InProgress, then JobComplete
    assert slept == [5.0]  # the retry policy's sleep: tests never wait
    assert connector.bulk.last_job is not None and connector.bulk.last_job["numberRecordsFailed"] == 3


def test_unprocessed_bulk_records_fail_first_then_land_on_resend(org: Harness) -> None:
    org.emulator.bulk.leave_unprocessed = 2
    connector = connect(org)
    records = [rec(i) for i in range(300)]
    first = connector.write(records)
    assert sum(r.status == "failed" for r in first) == 2
    assert "not processed" in str(next(r.reason for r in first if r.status == "failed"))
    assert [r.status for r in connector.send(records)] == ["ok"] * 300
    assert len(org.emulator.records("Account")) == 300


def test_bulk_null_clears_a_field_and_empty_leaves_it(org: Harness) -> None:
    connector = connect(org)
    connector.send([rec(i) for i in range(201)])
    records = [rec(i, PQL_Score__c=None) for i in range(201)]
    records[0] = rec(0)
    assert all(r.status == "ok" for r in connector.send(records))
    stored = org.stored()
    assert stored["ext-1"]["PQL_Score__c"] is None and stored["ext-0"]["PQL_Score__c"] == 0.0


def test_a_job_that_does_not_finish_in_time_is_retryable(org: Harness) -> None:
    connector = connect(org, bulk_timeout=0)
    with pytest.raises(RetryableError, match="still InProgress"):
        connector.write([rec(i) for i in range(250)])
