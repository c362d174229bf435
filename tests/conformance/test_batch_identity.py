"""The engine's guard against two records for one destination identity (syncer.batch_identity).

Kind: records whose match values are equal under the destination's comparison reach one batch (or
two batches of one run) because the warehouse check did not group them, e.g. SQLite's LOWER() folds
ASCII only, so 'ÉCOLE-1' and 'école-1' pass it while HubSpot compares them case-insensitively.
Sent together, HubSpot answers the batch 400 and the split retry lets the last row win. Every such
record is rejected naming the others' keys, and no write (whole batch or split half) ever carries
two records for one identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from syncer.batch_identity import IdentityGuard
from syncer.connector import Connector, ConnectorSettings, Destination, Record, Result
from syncer.errors import RejectedError
from syncer.identity import match_comparison_key
from tests.conformance.test_identities import _accounts, hubspot

__all__ = ["hubspot"]


class Recording(Connector):
    """Answers a batch holding two records for one identity as HubSpot does: 400 for the whole batch."""

    name = "recording"
    batch_size = 100
    casefold: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__(ConnectorSettings(), Destination("companies", "syncer_key"))
        self.writes: list[list[str]] = []

    def check(self) -> list[str]:
        return []

    def match_casefold(self) -> bool:
        return self.casefold

    def write(self, batch: Sequence[Record]) -> list[Result]:
        values = [str(r.match_value) for r in batch if r.op == "upsert"]
        self.writes.append(values)
        compared = [match_comparison_key(v, self.casefold) for v in values]
        if len(set(compared)) < len(compared):
            raise RejectedError("VALIDATION_ERROR: Duplicate IDs found in batch input")
        return [Result.ok(r, f"id-{r.match_value}") for r in batch]


def rec(key: str, match: str | None, op: str = "upsert") -> Record:
    return Record(key, op, {"name": key}, "fp", key, match_value=match)  # type: ignore[arg-type]


# case -> (casefold, batches of (key, match value[, op]), {key: expected status}, {rejected key: keys named})
CASES: dict[str, tuple[bool, list[list[tuple[str, ...]]], dict[str, str], dict[str, list[str]]]] = {
    "exact duplicate": (
        False,
        [[("1", "acme"), ("2", "acme"), ("3", "beta")]],
        {"1": "rejected", "2": "rejected", "3": "ok"},
        {"1": ["2"], "2": ["1"]},
    ),
    "case variants, destination folds case": (
        True,
        [[("1", "SF-1"), ("2", "sf-1"), ("3", "SF-1"), ("4", "SF-2")]],
        {"1": "rejected", "2": "rejected", "3": "rejected", "4": "ok"},
        {"1": ["2", "3"], "2": ["1", "3"], "3": ["1", "2"]},
    ),
    "non-ASCII case variants, destination folds case": (
        True,
        [[("1", "ÉCOLE-1"), ("2", "école-1"), ("3", "beta")]],
        {"1": "rejected", "2": "rejected", "3": "ok"},
        {"1": ["2"], "2": ["1"]},
    ),
    "case variants, destination compares exactly": (
        False,
        [[("1", "SF-1"), ("2", "sf-1")]],
        {"1": "ok", "2": "ok"},
        {},
    ),
    "second batch of the run, same identity": (
        True,
        [[("1", "acme"), ("2", "beta")], [("3", "ACME"), ("4", "gamma")]],
        {"1": "ok", "2": "ok", "3": "rejected", "4": "ok"},
        {"3": ["1"]},
    ),
    "the same key again in a later batch is no collision": (
        True,
        [[("1", "acme")], [("1", "acme")]],
        {"1": "ok"},
        {},
    ),
    "deletes are addressed by id, not checked": (
        True,
        [[("1", "acme", "delete"), ("2", "acme")]],
        {"1": "ok", "2": "ok"},
        {},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_one_record_per_destination_identity(case: str) -> None:
    casefold, batches, expected, named = CASES[case]
    connector = Recording()
    connector.casefold = casefold
    guard = IdentityGuard("syncer_key", casefold)
    got: dict[str, Result] = {}
    for batch in batches:
        records = [rec(*r) for r in batch]
        results = guard.send(connector, records)
        assert [r.key for r in results] == [r.key for r in records]  # one result per record, in order
        got |= {r.key: r for r in results}
    assert {k: r.status for k, r in got.items()} == expected
    for key, others in named.items():
        reason = got[key].reason or ""
        assert "duplicate match value" in reason and "syncer_key" in reason, reason
        assert all(repr(o) in reason for o in others), reason
    for write in connector.writes:  # no write, whole or split half, carries two records for one identity
        compared = [match_comparison_key(v, casefold) for v in write]
        assert len(set(compared)) == len(compared), write


def test_without_the_guard_the_split_retry_merges() -> None:
    """The failure the guard prevents: whole batch refused, halves succeed one by one."""
    connector = Recording()
    results = connector.send([rec("1", "ÉCOLE-1"), rec("2", "école-1")])
    assert [r.status for r in results] == ["ok", "ok"]  # both 'succeed': one destination record, last wins
    assert connector.writes == [["ÉCOLE-1", "école-1"], ["ÉCOLE-1"], ["école-1"]]


def test_what_sqlite_lower_misses_is_rejected_end_to_end(hubspot: tuple[Any, Any], tmp_path: Path) -> None:
    """SQLite's LOWER() folds ASCII only, so a GROUP BY in the warehouse let 'ÉCOLE-1' / 'école-1'
    through (the batch guard above caught them at the destination); HubSpot compares unique values
    case-insensitively. The identity check compares Python's `str.lower` of the canonical values
    (`columnar.key_scan`), so the plan already rejects both, and the run names each in the other's
    reason and sends neither."""
    project, emu = hubspot
    _accounts(project.warehouse_url, [(1, "ÉCOLE-1", "Ecole A"), (2, "école-1", "Ecole B"), (3, "beta", "Beta")])
    code, plan, err = project.cli("plan", "accounts", "--json")
    assert code == 0 and plan["bad_rows"] == 2, (plan, err)
    code, summary, err = project.cli("run", "accounts", "--json")
    assert code == 1, (summary, err)
    assert (summary["succeeded"], summary["rejected"]) == (1, 2), summary
    assert set(emu.stored("companies", "syncer_key")) == {"beta"}  # nothing merged, nothing sent for them
    code, audit, _ = project.cli("audit", "accounts", "--status", "rejected", "--json")
    reasons = {a["key"]: a["reason"] for a in audit}
    assert sorted(reasons) == ["1", "2"], audit
    assert "'2'" in reasons["1"] and "'1'" in reasons["2"], reasons
