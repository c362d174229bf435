"""403 REQUEST_LIMIT_EXCEEDED is not always the daily quota ("vendorfix" 2): Salesforce answers the same code for
the org's 24-hour allocation ("TotalRequests Limit exceeded.") and for its concurrent long-running request
limit ("ConcurrentPerOrgLongTxn Limit exceeded.": 25 requests of 20 s or more, 5 on developer orgs). Before,
every one stopped the sync as "daily API quota exhausted" at api-usage 1/100000. Now the message and the
Sforce-Limit-Info api-usage tell them apart: the daily quota stays fatal, the others are retried with backoff
(the fake clock moves only when the retry policy sleeps) and end `failed` (the next run sends them) when
they outlast the retries. The emulator refuses requests the documented way while long requests run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from syncer_connectors.salesforce.connector import SalesforceConnector
from syncer_connectors.salesforce.settings import SalesforceSettings

from syncer.connector import Destination, Record
from syncer.emulator import Fault
from syncer.errors import FatalError
from syncer.retry import RetryPolicy
from tests.alerts.support import Clock
from tests.connectors.test_salesforce import running_org
from tests.contract.harness_salesforce import Harness

ACCOUNT = Destination("Account", "External_Id__c", fields={"Name": "n"})
COLLECTIONS = r"/composite/sobjects/Account/External_Id__c"


__all__ = ["running_org"]  # the module's HTTPS emulator, shared with test_salesforce.py


@pytest.fixture
def org(running_org: Harness) -> Iterator[tuple[Harness, Clock]]:
    running_org.emulator.reset()
    clock = Clock()
    real, running_org.emulator.clock = running_org.emulator.clock, clock
    yield running_org, clock
    running_org.emulator.clock = real


def rec(i: int) -> Record:
    return Record(f"a{i}", "upsert", {"Name": f"A{i}"}, f"fp{i}", f"ik{i}", match_value=f"ext-{i}")


def limit(message: str, times: int) -> Fault:
    body = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": message}]
    return Fault("status", path=COLLECTIONS, status=403, times=times, body=body)


@dataclass(frozen=True)
class Case:
    arrange: Callable[[Harness], None]  # after one record went through (usage is known)
    expect: str  # "ok" (retried until it went through), "failed" (outlasted the retries) or "fatal"
    said: str  # in the FatalError, or in the failed records' reason
    daily_limit: int = 100_000  # the org's allocation; the first record uses 1 of it


CASES: dict[str, Case] = {
    "concurrent long-running limit, clears in 10 s": Case(lambda h: h.emulator.long_requests(25, 10.0), "ok", ""),
    "developer org: 5 long requests are the limit": Case(
        lambda h: (setattr(h.emulator, "concurrent_limit", 5), h.emulator.long_requests(5, 10.0)), "ok", ""
    ),
    "24 long requests: under the limit, nothing refused": Case(lambda h: h.emulator.long_requests(24, 1e6), "ok", ""),
    "concurrent limit outlasting the retries": Case(
        lambda h: h.emulator.long_requests(25, 1e6),
        "failed",
        "concurrent long-running request limit reached, not the daily quota (api-usage 1/100000)",
    ),
    "ConcurrentRequests message": Case(
        lambda h: h.emulator.faults.add(limit("ConcurrentRequests (Concurrent API Requests) Limit exceeded.", 2)),
        "ok",
        "",
    ),
    "another limit while usage is below the allocation": Case(
        lambda h: h.emulator.faults.add(limit("SomePerHour Limit exceeded.", 2)), "ok", ""
    ),
    "the daily allocation (TotalRequests)": Case(
        lambda h: None,
        "fatal",
        "Salesforce daily API quota exhausted (api-usage 1/1): REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.",
        daily_limit=1,
    ),
    "another message with usage at the allocation": Case(
        lambda h: h.emulator.faults.add(limit("Limit exceeded.", 9)),
        "fatal",
        "Salesforce daily API quota exhausted (api-usage 1/1)",
        daily_limit=1,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_request_limit_exceeded_is_told_apart(org: tuple[Harness, Clock], case: str) -> None:
    harness, clock = org
    c = CASES[case]
    policy = RetryPolicy(max_attempts=4, initial_wait=2.0, max_wait=30.0, sleep=clock.sleep)
    settings = SalesforceSettings.model_validate(harness.settings())
    connector = SalesforceConnector(settings, ACCOUNT, retry=policy)
    harness.emulator.daily_limit = c.daily_limit
    assert [r.status for r in connector.send([rec(1)])] == ["ok"]
    c.arrange(harness)
    if c.expect == "fatal":
        with pytest.raises(FatalError) as stopped:
            connector.send([rec(2), rec(3)])
        assert c.said in str(stopped.value)
        assert sorted(harness.stored()) == ["ext-1"]
        return
    results = connector.send([rec(2), rec(3)])
    assert [r.status for r in results] == [c.expect] * 2, results
    assert all(c.said in (r.reason or "") for r in results if r.status == "failed")
    stored = sorted(harness.stored())
    assert stored == (["ext-1", "ext-2", "ext-3"] if c.expect == "ok" else ["ext-1"])
    if c.expect == "failed":  # the long requests end: the next run sends them, once
        clock.now += 2e6
        assert [r.status for r in connector.send([rec(2), rec(3)])] == ["ok", "ok"]
        assert sorted(harness.stored()) == ["ext-1", "ext-2", "ext-3"]


def test_concurrent_limit_answer_reads_like_salesforce_in_simple_salesforce(org: tuple[Harness, Clock]) -> None:
    """simple-salesforce maps a 403 to SalesforceRefusedRequest; its content is Salesforce's error list."""
    import requests
    from simple_salesforce import Salesforce
    from simple_salesforce.exceptions import SalesforceRefusedRequest

    harness, clock = org
    session = requests.Session()
    session.verify = harness.ca_bundle
    session.trust_env = False
    sf = Salesforce(
        instance_url=harness.base_url, session_id=harness.emulator.issue_session(), session=session, version="60.0"
    )
    harness.emulator.long_requests(25, 30.0)
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.query("SELECT Id FROM Account")
    content: Any = refused.value.content
    assert content[0] == {"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentPerOrgLongTxn Limit exceeded."}
    clock.now += 31
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 0
