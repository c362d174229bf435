"""HubSpot field sync against the loopback emulator: multi-status, strings, modes, check()."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from syncer_connectors.hubspot.batch import to_property_value
from syncer_connectors.hubspot.connector import HubSpotConnector, HubSpotSettings
from syncer_connectors.hubspot.emulator import HubSpotEmulator

from syncer.connector import Destination, Record
from syncer.errors import FatalError
from syncer.ratelimit import RateLimit
from syncer.registry import load

from .test_hubspot_support import COMPANIES, TOKEN, company, make_connector, make_emulator, paths, record


@pytest.fixture
def emu(clock: Any) -> Iterator[HubSpotEmulator]:
    emulator = make_emulator(clock)
    yield emulator
    emulator.stop()


def test_registered_under_hubspot() -> None:
    assert load("hubspot") is HubSpotConnector


def test_three_invalid_among_200_reject_with_hubspots_message_and_197_land(emu: HubSpotEmulator, clock: Any) -> None:
    invalid = {5, 120, 199}
    records = [company(i, pql_score=f"high-{i}") if i in invalid else company(i) for i in range(200)]
    connector = make_connector(emu, clock)
    results = connector.send(records[:100]) + connector.send(records[100:])
    rejected = {i: r for i, r in enumerate(results) if r.status == "rejected"}
    assert set(rejected) == invalid
    for i, result in rejected.items():
        assert result.reason is not None
        assert result.reason.startswith("VALIDATION_ERROR: Property values were not valid")
        assert f"high-{i} was not a valid number." in result.reason
    assert [r.status for i, r in enumerate(results) if i not in invalid] == ["ok"] * 197
    assert all(r.dest_id for r in results if r.status == "ok")
    stored = emu.stored("companies", "syncer_account_id")
    assert len(stored) == 197 and not any(records[i].key in stored for i in invalid)
    assert emu.write_calls == 2  # one batch call each: the 207 is read item by item, not split


def test_property_values_are_sent_as_strings_and_none_clears(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock)
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    first = record("acct-1", {"name": "Acme", "pql_score": 80.0, "is_pql": True, "pql_updated_at": when})
    assert connector.send([first])[0].status == "ok"
    stored = emu.stored("companies", "syncer_account_id")["acct-1"]
    assert stored["pql_score"] == "80" and stored["is_pql"] == "true"
    assert stored["pql_updated_at"] == "2026-03-04T05:06:07.000Z"
    assert all(isinstance(v, str) for v in stored.values())
    cleared = record("acct-1", {"name": "Acme", "pql_score": None, "pql_tier": 72.5})
    assert connector.send([cleared])[0].status == "ok"
    stored = emu.stored("companies", "syncer_account_id")["acct-1"]
    assert "pql_score" not in stored and stored["pql_tier"] == "72.5"
    assert [to_property_value(v) for v in (None, 3, 2.5, False, ["a", "b"])] == ["", "3", "2.5", "false", "a;b"]


def test_upsert_is_idempotent_and_returns_hubspot_ids(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock)
    unkeyed = Record("no-key", "upsert", {"name": "x"}, "fp", "idem", match_value=None)
    first = connector.send([company(i) for i in range(5)] + [unkeyed])
    assert first.pop().reason == "no syncer_account_id to match on"
    again = connector.send([company(i, pql_tier="escalate") for i in range(5)])
    assert [r.dest_id for r in first] == [r.dest_id for r in again]
    stored = emu.stored("companies", "syncer_account_id")
    assert len(stored) == 5 and {v["pql_tier"] for v in stored.values()} == {"escalate"}


def test_update_mode_never_creates(emu: HubSpotEmulator, clock: Any) -> None:
    existing = emu.store.create("companies", {"syncer_account_id": "acct-00001", "pql_score": "1"})
    destination = Destination("companies", "syncer_account_id", mode="update", fields=COMPANIES.fields)
    connector = make_connector(emu, clock, destination)
    results = connector.send([company(1), company(2)])
    assert results[0].status == "ok" and results[0].dest_id == existing.id
    assert results[1].status == "rejected" and "never creates" in (results[1].reason or "")
    stored = emu.stored("companies", "syncer_account_id")
    assert set(stored) == {"acct-00001"} and stored["acct-00001"]["pql_score"] == "1"
    assert not any(p.endswith(("/batch/upsert", "/batch/create")) for p in paths(emu))


def test_insert_mode_creates_only_and_leaves_existing_alone(emu: HubSpotEmulator, clock: Any) -> None:
    emu.store.create("companies", {"syncer_account_id": "acct-00001", "pql_score": "5"})
    destination = Destination("companies", "syncer_account_id", mode="insert", fields=COMPANIES.fields)
    connector = make_connector(emu, clock, destination)
    assert [r.status for r in connector.send([company(1), company(2)])] == ["ok", "ok"]
    stored = emu.stored("companies", "syncer_account_id")
    assert stored["acct-00001"]["pql_score"] == "5" and stored["acct-00002"]["pql_score"] == "2"
    assert not any(p.endswith(("/batch/upsert", "/batch/update")) for p in paths(emu))


def test_delete_archives_by_dest_id_or_match_value(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock)
    created = connector.send([company(1), company(2), company(3)])
    deletes = [record("acct-00001", {}, op="delete", dest_id=created[0].dest_id), record("acct-00002", {}, op="delete")]
    assert [r.status for r in connector.send(deletes)] == ["ok", "ok"]
    assert set(emu.stored("companies", "syncer_account_id")) == {"acct-00003"}


def test_emulator_enforces_batch_cap_and_whole_batch_failure_without_trace_ids(emu: HubSpotEmulator) -> None:
    url = f"{emu.base_url}/crm/v3/objects/companies/batch/upsert"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    inputs = [{"id": f"a{i}", "idProperty": "syncer_account_id", "properties": {}} for i in range(101)]
    over = httpx.post(url, json={"inputs": inputs}, headers=headers)
    assert over.status_code == 400 and over.json()["category"] == "VALIDATION_ERROR"
    assert "correlationId" in over.json()
    bad = [{"id": "a1", "idProperty": "syncer_account_id", "properties": {"nope": "1"}}]
    whole = httpx.post(url, json={"inputs": bad}, headers=headers)
    assert whole.status_code == 400 and "PROPERTY_DOESNT_EXIST" in whole.json()["message"]
    traced = [
        {**bad[0], "objectWriteTraceId": "7"},
        {"id": "a2", "idProperty": "syncer_account_id", "properties": {}, "objectWriteTraceId": "8"},
    ]
    multi = httpx.post(url, json={"inputs": traced}, headers=headers).json()
    assert multi["numErrors"] == 1 and multi["errors"][0]["context"] == {"objectWriteTraceId": ["7"]}
    assert [r["properties"]["syncer_account_id"] for r in multi["results"]] == ["a2"]
    assert emu.stored("companies", "syncer_account_id").keys() == {"a2"}


def test_unique_property_is_enforced(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock)
    created = connector.send([company(1)])
    moved = record("acct-00002", {"syncer_account_id": "acct-00001"})
    result = connector.send([moved])[0]
    assert result.status == "rejected" and "already has that value" in (result.reason or "")
    assert created[0].status == "ok"


def test_bad_token_is_fatal(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock, access_token="wrong")
    with pytest.raises(FatalError, match="401"):
        connector.send([company(1)])
    assert "wrong" not in repr(connector.settings)


def test_check_accepts_a_valid_mapping(emu: HubSpotEmulator, clock: Any) -> None:
    assert make_connector(emu, clock).check() == []


def test_check_names_the_mapping_key_and_non_unique_match_field(emu: HubSpotEmulator, clock: Any) -> None:
    typo = Destination(
        "companies", "domain", fields={**COMPANIES.fields, "pql_scor": "fields.pql_scor", "hs_object_id": "fields.id"}
    )
    problems = make_connector(emu, clock, typo).check()
    assert "fields.pql_scor: companies has no property 'pql_scor' (did you mean 'pql_score'?)" in problems
    assert any(p.startswith("match_field: companies property 'domain' is not unique") for p in problems)
    assert "fields.id: companies property 'hs_object_id' is read-only" in problems
    assert len(problems) == 3


def test_check_reports_bad_credentials_and_unknown_objects(emu: HubSpotEmulator, clock: Any) -> None:
    assert any("401" in p for p in make_connector(emu, clock, access_token="nope").check())
    deals = Destination("deals", "dealname")
    assert make_connector(emu, clock, deals).check() == [
        "object: HubSpot connector writes companies, contacts or tasks, not 'deals'"
    ]


def test_settings_plan_tier_sets_the_limiter(emu: HubSpotEmulator, clock: Any) -> None:
    for tier, calls in (("starter", 100), ("pro", 190), ("enterprise", 190), ("increase", 250)):
        connector = make_connector(emu, clock, plan_tier=tier)
        assert connector.limiter.limit == RateLimit(calls, 10.0)
        # the runner passes a limiter set to the class default: the plan tier still wins
        defaulted = make_connector(emu, clock, limit=HubSpotConnector.rate_limit, plan_tier=tier)
        assert defaulted.limiter.limit == RateLimit(calls, 10.0)
    with pytest.raises(ValueError):
        HubSpotSettings.model_validate({"access_token": "x", "plan_tier": "gold"})
    assert make_connector(emu, clock).effective_batch_size == 100
