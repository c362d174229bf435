"""The conformance corpus: every (sample, destination type, connector path) cell of the conversion
table, end to end through `syncer run` against the loopback emulators, with its expected per-row
outcome (sent as X / omitted / rejected with a reason containing Y). See samples.py,
expectations.py and targets.py to add samples, types or targets.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from syncer_connectors.salesforce.describe import field_type as sf_field_type

from syncer.values import FieldType, Refused, convert

from .expectations import FAMILIES, Omitted, Outcome, Rejected, Sent
from .runner import Observed, cases_of, match_value, run_corpus, same
from .samples import BY_ID, SAMPLES
from .targets import TARGETS, Case, Salesforce

ALL_CASES = [c for target in TARGETS.values() for c in cases_of(target)]


class Runs:
    """One corpus run per target, made the first time a test asks for it."""

    def __init__(self, pg_server: str, base: Path) -> None:
        self.pg_server, self.base, self.done = pg_server, base, {}
        self.targets: dict[str, object] = {}

    def get(self, name: str) -> Observed:
        if name not in self.done:
            target = TARGETS[name]()
            self.targets[name] = target
            root = self.base / name
            root.mkdir()
            self.done[name] = run_corpus(target, root, self.pg_server)
        observed: Observed = self.done[name]
        return observed


@pytest.fixture(scope="module")
def runs(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(pg_server, tmp_path_factory.mktemp("corpus"))


def expected(case: Case) -> Outcome:
    return FAMILIES[case.family][case.sample]


def test_every_family_has_an_expectation_for_every_sample() -> None:
    missing = [(f, s.id) for f, table in FAMILIES.items() for s in SAMPLES if s.id not in table]
    extra = [(f, s) for f, table in FAMILIES.items() for s in table if s not in BY_ID]
    assert not missing and not extra, (missing, extra)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: f"{c.target}-{c.type_id}-{c.sample}")
def test_case(case: Case, runs: Runs) -> None:
    observed = runs.get(case.target)
    want = expected(case)
    field = observed.fields[case.key]
    record = observed.stored.get(match_value(case.key))
    reason = observed.rejects.get(case.key)
    held = str(record.get(field))[:80] if record is not None else None
    if isinstance(want, Rejected):
        assert record is None, f"expected a rejection ({want.why}), but the service holds {held!r}"
        assert reason is not None, "expected a rejection, but nothing was rejected or sent"
        assert want.why in reason and field in reason, reason[:300]
        return
    assert reason is None, f"rejected: {reason}"
    assert record is not None, "not at the service"
    if isinstance(want, Omitted):
        assert record.get(field) is None, f"expected no value, the service holds {held!r}"
    else:
        assert isinstance(want, Sent)
        assert same(want.text, record.get(field)), f"expected {want.text[:60]!r}, stored {held!r}"


@pytest.mark.parametrize("name", list(TARGETS))
def test_a_run_rejects_only_the_bad_rows_and_the_next_run_is_quiet(name: str, runs: Runs) -> None:
    observed = runs.get(name)
    wanted = Counter(type(expected(c)).__name__ for c in observed.cases)
    first, second = observed.first, observed.second
    assert observed.codes == (1, 1), (first, second)  # some rejected, then nothing sent but still out of sync
    assert first["rejected"] == wanted["Rejected"], first
    assert first["succeeded"] == wanted["Sent"] + wanted["Omitted"] + 210, first
    assert first["failed"] == 0 and first["status"] == "partial", first
    assert second["added"] == second["changed"] == second["succeeded"] == second["rejected"] == 0, second
    assert second["status"] == "out_of_sync", second
    target = runs.targets[name]
    if isinstance(target, Salesforce):
        assert (target.bulk_jobs() > 0) == (name == "salesforce_bulk"), "the forced path was not taken"


SF_TYPES_UNIT = {
    "hubspot.string": FieldType("string", "HubSpot string property", text_wire=True, length=65_536),
    "json": FieldType("json", "JSON"),
    "salesforce.email": sf_field_type({"type": "email", "length": 80}),
}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
@pytest.mark.parametrize("family", list(SF_TYPES_UNIT))
def test_the_table_itself_agrees_with_the_corpus(family: str, sample: object) -> None:
    """The same expectations at unit level (no network), for the families with no describe input."""
    assert hasattr(sample, "value")
    want = FAMILIES[family][sample.id]  # type: ignore[attr-defined]
    try:
        got = convert("f", sample.value, SF_TYPES_UNIT[family])  # type: ignore[attr-defined]
    except Refused as exc:
        assert isinstance(want, Rejected) and want.why in str(exc), (want, str(exc))
        assert str(exc).startswith("f: " + sample.kind), str(exc)  # type: ignore[attr-defined]
        return
    if isinstance(want, Omitted):
        assert got is None
    else:
        assert isinstance(want, Sent), (want, got)
        assert same(want.text, got), (want, got)
