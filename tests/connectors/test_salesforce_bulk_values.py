"""A value leaves the same Salesforce record whichever path carried it (evaluator finding 4).

Bulk API 2.0 CSV reads some cells specially ("Prepare CSV Files"): a cell of exactly `#N/A` sets the
field to null, an empty cell leaves the field as it is on update, and cells are not trimmed. A
text value `#N/A` therefore cleared the field through Bulk while collections stored the text. Each
value below goes through collections (1 record, under the bulk threshold) and through a Bulk 2.0
job (the emulator enforces the doc's rules), as an update of a record that held "before"; both
must leave the same record.
"""

from __future__ import annotations

from typing import Any

import pytest

from syncer.connector import Record
from tests.connectors.test_salesforce import connect, org, rec, running_org
from tests.contract.harness_salesforce import Harness

__all__ = ["org", "running_org"]  # fixtures shared with test_salesforce.py

# value sent for PQL_Tier__c (a text field) -> what Salesforce must hold afterwards
VALUES: list[tuple[Any, Any]] = [
    ("#N/A", "#N/A"),  # a Bulk CSV cell #N/A would set null
    ("#n/a", "#n/a"),
    (" #N/A ", " #N/A "),
    ("  padded  ", "  padded  "),  # cells are not trimmed
    ('line1\nline2, "quoted"', 'line1\nline2, "quoted"'),
    (' "x" ', ' "x" '),  # a space around a quote is an error in an unquoted cell
    ("ünï 🎉", "ünï 🎉"),
    (None, None),  # null clears: #N/A in the CSV
    ("", None),  # Salesforce stores "" as null (collections); the CSV says #N/A, not an empty cell
]


def _stored_after_update(org: Harness, value: Any, bulk: bool) -> tuple[str, Any]:
    org.emulator.reset()
    connector = connect(org, bulk_threshold=2 if bulk else 10_000)
    before = [rec(i, PQL_Tier__c="before") for i in range(3)]
    assert [r.status for r in connector.send(before)] == ["ok"] * 3
    sent = [rec(0, PQL_Tier__c=value), rec(1), rec(2)] if bulk else [rec(0, PQL_Tier__c=value)]
    result = connector.send(sent)[0]
    jobs = sum(1 for m, p, _ in org.emulator.requests if m == "POST" and p.endswith("jobs/ingest"))
    assert jobs == (2 if bulk else 0)  # the other records did go through Bulk 2.0
    return result.status, org.stored()["ext-0"].get("PQL_Tier__c")


@pytest.mark.parametrize(("value", "held"), VALUES, ids=[repr(v) for v, _ in VALUES])
def test_bulk_and_collections_leave_the_same_record(org: Harness, value: Any, held: Any) -> None:
    assert _stored_after_update(org, value, bulk=False) == ("ok", held)
    assert _stored_after_update(org, value, bulk=True) == ("ok", held)


def test_a_match_value_bulk_would_read_as_null_goes_through_collections(org: Harness) -> None:
    connector = connect(org, bulk_threshold=2)
    odd = Record("acct-x", "upsert", {"Name": "Odd", "PQL_Tier__c": "t"}, "fp", "ik", match_value="#N/A")
    results = connector.send([rec(1), odd, rec(2)])
    assert [r.status for r in results] == ["ok"] * 3
    assert org.stored()["#N/A"]["Name"] == "Odd"
    assert {"ext-1", "ext-2"} <= org.stored().keys()
