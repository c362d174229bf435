"""One contract every connector meets, run against each connector's emulator.

Every `tests/contract/harness_<name>.py` present joins automatically. A harness module is imported
inside its own test fixture, so one that does not import fails its own cases only. A harness may
define `match_value(i) -> str` when the service needs a particular shape of match value; otherwise
the record key doubles as the match value.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncer.connector import Connector, Destination, Record, Result
from syncer.ratelimit import RateLimiter
from syncer.registry import load
from syncer.retry import no_wait

from .harness import Harness

HARNESSES = sorted(p.stem for p in Path(__file__).parent.glob("harness_*.py"))


@pytest.fixture(params=HARNESSES)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    module = importlib.import_module(f"{__package__}.{request.param}")
    instance: Harness = module.Harness()
    instance.start(tmp_path)
    try:
        yield instance
    finally:
        instance.stop()


def make_connector(harness: Harness, clock: Any, destination: Destination | None = None) -> Connector:
    cls = load(harness.name)
    settings = cls.settings_model.model_validate(harness.settings())
    limiter = RateLimiter(cls.rate_limit, clock=clock, sleep=clock.sleep)
    return cls(settings, destination or harness.destination(), retry=no_wait(), limiter=limiter)


def make_record(harness: Harness, i: int, fields: dict[str, Any], sync: str = "contract") -> Record:
    match_value = str(getattr(harness, "match_value", lambda i: f"rec-{i:05d}")(i))
    fingerprint = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
    idempotency_key = hashlib.sha256(f"{sync}\x00{match_value}\x00{fingerprint}".encode()).hexdigest()
    return Record(match_value, "upsert", fields, fingerprint, idempotency_key, match_value=match_value)


def send_all(connector: Connector, records: list[Record]) -> list[Result]:
    size = connector.effective_batch_size
    results: list[Result] = []
    for start in range(0, len(records), size):
        results += connector.send(records[start : start + size])
    return results


def assert_landed(harness: Harness, records: list[Record]) -> None:
    """Every record is stored once under its match value, with the values it was sent with."""
    stored = harness.stored()
    for record in records:
        assert record.match_value in stored, f"{record.match_value} did not land"
        got = stored[record.match_value]
        for name, value in record.fields.items():
            assert str(got.get(name)) == str(value), f"{record.match_value}.{name}: {got.get(name)!r}"


def test_upsert_of_250_records_lands_all(harness: Harness, clock: Any) -> None:
    connector = make_connector(harness, clock)
    records = [make_record(harness, i, harness.valid_fields(i)) for i in range(250)]
    before = harness.write_count()
    try:
        results = send_all(connector, records)
    finally:
        connector.close()
    assert [r.status for r in results] == ["ok"] * 250
    assert [r.key for r in results] == [r.key for r in records]
    assert_landed(harness, records)
    assert len(harness.stored()) == 250
    assert harness.write_count() - before >= math.ceil(250 / connector.effective_batch_size)


def test_partial_rejection_rejects_exactly_the_invalid_records(harness: Harness, clock: Any) -> None:
    invalid = {2, 9, 17}
    records = [
        make_record(harness, i, harness.invalid_fields(i) if i in invalid else harness.valid_fields(i))
        for i in range(20)
    ]
    connector = make_connector(harness, clock)
    try:
        results = connector.send(records)
    finally:
        connector.close()
    rejected = {i for i, result in enumerate(results) if result.status == "rejected"}
    assert rejected == invalid
    assert all(results[i].reason for i in invalid), [results[i] for i in invalid]
    assert all(result.status == "ok" for i, result in enumerate(results) if i not in invalid)
    good = [r for i, r in enumerate(records) if i not in invalid]
    assert_landed(harness, good)
    stored = harness.stored()
    assert not any(records[i].match_value in stored for i in invalid)


@pytest.mark.parametrize("fault", ["5xx", "429"])
def test_transient_failures_are_retried_until_all_land(harness: Harness, clock: Any, fault: Any) -> None:
    records = [make_record(harness, i, harness.valid_fields(i)) for i in range(10)]
    connector = make_connector(harness, clock)
    harness.inject(fault, times=2)
    before = harness.write_count()
    try:
        results = connector.send(records)
    finally:
        connector.close()
    assert [r.status for r in results] == ["ok"] * 10
    assert connector.stats.retries >= 2
    assert harness.write_count() - before >= 3
    assert_landed(harness, records)


def test_reset_after_apply_then_resend_converges_without_duplicates(harness: Harness, clock: Any) -> None:
    first = [make_record(harness, i, harness.valid_fields(i)) for i in range(12)]
    connector = make_connector(harness, clock)
    try:
        harness.inject("reset_after_apply")
        results = connector.send(first)  # the write lands, the reply is lost, send() retries
        assert [r.status for r in results] == ["ok"] * 12
        assert connector.stats.retries >= 1
        # a later run resends some of the same records (e.g. after a crash before state advanced)
        harness.inject("reset_after_apply")
        assert [r.status for r in connector.send(first[:6])] == ["ok"] * 6
    finally:
        connector.close()
    assert_landed(harness, first)
    assert sorted(harness.stored()) == sorted(str(r.match_value) for r in first)


def test_check_passes_on_a_valid_destination(harness: Harness, clock: Any) -> None:
    connector = make_connector(harness, clock)
    try:
        assert connector.check() == []
    finally:
        connector.close()


def test_check_names_the_mapping_key_of_an_unknown_field(harness: Harness, clock: Any) -> None:
    good, bad = harness.destination(), harness.bad_field_destination()
    unknown_keys = {key for field, key in bad.fields.items() if good.fields.get(field) != key}
    assert unknown_keys, "bad_field_destination() must add a field the service does not have"
    connector = make_connector(harness, clock, bad)
    try:
        problems = connector.check()
    finally:
        connector.close()
    assert problems
    assert any(key in problem for problem in problems for key in unknown_keys), problems
