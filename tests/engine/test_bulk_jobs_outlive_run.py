"""A write that outlives its run: a Salesforce Bulk API 2.0 job still running (or not yet read) when its run ends.

Salesforce processes every closed job whether or not anyone polls it, and two jobs on the same records land in
no promised order. Before, the next run knew nothing of the first job: it planned the same records again in a
NEW job, and when the first (older values) landed after it, the record kept the old value while state said the
new one was acknowledged. Now every job is kept in state (open_jobs, migration 0018) from before its upload
until its results are read, and each run settles the earlier runs' jobs before writing anything.

Each case is a list of steps against the emulator (held jobs: `bulk.hold_jobs`, `bulk.release()`); after it the
destination holds exactly the warehouse's values, state matches the destination, no record was ever written an
older value after a newer one, the job and write counts are the expected ones and no job is left open. Runs are
the engine's (real SQLite state and warehouse, the emulator on loopback TLS, retries without waiting); a crash
is a `syncer run` process killed (SIGKILL) at a failpoint of the Bulk job.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.salesforce.emulator import SalesforceEmulator

from syncer.config import load_config
from syncer.open_jobs import JobLedger
from syncer.retry import no_wait
from syncer.runner import Runtime, Summary, SyncJob
from syncer.state import StateStore
from tests.engine.conftest import SECRET, SF_ACCOUNTS_T, Project
from tests.engine.test_task_syncs import ENV, crm

__all__ = ["crm"]

KEYS = ("1", "2", "3")


@dataclass(frozen=True)
class Case:
    steps: tuple[str, ...]  # run | crash:<failpoint> | hold | release | fail | change
    jobs: int  # Bulk jobs created in all
    rows_written: int  # rows the processed jobs wrote, over all jobs
    audit: str = ""  # a reason some audit row of the sync carries


CASES = {
    "the job finishes after the run ends: the next run reads it, writes nothing again": Case(
        ("hold", "run", "release", "run"), jobs=1, rows_written=3
    ),
    "the job fails after the run ends: the next run records its failure and sends the rows again": Case(
        ("hold", "run", "fail", "release", "run"), jobs=2, rows_written=3, audit="Failed: Timeout"
    ),
    "the job still runs at the next run: those records are held back, no second job races it": Case(
        ("hold", "run", "change", "run", "release", "run"),
        jobs=2,
        rows_written=6,
        audit="still InProgress after bulk_timeout: not written again until it ends",
    ),
    "a crash between the job's creation and its record: never uploaded, the next run sends the rows": Case(
        ("crash:bulk_job_created", "run"), jobs=2, rows_written=3
    ),
    "a crash after the job was closed: the next run reads its results, writes nothing again": Case(
        ("crash:bulk_job_closed", "run"), jobs=1, rows_written=3
    ),
    "two runs in a row whose jobs outlive them: each read by the next, in order": Case(
        ("hold", "run", "release", "change", "hold", "run", "release", "run"), jobs=2, rows_written=6
    ),
}


class World:
    """The project, its warehouse table `t` at version `version`, and every value the emulator's jobs wrote."""

    def __init__(self, project: Project, salesforce: SalesforceEmulator) -> None:
        self.project, self.salesforce, self.version = project, salesforce, 1
        self.writes: list[tuple[str, str]] = []  # (external id, Name) in the order Bulk jobs wrote them
        upsert = salesforce.bulk.upsert

        def logged(obj: str, ext: str, values: dict[str, Any]) -> dict[str, Any]:
            self.writes.append((values[ext], values.get("Name") or ""))
            return upsert(obj, ext, values)

        salesforce.bulk.upsert = logged
        project.config.write_text(
            project.config.read_text() + "bulk_threshold = 1\nbulk_poll_interval = 1.0\nbulk_timeout = 2.0\n"
        )
        (project.root / "mappings" / "accounts.toml").write_text(SF_ACCOUNTS_T)
        self.fill()

    def values(self) -> dict[str, str]:
        """External id -> the Name the warehouse holds now."""
        return {f"SF-{k}": f"v{self.version}-{k}" for k in KEYS}

    def fill(self) -> None:
        engine = sa.create_engine(self.project.warehouse_url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS t"))
            conn.execute(sa.text("CREATE TABLE t (id TEXT, ext TEXT, name TEXT)"))
            rows = [{"i": ext.removeprefix("SF-"), "e": ext, "n": name} for ext, name in self.values().items()]
            conn.execute(sa.text("INSERT INTO t VALUES (:i, :e, :n)"), rows)
        engine.dispose()

    def state(self) -> Iterator[StateStore]:
        state = StateStore(load_config(self.project.config).state_url())
        try:
            yield state
        finally:
            state.close()

    def run(self) -> Summary:
        config = load_config(self.project.config)
        state = StateStore(config.state_url())
        job = SyncJob(config, "accounts", state, Runtime(retry=no_wait(2)))
        try:
            return job.run()
        finally:
            job.close()
            state.close()

    def crash(self, failpoint: str) -> None:
        process = self.project.subprocess("run", "accounts", env={"SYNCER_FAILPOINT": f"{failpoint}:1"})
        _out, err = process.communicate(timeout=120)
        assert process.returncode == -signal.SIGKILL, (process.returncode, err)

    def step(self, step: str) -> None:
        bulk = self.salesforce.bulk
        if step == "run":
            self.run()
        elif step.startswith("crash:"):
            self.crash(step.removeprefix("crash:"))
        elif step == "hold":
            bulk.hold_jobs += 1
        elif step == "release":
            assert bulk.release(), "no job was held"
        elif step == "fail":
            bulk.fail_jobs.append("Timeout : the job timed out while processing")
        elif step == "change":
            self.version += 1
            self.fill()
        else:
            raise AssertionError(f"unknown step {step}")


@pytest.mark.parametrize("case", list(CASES))
def test_a_bulk_job_that_outlives_its_run(
    crm: tuple[Project, HubSpotEmulator, SalesforceEmulator], monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    project, _hubspot, salesforce = crm
    for name, value in {**ENV, "HOOK_SECRET": SECRET}.items():
        monkeypatch.setenv(name, value)
    c = CASES[case]
    world = World(project, salesforce)
    for step in c.steps:
        world.step(step)

    want = world.values()
    held = {r["External_Id__c"]: r.get("Name") for r in salesforce.records("Account") if r["External_Id__c"] in want}
    assert held == want  # the destination holds exactly the warehouse's values
    for ext in want:  # never an older value written after a newer one
        versions = [int(name.split("-")[0][1:]) for e, name in world.writes if e == ext]
        assert versions == sorted(versions), (ext, world.writes)
    assert (len(salesforce.bulk.jobs), salesforce.bulk.rows_written) == (c.jobs, c.rows_written), world.writes
    for state in world.state():
        payloads = state.payloads("accounts", list(KEYS))
        assert {f"SF-{k}": payloads[k]["Name"] for k in KEYS} == want  # state matches the destination
        assert JobLedger(state, "accounts", None, None).open_jobs() == []
        if c.audit:
            assert any(c.audit in (r["reason"] or "") for r in state.audit_rows("accounts", limit=1000)), c.audit
