"""e11, as the user ran it: an empty or whitespace-only external ID against both CRM emulators.

Before, Salesforce stored '' as NULL and created a new Account on every change of the row, while
HubSpot refused it; ' ' was accepted by both. Now the engine rejects both rows with the reason on
every connector, and a change of the row sends nothing.
"""

from __future__ import annotations

import textwrap

import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.salesforce.emulator import SalesforceEmulator
from syncer_connectors.salesforce.emulator_schema import FieldSpec

from tests.engine.conftest import Project
from tests.engine.test_task_syncs import crm

__all__ = ["crm"]

SYNCS = {
    "salesforce": ("Account", "External_Id__c", 'Name = "id"\nNum__c = "num"'),
    "hubspot": ("companies", "product_account_id", 'pql_score = "num"'),
}


def test_blank_external_ids_are_rejected_by_every_crm(crm: tuple[Project, HubSpotEmulator, SalesforceEmulator]) -> None:
    project, hubspot, salesforce = crm
    salesforce.store.objects["Account"].define(FieldSpec("Num__c", "double"))
    hubspot.store.define("companies", "pql_score", "number")
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id TEXT, ext TEXT, num REAL)"))
        conn.execute(sa.text("INSERT INTO t VALUES ('1', '', 1.0), ('2', ' ', 2.0), ('3', 'SF-3', 3.0)"))
    for name, (obj, field, fields) in SYNCS.items():
        (project.root / "mappings" / f"{name}.toml").write_text(
            textwrap.dedent(f"""
            connector = "{name}"
            object = "{obj}"
            [model]
            table = "t"
            primary_key = "id"
            [match]
            field = "{field}"
            column = "ext"
            [fields]
            """)
            + fields
            + "\n"
        )
    before = {"salesforce": len(salesforce.records("Account")), "hubspot": len(hubspot.store.live("companies"))}
    for name in SYNCS:
        code, out, err = project.cli("run", name, "--json")
        assert code == 1 and out["succeeded"] == 1 and out["out_of_sync"] == {"blank_match": 2}, (name, out, err)
        reasons = {s["key"]: s["reason"] for s in out["bad_row_samples"]}
        assert reasons["1"].startswith("match column 'ext' is blank ('')"), reasons
        assert reasons["2"].startswith("match column 'ext' is blank (' ')"), reasons
    for n in (10.0, 11.0):  # the row with '' changes: before, each run made another Salesforce Account
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE t SET num = :n WHERE id = '1'"), {"n": n})
        for name in SYNCS:
            code, out, err = project.cli("run", name, "--json")
            assert out["succeeded"] == 0 and out["added"] == out["changed"] == 0, (name, out, err)
    engine.dispose()
    accounts = [a.get("External_Id__c") for a in salesforce.records("Account")]
    companies = [c.properties.get("product_account_id") for c in hubspot.store.live("companies")]
    assert len(accounts) == before["salesforce"] + 1 and "SF-3" in accounts, accounts
    assert len(companies) == before["hubspot"] + 1 and "SF-3" in companies, companies
