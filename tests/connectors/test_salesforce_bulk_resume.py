"""A Bulk API 2.0 job is uploaded once ("vendorfix2" 4). Before, a transient failure of any call after the upload
(a poll, a result read) or a job outlasting `bulk_timeout` made the send's retry create a new job and upload the
CSV again: 3 jobs for one send, and as Salesforce processes every closed job, the same rows written 3 times. Now
the retry resumes the same job; only a job whose upload failed is replaced, and it is aborted first. The
emulator processes a job when it is closed (as Salesforce does, polled or not), so a second upload shows in
`bulk.rows_written`."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from syncer_connectors.salesforce.connector import SalesforceConnector
from syncer_connectors.salesforce.settings import SalesforceSettings

from syncer.connector import Destination
from syncer.emulator import Fault
from syncer.retry import no_wait
from tests.connectors.test_salesforce import running_org
from tests.connectors.test_salesforce_bulk_failed import rec
from tests.contract.harness_salesforce import Harness

__all__ = ["running_org"]  # the module's HTTPS emulator, shared with test_salesforce.py

JOB = r"/jobs/ingest/\w+/?$"
CONCURRENT = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentPerOrgLongTxn Limit exceeded."}]


@dataclass(frozen=True)
class Case:
    faults: tuple[Fault, ...]
    states: tuple[str, ...]  # every job's final state, in creation order
    timeout: float = 60.0  # bulk_timeout


CASES = {
    "poll refused twice (concurrent limit): the same job is polled again": Case(
        (Fault("status", path=JOB, method="GET", status=403, times=2, body=CONCURRENT),), ("JobComplete",)
    ),
    "result read fails twice (503): the same job's results are read again": Case(
        (Fault("status", path=r"successfulResults", method="GET", status=503, times=2),), ("JobComplete",)
    ),
    "close lands, its reply is lost: the job is asked, not closed again": Case(
        (Fault("reset_after_apply", path=JOB, method="PATCH"),), ("JobComplete",)
    ),
    "close fails before landing: the same job is closed on the retry": Case(
        (Fault("status", path=JOB, method="PATCH", status=503),), ("JobComplete",)
    ),
    "still InProgress at bulk_timeout: the retry keeps polling the same job": Case((), ("JobComplete",), timeout=0.0),
    "upload fails: that job is aborted, a new one carries the rows": Case(
        (Fault("status", path=r"/batches", method="PUT", status=503),), ("Aborted", "JobComplete")
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bulk_job_is_uploaded_once(running_org: Harness, case: str) -> None:
    c = CASES[case]
    org = running_org
    org.emulator.reset()
    for fault in c.faults:
        org.emulator.faults.add(fault)
    overrides = {"bulk_threshold": 1, "bulk_poll_interval": 0.0, "bulk_timeout": c.timeout}
    settings = SalesforceSettings.model_validate(org.settings(**overrides))
    connector = SalesforceConnector(
        settings, Destination("Account", "External_Id__c", fields={"Name": "n"}), no_wait(4)
    )
    results = connector.send([rec(i) for i in range(3)])
    assert [r.status for r in results] == ["ok"] * 3, results
    jobs = list(org.emulator.bulk.jobs.values())
    assert tuple(j.state for j in jobs) == c.states
    assert org.emulator.bulk.rows_written == 3  # each row written once, by one job
    assert sorted(org.stored()) == ["ext-0", "ext-1", "ext-2"]


def test_a_job_that_never_finishes_is_polled_not_uploaded_again(running_org: Harness) -> None:
    """bulk_timeout outlasted on every attempt: the records end failed naming the job, and no second job exists
    (the next run sends them again; Salesforce keeps the first job's results for 7 days)."""
    org = running_org
    org.emulator.reset()
    org.emulator.faults.add(
        Fault("status", path=JOB, method="GET", status=200, times=100, body={"state": "InProgress"})
    )
    settings = SalesforceSettings.model_validate(org.settings(bulk_threshold=1, bulk_poll_interval=0.0, bulk_timeout=0))
    connector = SalesforceConnector(
        settings, Destination("Account", "External_Id__c", fields={"Name": "n"}), no_wait(3)
    )
    results = connector.send([rec(i) for i in range(3)])
    job = next(iter(org.emulator.bulk.jobs))
    assert [r.status for r in results] == ["failed"] * 3, results
    assert all(f"bulk job {job} still InProgress" in (r.reason or "") for r in results), results
    assert len(org.emulator.bulk.jobs) == 1
