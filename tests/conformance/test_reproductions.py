"""The value reproductions of issue 12, each as it was reported, against the emulators and a real
PostgreSQL warehouse: the bad row is rejected with a reason naming the field, the good rows are
synced, the run exits 1, and the next run is quiet. Plus `check` warning about column types and
the Salesforce path parity (collections and Bulk 2.0 leave the same record for the same change).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.salesforce.emulator import SalesforceEmulator
from syncer_connectors.salesforce.emulator_store import FieldSpec

from tests.engine.conftest import Project

from .targets import ENV, HS_TOKEN, SF_PASS, SF_TOKEN, SF_USER


@dataclass
class Crm:
    project: Project
    hubspot: HubSpotEmulator
    salesforce: SalesforceEmulator

    def sql(self, *statements: str) -> None:
        engine = sa.create_engine(self.project.warehouse_url)
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
        engine.dispose()

    def mapping(self, name: str, body: str) -> None:
        (self.project.root / "mappings" / f"{name}.toml").write_text(textwrap.dedent(body))

    def run(self, sync: str) -> tuple[int, dict[str, Any]]:
        code, out, err = self.project.cli("run", sync, "--json")
        assert isinstance(out, dict), (out, err)
        return code, out

    def rejected(self, sync: str) -> dict[str, str]:
        code, rows, err = self.project.cli("audit", sync, "--status", "rejected", "--json")
        assert code == 0 and isinstance(rows, list), err
        return {str(r["key"]): str(r["reason"]) for r in rows}

    def sf_accounts(self) -> dict[str, dict[str, Any]]:
        return {str(r["External_Id__c"]): r for r in self.salesforce.records("Account")}

    def hs_companies(self) -> dict[str, dict[str, str]]:
        return self.hubspot.stored("companies", "syncer_id")


@pytest.fixture
def crm(tmp_path: Path, pg_url: str) -> Iterator[Crm]:
    hubspot = HubSpotEmulator(plan="increase", token=HS_TOKEN)
    for name, kind, unique in (("syncer_id", "string", True), ("pql_score", "number", False)):
        hubspot.store.define("companies", name, kind, unique=unique)
    hubspot.store.define("companies", "renewal_date", "date")
    salesforce = SalesforceEmulator()
    salesforce.add_login(SF_USER, SF_PASS, SF_TOKEN)
    account = salesforce.store.objects["Account"]
    account.define(FieldSpec("Score__c", "double", precision=18, scale=2))
    account.define(FieldSpec("Status__c", "string", 40))
    hs_url = hubspot.start()
    sf_url, ca_bundle = salesforce.start_tls(tmp_path)
    project = Project(tmp_path, pg_url, env=ENV)
    (tmp_path / "mappings").mkdir()
    project.config.write_text(
        textwrap.dedent(f"""
        [syncer]
        data_dir = "data"
        [warehouse]
        url = "{pg_url}"
        [connectors.hubspot]
        base_url = "{hs_url}"
        access_token = "${{HS_TOKEN}}"
        plan_tier = "increase"
        rate_limit_margin = 0.0
        [connectors.sf]
        type = "salesforce"
        instance_url = "{sf_url}"
        login_url = "{sf_url}"
        auth = "password"
        username = "${{SF_USER}}"
        password = "${{SF_PASS}}"
        security_token = "${{SF_TOKEN}}"
        ca_bundle = "{ca_bundle}"
        [connectors.sf_bulk]
        type = "salesforce"
        instance_url = "{sf_url}"
        login_url = "{sf_url}"
        auth = "password"
        username = "${{SF_USER}}"
        password = "${{SF_PASS}}"
        security_token = "${{SF_TOKEN}}"
        ca_bundle = "{ca_bundle}"
        bulk_threshold = 1
        """)
    )
    yield Crm(project, hubspot, salesforce)
    hubspot.stop()
    salesforce.stop()


SF_SCORE = """
    connector = "sf"
    object = "Account"
    [model]
    table = "scores"
    primary_key = "id"
    [match]
    field = "External_Id__c"
    column = "ext"
    [fields]
    Name = "id"
    Score__c = "score"
"""
HS_SCORE = """
    connector = "hubspot"
    object = "companies"
    [model]
    table = "scores"
    primary_key = "id"
    [match]
    field = "syncer_id"
    column = "ext"
    [fields]
    pql_score = "score"
"""


def test_repro_1_one_nan_no_longer_stops_a_salesforce_sync(crm: Crm) -> None:
    crm.sql(
        "CREATE TABLE scores (id text, ext text, score double precision)",
        "INSERT INTO scores VALUES ('a1', 'SF-1', 'NaN'), ('a2', 'SF-2', 55.5)",
    )
    crm.mapping("sf_scores", SF_SCORE)
    code, run = crm.run("sf_scores")
    assert code == 1 and run["succeeded"] == 1 and run["rejected"] == 1 and run["failed"] == 0, run
    assert crm.sf_accounts()["SF-2"]["Score__c"] == 55.5 and "SF-1" not in crm.sf_accounts()
    reason = crm.rejected("sf_scores")["a1"]
    assert reason.startswith("Score__c: float NaN") and "Salesforce double(18,2)" in reason, reason
    code, again = crm.run("sf_scores")
    assert code == 1 and again["status"] == "out_of_sync", again  # quiet, but the NaN row is still not synced
    assert again["succeeded"] == again["rejected"] == again["added"] == 0, again


@pytest.mark.parametrize("literal", ["'NaN'", "'Infinity'", "'-Infinity'"])
def test_repro_2_non_finite_numbers_never_reach_hubspot_as_text(crm: Crm, literal: str) -> None:
    crm.sql(
        "CREATE TABLE scores (id text, ext text, score double precision)",
        f"INSERT INTO scores VALUES ('a1', 'HS-1', {literal}), ('a2', 'HS-2', 1e-07)",
    )
    crm.mapping("hs_scores", HS_SCORE)
    code, run = crm.run("hs_scores")
    assert code == 1 and run["succeeded"] == 1 and run["rejected"] == 1, run
    assert crm.hs_companies()["HS-2"]["pql_score"] == "0.0000001"  # never exponent form
    assert "HS-1" not in crm.hs_companies()
    assert "pql_score: float" in crm.rejected("hs_scores")["a1"]
    assert crm.run("hs_scores")[0] == 1  # quiet, out of sync while the bad row stays


HS_DATE = """
    connector = "hubspot"
    object = "companies"
    [model]
    table = "renewals"
    primary_key = "id"
    [match]
    field = "syncer_id"
    column = "ext"
    [fields]
    renewal_date = "renews_at"
"""


def test_repro_3_a_timestamp_into_a_hubspot_date_is_warned_by_check_and_rejected_by_run(crm: Crm) -> None:
    crm.sql(
        "CREATE TABLE renewals (id text, ext text, renews_at timestamp)",
        "INSERT INTO renewals VALUES ('a1', 'HS-1', '2026-03-08 23:30'), ('a2', 'HS-2', '2026-03-09 00:00')",
    )
    crm.mapping("hs_renewals", HS_DATE)
    code, _out, err = crm.project.cli("check")
    assert code == 0, err  # a warning, not a problem: midnight values do go
    assert "warning" in err and "hs_renewals.toml" in err and "fields.renewal_date" in err, err
    assert "midnight UTC" in err and "1 of 2 sampled rows" in err, err
    code, run = crm.run("hs_renewals")
    assert code == 1 and run["succeeded"] == 1 and run["rejected"] == 1, run
    assert crm.hs_companies()["HS-2"]["renewal_date"] == "2026-03-09"
    assert "is not at midnight UTC" in crm.rejected("hs_renewals")["a1"]
    assert crm.run("hs_renewals")[0] == 1  # quiet, out of sync while the bad row stays


def test_check_refuses_a_column_whose_values_can_never_go(crm: Crm) -> None:
    crm.sql(
        "CREATE TABLE renewals (id text, ext text, renews_at boolean)", "INSERT INTO renewals VALUES ('a', 'H', true)"
    )
    crm.mapping("hs_renewals", HS_DATE)
    code, _out, err = crm.project.cli("check")
    assert code == 2 and "problem" in err and "fields.renewal_date" in err and "bool values" in err, err


HS_NAMED = """
    connector = "hubspot"
    object = "companies"
    [model]
    table = "scores"
    primary_key = "id"
    [match]
    field = "syncer_id"
    column = "ext"
    [fields]
    name = "name"
    pql_score = {score}
"""


def test_repro_7_a_mapping_edit_resends_only_records_whose_sent_values_change(crm: Crm) -> None:
    crm.sql(
        "CREATE TABLE scores (id text, ext text, name text, score double precision)",
        "INSERT INTO scores VALUES ('a1', 'HS-1', 'A', 80.0), ('a2', 'HS-2', 'B', 24.5)",
    )
    crm.mapping("hs_named", HS_NAMED.format(score='"score"'))
    assert crm.run("hs_named")[0] == 0
    assert crm.hs_companies()["HS-1"]["pql_score"] == "80"
    crm.mapping("hs_named", HS_NAMED.format(score='{ column = "score", round = 0 }'))
    code, plan, err = crm.project.cli("plan", "hs_named", "--show", "5", "--json")
    assert code == 0 and plan["changed"] == 1 and plan["unchanged"] == 1, (plan, err)
    assert plan["samples"] == [
        {
            "kind": "changed",
            "op": "upsert",
            "key": "a2",
            "match": "HS-2",
            "changes": {"pql_score": {"from": "24.5", "to": "25"}},
        }
    ]
    code, run = crm.run("hs_named")
    assert code == 0 and run["succeeded"] == 1, run


SF_STATUS = """
    connector = "{connector}"
    object = "Account"
    null_policy = "{policy}"
    {shares}
    [model]
    table = "{table}"
    primary_key = "id"
    [match]
    field = "External_Id__c"
    column = "ext"
    [fields]
    Name = "id"
    Status__c = "status"
    Score__c = "score"
"""


@pytest.mark.parametrize("policy", ["send", "skip"])
def test_repro_5_collections_and_bulk_leave_the_same_record_for_the_same_change(crm: Crm, policy: str) -> None:
    """The same change set through both paths (forced by the Bulk threshold), compared field by field."""
    rows = 201  # the first load: over the 200-record collections cap
    for table, prefix, connector in (("via_rest", "R", "sf"), ("via_bulk", "B", "sf_bulk")):
        crm.sql(
            f"CREATE TABLE {table} (id text, ext text, status text, score double precision)",
            f"INSERT INTO {table} SELECT 'k' || i, '{prefix}-' || i, 'hot', 55.5 FROM generate_series(1, {rows}) i",
        )
        sync = f"{table}_{policy}"
        # one object, one match field, keys that never overlap (R-, B-): declared (syncer.shared_records)
        shares = f'shares_records_with = ["via_rest_{policy}"]' if table == "via_bulk" else ""
        crm.mapping(sync, SF_STATUS.format(connector=connector, policy=policy, table=table, shares=shares))
        assert crm.run(sync)[0] == 0
        # the change: '' on some rows, NULL on others, an unchanged neighbour, a new value
        crm.sql(
            f"UPDATE {table} SET status = '' WHERE id IN ('k1', 'k2')",
            f"UPDATE {table} SET status = NULL, score = NULL WHERE id = 'k3'",
            f"UPDATE {table} SET status = 'warm' WHERE id = 'k4'",
            f"UPDATE {table} SET score = 12.25 WHERE id IN ('k5', 'k6')",
        )

    def jobs() -> int:
        return sum(1 for m, p, _ in crm.salesforce.requests if m == "POST" and p.endswith("/jobs/ingest"))

    before = jobs()
    code, rest = crm.run(f"via_rest_{policy}")
    assert code == 0 and rest["changed"] == 6 and jobs() == before, rest  # collections only
    code, bulk = crm.run(f"via_bulk_{policy}")
    assert code == 0 and bulk["changed"] == 6 and jobs() == before + 1, bulk  # one Bulk 2.0 job
    stored = crm.sf_accounts()
    for i in range(1, rows + 1):
        rest, via_bulk = stored[f"R-{i}"], stored[f"B-{i}"]
        for field in ("Status__c", "Score__c"):
            assert rest.get(field) == via_bulk.get(field), (i, field, rest.get(field), via_bulk.get(field))
    cleared = None if policy == "send" else "hot"
    assert stored["R-1"].get("Status__c") == cleared and stored["R-3"].get("Status__c") == cleared
    assert stored["R-4"]["Status__c"] == "warm" and stored["R-5"]["Score__c"] == 12.25
