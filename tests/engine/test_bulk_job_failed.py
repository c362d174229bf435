"""A Bulk API 2.0 job that ends Failed, as the user meets it ("vendorfix" 3): `syncer run` records every row of the
job rejected with the job's errorMessage, `syncer audit` shows that reason, one job was uploaded, and a second run
sends nothing new for the unchanged rows. Before, each row was `failed` "record not processed" and the run
uploaded a new job on every retry."""

from __future__ import annotations

import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.salesforce.emulator import SalesforceEmulator

from tests.engine.conftest import SF_ACCOUNTS_T, Project
from tests.engine.test_task_syncs import crm

__all__ = ["crm"]

REASON = "InvalidBatch : Field name not found : Name"


def test_a_failed_bulk_job_is_rejected_with_its_reason_in_audit(
    crm: tuple[Project, HubSpotEmulator, SalesforceEmulator],
) -> None:
    project, _hubspot, salesforce = crm
    project.config.write_text(project.config.read_text() + "bulk_threshold = 1\nbulk_poll_interval = 0.0\n")
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id TEXT, ext TEXT, name TEXT)"))
        conn.execute(sa.text("INSERT INTO t VALUES ('1', 'SF-1', 'a'), ('2', 'SF-2', 'b'), ('3', 'SF-3', 'c')"))
    engine.dispose()
    (project.root / "mappings" / "accounts.toml").write_text(SF_ACCOUNTS_T)
    salesforce.bulk.fail_jobs.append(REASON)  # the integration user cannot see Name in this org
    before = len(salesforce.records("Account"))
    code, out, err = project.cli("run", "accounts", "--json")
    assert code == 1 and (out["rejected"], out["failed"], out["succeeded"]) == (3, 0, 0), (out, err)
    assert len(salesforce.bulk.jobs) == 1
    code, audit, err = project.cli("audit", "accounts", "--status", "rejected", "--json")
    assert code == 0 and sorted(r["key"] for r in audit) == ["1", "2", "3"], (audit, err)
    assert all(REASON in r["reason"] for r in audit), audit
    assert len(salesforce.records("Account")) == before
    code, out, err = project.cli("run", "accounts", "--json")  # unchanged rejected rows wait for a change
    assert out["held_rejected"] == 3 and len(salesforce.bulk.jobs) == 1, (out, err)
