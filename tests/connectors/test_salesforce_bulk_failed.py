"""A Bulk API 2.0 job that ends Failed or Aborted ("vendorfix" 3). Before, the job's `state` and `errorMessage`
were ignored: every record became `failed` "record not processed" and every retry uploaded a new job (6 jobs for
one send of a bad column). Now a Failed job's errorMessage is the reason: a cause that cannot clear (InvalidBatch:
a column that names no field) rejects the records after one job, the way collections reject the same column per
record; a transient cause (Timeout, TooManyLockFailure, ExceededQuota) fails them and the retry policy bounds the
jobs; an Aborted job's records are sent again. The emulator ends a job Failed the way Salesforce does for a column
naming no field (InvalidBatch : Field name not found : X), and on demand (`bulk.fail_jobs`, `bulk.abort_jobs`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from syncer_connectors.salesforce.connector import SalesforceConnector
from syncer_connectors.salesforce.emulator import SalesforceEmulator
from syncer_connectors.salesforce.settings import SalesforceSettings

from syncer.connector import Destination, Record
from syncer.retry import no_wait
from tests.connectors.test_salesforce import running_org
from tests.contract.harness_salesforce import Harness

ATTEMPTS = 3  # the retry policy's: at most this many jobs for one send


__all__ = ["running_org"]  # the module's HTTPS emulator, shared with test_salesforce.py


@pytest.fixture
def org(running_org: Harness) -> Harness:
    running_org.emulator.reset()
    return running_org


def rec(i: int, **extra: Any) -> Record:
    return Record(f"a{i}", "upsert", {"Name": f"A{i}", **extra}, f"fp{i}", f"ik{i}", match_value=f"ext-{i}")


@dataclass(frozen=True)
class Case:
    path: str  # "bulk" (bulk_threshold 1) or "collections"
    expect: str  # every record's status
    reason: str  # in every record's reason ("" when ok)
    jobs: int  # bulk jobs the send created
    arrange: Callable[[SalesforceEmulator], None] = lambda _emu: None
    extra: dict[str, Any] | None = None  # fields every record carries besides Name


BOGUS = {"Bogus__c": "x"}  # a column that names no Account field
CASES = {
    "bulk: a column naming no field fails the job, records rejected with its errorMessage": Case(
        "bulk", "rejected", "Failed: InvalidBatch : Field name not found : Bogus__c", 1, extra=BOGUS
    ),
    "collections: the same column is rejected per record": Case(
        "collections", "rejected", "INVALID_FIELD: No such column 'Bogus__c' on sobject of type Account", 0, extra=BOGUS
    ),
    "bulk: InvalidBatch for a field the user cannot see": Case(
        "bulk",
        "rejected",
        "Failed: InvalidBatch : Field name not found : Name",
        1,
        lambda emu: emu.bulk.fail_jobs.append("InvalidBatch : Field name not found : Name"),
    ),
    "bulk: Failed by a timeout once, the next job lands": Case(
        "bulk", "ok", "", 2, lambda emu: emu.bulk.fail_jobs.append("Timeout : batch processing timed out")
    ),
    "bulk: Failed by lock contention every time: failed, bounded by the retry policy": Case(
        "bulk",
        "failed",
        "Failed: TooManyLockFailure : Too many lock failure 200",
        ATTEMPTS,
        lambda emu: emu.bulk.fail_jobs.extend(["TooManyLockFailure : Too many lock failure 200"] * 10),
    ),
    "bulk: the 24-hour job allocation is exceeded: failed": Case(
        "bulk",
        "failed",
        "Failed: ExceededQuota",
        ATTEMPTS,
        lambda emu: emu.bulk.fail_jobs.extend(["ExceededQuota : daily batch allocation exceeded"] * 10),
    ),
    "bulk: Failed with an empty errorMessage once (cause unknown): failed, the next job lands": Case(
        "bulk", "ok", "", 2, lambda emu: emu.bulk.fail_jobs.append("")
    ),
    "bulk: Failed by an unrecognised cause every time: failed with it, bounded by the retry policy": Case(
        "bulk",
        "failed",
        "Failed: UNKNOWN_EXCEPTION : An unexpected error occurred",
        ATTEMPTS,
        lambda emu: emu.bulk.fail_jobs.extend(["UNKNOWN_EXCEPTION : An unexpected error occurred"] * 10),
    ),
    "bulk: Failed with an empty errorMessage every time: failed, saying so": Case(
        "bulk", "failed", "Failed: no errorMessage", ATTEMPTS, lambda emu: emu.bulk.fail_jobs.extend([""] * 10)
    ),
    "bulk: ClientInputError (documented: the input as sent): rejected": Case(
        "bulk",
        "rejected",
        "Failed: ClientInputError",
        1,
        lambda emu: emu.bulk.fail_jobs.append("ClientInputError : bad"),
    ),
    "bulk: Aborted once, sent again": Case("bulk", "ok", "", 2, lambda emu: setattr(emu.bulk, "abort_jobs", 1)),
    "bulk: nothing wrong": Case("bulk", "ok", "", 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_failed_bulk_job_ends_its_records_with_its_reason(org: Harness, case: str) -> None:
    c = CASES[case]
    c.arrange(org.emulator)
    threshold = {"bulk_threshold": 1, "bulk_poll_interval": 0.0} if c.path == "bulk" else {}
    settings = SalesforceSettings.model_validate(org.settings(**threshold))
    destination = Destination("Account", "External_Id__c", fields={"Name": "n", **dict.fromkeys(c.extra or {}, "x")})
    connector = SalesforceConnector(settings, destination, retry=no_wait(ATTEMPTS))
    results = connector.send([rec(i, **(c.extra or {})) for i in range(3)])
    assert [r.status for r in results] == [c.expect] * 3, results
    assert all(c.reason in (r.reason or "") for r in results), results
    assert len(org.emulator.bulk.jobs) == c.jobs
    stored = sorted(org.stored())
    assert stored == (["ext-0", "ext-1", "ext-2"] if c.expect == "ok" else []), stored
