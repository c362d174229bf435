"""Salesforce connector against the HTTPS emulator: auth flows, collections, errors, retries, check()."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from syncer_connectors.salesforce.connector import SalesforceConnector
from syncer_connectors.salesforce.settings import SalesforceSettings

from syncer.connector import Destination, Record
from syncer.emulator import Fault
from syncer.errors import FatalError
from syncer.registry import load
from syncer.retry import no_wait
from tests.contract.harness_salesforce import USERNAME, Harness

ACCOUNT = Destination(
    "Account",
    "External_Id__c",
    fields={"Name": "fields.name", "PQL_Score__c": "fields.pql_score", "PQL_Tier__c": "fields.pql_tier"},
)


@pytest.fixture(scope="module")
def running_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = Harness()
    harness.start(tmp_path_factory.mktemp("salesforce"))
    yield harness
    harness.stop()


@pytest.fixture
def org(running_org: Harness) -> Harness:
    """The module's emulator, emptied: one HTTPS server per module keeps the suite fast."""
    running_org.emulator.reset()
    return running_org


def connect(org: Harness, destination: Destination = ACCOUNT, **overrides: Any) -> SalesforceConnector:
    settings = SalesforceSettings.model_validate(org.settings(**overrides))
    return SalesforceConnector(settings, destination, retry=no_wait())


def rec(i: int, **fields: Any) -> Record:
    values = {"Name": f"Account {i}", "PQL_Score__c": float(i), "PQL_Tier__c": "nurture", **fields}
    return Record(f"acct-{i}", "upsert", values, f"fp{i}", f"ik{i}", match_value=f"ext-{i}")


def accounts(org: Harness) -> dict[str, dict[str, Any]]:
    return org.stored()


def test_registered_under_salesforce() -> None:
    assert load("salesforce") is SalesforceConnector


def test_password_flow_logs_in_over_soap_and_reports_api_usage(org: Harness) -> None:
    connector = connect(org)
    assert connector.check() == []
    assert org.emulator.login_count == 1
    assert connector.api_usage is not None and connector.api_usage[1] == org.emulator.daily_limit
    assert connector.stats.calls == 2  # the login and one describe, both through call()


def test_wrong_password_is_fatal(org: Harness) -> None:
    connector = connect(org, password="nope")
    with pytest.raises(FatalError, match="INVALID_LOGIN"):
        connector.send([rec(1)])
    assert connector.check()[0].startswith("auth: Salesforce login (password): INVALID_LOGIN")


def _rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_jwt_bearer_flow_signs_an_assertion_the_org_verifies(org: Harness) -> None:
    private, public = _rsa_pair()
    org.emulator.add_jwt_app("consumer-1", public, {USERNAME})
    auth = {"auth": "jwt", "username": USERNAME, "consumer_key": "consumer-1", "private_key": private}
    connector = connect(org, **auth, password=None, security_token=None)
    assert [r.status for r in connector.send([rec(1)])] == ["ok"]
    other_private, _ = _rsa_pair()
    impostor = connect(org, **{**auth, "private_key": other_private})
    with pytest.raises(FatalError, match="invalid_grant"):
        impostor.send([rec(2)])


def test_client_credentials_flow_uses_basic_auth_on_my_domain(org: Harness) -> None:
    org.emulator.add_client_app("cc-key", "cc-secret")
    auth = {"auth": "client_credentials", "consumer_key": "cc-key", "consumer_secret": "cc-secret", "domain": "acme.my"}
    assert [r.status for r in connect(org, **auth).send([rec(1)])] == ["ok"]
    with pytest.raises(FatalError):
        connect(org, **{**auth, "consumer_secret": "wrong"}).send([rec(2)])


def test_session_flow_works_until_expiry_then_is_fatal(org: Harness) -> None:
    connector = connect(org, auth="session", session_id=org.emulator.issue_session())
    assert [r.status for r in connector.send([rec(1)])] == ["ok"]
    org.emulator.expire_sessions()
    with pytest.raises(FatalError, match="cannot log in again"):
        connector.send([rec(2)])


def test_secrets_never_show_in_settings_repr(org: Harness) -> None:
    settings = SalesforceSettings.model_validate(org.settings())
    assert "s3cret-pw" not in repr(settings) and "TOKEN123" not in repr(settings)


def test_each_flow_names_its_missing_keys() -> None:
    with pytest.raises(ValueError, match="auth = 'jwt' needs consumer_key, private_key"):
        SalesforceSettings.model_validate({"auth": "jwt", "username": "u"})
    with pytest.raises(ValueError, match="needs session_id, instance_url"):
        SalesforceSettings.model_validate({"auth": "session"})


def test_collections_upsert_lands_197_of_200_and_rejects_3_with_the_service_message(org: Harness) -> None:
    records = [rec(i) for i in range(200)]
    records[5] = rec(5, PQL_Tier__c="x" * 41)
    records[77] = rec(77, Bogus__c="nope")
    records[150] = rec(150, Name="")
    connector = connect(org)
    results = connector.send(records)
    rejected = {i: r.reason for i, r in enumerate(results) if r.status == "rejected"}
    assert set(rejected) == {5, 77, 150}
    assert str(rejected[5]).startswith("STRING_TOO_LONG: PQL Tier: data value too large")  # the label
    assert rejected[77] == "INVALID_FIELD: No such column 'Bogus__c' on sobject of type Account"
    assert str(rejected[150]).startswith("REQUIRED_FIELD_MISSING: Required fields are missing")
    assert all(r.status == "ok" and r.dest_id and r.dest_id.startswith("001") for r in results if r.status == "ok")
    stored = accounts(org)
    assert len(stored) == 197 and "ext-5" not in stored and stored["ext-6"]["PQL_Score__c"] == 6.0
    upserts = [p for m, p, _ in org.emulator.requests if m == "PATCH"]
    assert upserts == ["/services/data/v60.0/composite/sobjects/Account/External_Id__c"]  # one call for 200


def test_upsert_updates_in_place_on_the_second_run(org: Harness) -> None:
    connector = connect(org)
    first = connector.send([rec(1), rec(2)])
    second = connector.send([rec(1, PQL_Score__c=99.0), rec(2)])
    assert [r.dest_id for r in first] == [r.dest_id for r in second]
    assert accounts(org)["ext-1"]["PQL_Score__c"] == 99.0 and len(accounts(org)) == 2


def test_update_mode_never_creates(org: Harness) -> None:
    connect(org).send([rec(1), rec(2)])
    update_only = Destination("Account", "External_Id__c", mode="update", fields=ACCOUNT.fields)
    results = connect(org, update_only).send([rec(1, PQL_Score__c=50.0), rec(3), rec(2, PQL_Tier__c="escalate")])
    assert [r.status for r in results] == ["ok", "rejected", "ok"]
    assert "NOT_FOUND" in str(results[1].reason) and "never creates" in str(results[1].reason)
    stored = accounts(org)
    assert sorted(stored) == ["ext-1", "ext-2"]
    assert stored["ext-1"]["PQL_Score__c"] == 50.0 and stored["ext-2"]["PQL_Tier__c"] == "escalate"


def test_insert_mode_creates_missing_and_leaves_existing_alone(org: Harness) -> None:
    existing = connect(org).send([rec(1)])[0].dest_id
    insert_only = Destination("Account", "External_Id__c", mode="insert", fields=ACCOUNT.fields)
    results = connect(org, insert_only).send([rec(1, PQL_Score__c=77.0), rec(2)])
    assert [r.status for r in results] == ["ok", "ok"] and results[0].dest_id == existing
    assert accounts(org)["ext-1"]["PQL_Score__c"] == 1.0 and "ext-2" in accounts(org)


def test_delete_by_dest_id_or_match_value_and_again_is_still_ok(org: Harness) -> None:
    created = connect(org).send([rec(1), rec(2), rec(3)])
    mirror = Destination("Account", "External_Id__c", mode="mirror", fields=ACCOUNT.fields)
    deletes = [
        Record("acct-1", "delete", {}, "", "d1", match_value="ext-1", dest_id=created[0].dest_id),
        Record("acct-2", "delete", {}, "", "d2", match_value="ext-2"),
    ]
    connector = connect(org, mirror)
    assert [r.status for r in connector.send(deletes)] == ["ok", "ok"]
    assert sorted(accounts(org)) == ["ext-3"]
    assert [r.status for r in connector.send(deletes)] == ["ok", "ok"]  # already gone is done
    assert any(m == "DELETE" for m, _, _ in org.emulator.requests)


def test_expired_session_mid_run_logs_in_again_once(org: Harness) -> None:
    connector = connect(org)
    assert [r.status for r in connector.send([rec(1)])] == ["ok"]
    org.emulator.expire_sessions()
    assert [r.status for r in connector.send([rec(2)])] == ["ok"]
    assert org.emulator.login_count == 2
    assert [s for _, _, s in org.emulator.requests].count(401) == 1
    assert connector.stats.retries == 0  # recovered inside the call, not by the runner's retry


def test_daily_quota_exhausted_is_fatal_and_nothing_is_marked_ok(org: Harness) -> None:
    org.emulator.daily_limit = 1
    connector = connect(org)
    assert [r.status for r in connector.send([rec(1)])] == ["ok"]
    with pytest.raises(FatalError, match=r"Salesforce daily API quota exhausted \(api-usage 1/1\)"):
        connector.send([rec(2), rec(3)])
    assert sorted(accounts(org)) == ["ext-1"]
    assert connector.api_usage == (1, 1)


def test_api_reserve_stops_before_the_quota_runs_out(org: Harness) -> None:
    org.emulator.daily_limit = 3
    connector = connect(org, api_reserve=2)
    connector.send([rec(1)])  # leaves 2 of 3: the reserve
    with pytest.raises(FatalError, match="api_reserve"):
        connector.send([rec(2)])
    assert org.emulator.api_used == 1


def test_5xx_and_lost_replies_are_retried_through_send_without_duplicates(org: Harness) -> None:
    org.emulator.faults.add(Fault("status", path="/composite/sobjects", status=503, times=2))
    org.emulator.faults.add(Fault("reset_after_apply", path="/composite/sobjects"))
    org.emulator.faults.add(Fault("reset_before_apply", path="/composite/sobjects"))
    connector = connect(org)
    records = [rec(i) for i in range(30)]
    results = connector.send(records)
    assert [r.status for r in results] == ["ok"] * 30
    assert connector.stats.retries == 4
    assert len(org.emulator.records("Account")) == 30


def test_persistent_5xx_leaves_records_failed_not_lost(org: Harness) -> None:
    org.emulator.faults.add(Fault("status", path="/composite/sobjects", status=500, times=100))
    results = connect(org).send([rec(1), rec(2)])
    assert [r.status for r in results] == ["failed", "failed"]
    assert "HTTP 500" in str(results[0].reason)


def test_check_names_each_bad_mapping_key(org: Harness) -> None:
    bad = Destination(
        "Account",
        "Name",
        fields={"PQL_Scor__c": "fields.pql_score", "Formula_Tier__c": "fields.tier", "Name": "fields.name"},
    )
    problems = connect(org, bad).check()
    assert problems == [
        "fields.pql_score: Account has no field 'PQL_Scor__c'",
        "fields.tier: Account.Formula_Tier__c is not updateable",
        "match_field: Account.Name is not an External ID field (upsert matches on one)",
    ]
    assert connect(org, Destination("Acount", "External_Id__c")).check() == [
        "object: Salesforce has no object 'Acount'"
    ]
