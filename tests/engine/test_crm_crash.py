"""Crash and resume against the CRM emulators: 5,000 accounts plus 200 tasks, for both CRMs.

The emulators run in this test process; `syncer run` runs as a child process and is SIGKILLed at
failpoints (between batches, with a request in flight, after the CRM acknowledged but before state
was written, after a state commit). After the kills, one clean run: every CRM record equals the
source and every alert has exactly one task.
"""

from __future__ import annotations

import os
import random
import signal
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.salesforce.emulator import SalesforceEmulator

from tests.engine.conftest import Project, crm_config

# 50 HubSpot batches of 100 (every kill point below, at most the 40th, is reached) and 5 Salesforce
# Bulk API 2.0 jobs of 1,000 (a kill point past the last job lets the run finish).
# The soak: SYNCER_CRASH_ACCOUNTS=100000 (benchmarks/README.md).
N_ACCOUNTS = int(os.environ.get("SYNCER_CRASH_ACCOUNTS", "5000"))
N_TASKS = 200
POINTS = ("before_send", "in_flight", "after_ack", "after_state")
ENV = {
    "HS_TOKEN": "hs-crash-token-5521",
    "SF_USER": "crash@example.com",
    "SF_PASS": "pw-crash-7781",
    "SF_TOKEN": "sf-sec-tok-99",
}


def build_warehouse(url: str, score_offset: int = 0) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS accounts"))
        conn.execute(
            sa.text(
                "CREATE TABLE accounts (account_id INTEGER, ext_id VARCHAR(40), name VARCHAR(80), "
                "pql_score INTEGER, tier VARCHAR(20), owner_email VARCHAR(80))"
            )
        )
        rows = [
            {
                "i": i,
                "e": f"ACC-{i:06d}",
                "n": f"Account {i}",
                "s": (i * 13 + score_offset) % 101,
                "t": ("monitor", "nurture", "escalate")[(i + score_offset) % 3],
                "o": f"owner{i % 7}@example.com",
            }
            for i in range(1, N_ACCOUNTS + 1)
        ]
        conn.execute(sa.text("INSERT INTO accounts VALUES (:i, :e, :n, :s, :t, :o)"), rows)
        conn.execute(sa.text("DROP TABLE IF EXISTS alerts"))
        conn.execute(
            sa.text(
                "CREATE TABLE alerts (alert_id VARCHAR(40), ext_id VARCHAR(40), subject VARCHAR(200), "
                "owner_email VARCHAR(80), due DATE)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO alerts VALUES (:a, :e, :s, :o, '2026-12-01')"),
            [
                {
                    "a": f"alert-{k}",
                    "e": f"ACC-{k * 97 % N_ACCOUNTS + 1:06d}",
                    "s": f"Seat limit approaching ({k})",
                    "o": f"owner{k % 7}@example.com",
                }
                for k in range(N_TASKS)
            ],
        )
    engine.dispose()


MAPPINGS = {
    "hs_companies": """
        connector = "hubspot"
        object = "companies"
        [model]
        table = "accounts"
        primary_key = "account_id"
        [match]
        field = "syncer_account_id"
        column = "ext_id"
        [fields]
        name = "name"
        pql_score = "pql_score"
        pql_tier = "tier"
    """,
    "hs_tasks": """
        connector = "hubspot"
        object = "tasks"
        mode = "insert"
        [model]
        table = "alerts"
        primary_key = "alert_id"
        [match]
        field = "syncer_account_id"
        column = "ext_id"
        [fields]
        subject = "subject"
        owner_email = "owner_email"
        due_at = { column = "due", cast = "date" }
        priority = { const = "HIGH" }
    """,
    "sf_accounts": """
        connector = "salesforce"
        object = "Account"
        [model]
        table = "accounts"
        primary_key = "account_id"
        [match]
        field = "External_Id__c"
        column = "ext_id"
        [fields]
        Name = "name"
        PQL_Score__c = "pql_score"
        PQL_Tier__c = "tier"
    """,
    "sf_tasks": """
        connector = "salesforce"
        object = "Task"
        mode = "insert"
        [model]
        table = "alerts"
        primary_key = "alert_id"
        [match]
        field = "External_Id__c"
        column = "ext_id"
        [fields]
        Subject = "subject"
        owner_email = "owner_email"
        ActivityDate = { column = "due", cast = "date" }
        Priority = { const = "High" }
    """,
}


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[tuple[Project, HubSpotEmulator, SalesforceEmulator]]:
    hubspot = HubSpotEmulator(plan="increase", token=ENV["HS_TOKEN"])
    for name, kind, unique in (
        ("syncer_account_id", "string", True),
        ("pql_score", "number", False),
        ("pql_tier", "string", False),
    ):
        hubspot.store.define("companies", name, kind, unique=unique)
    hubspot.store.define("tasks", "syncer_key", "string")
    salesforce = SalesforceEmulator()
    salesforce.add_login(ENV["SF_USER"], ENV["SF_PASS"], ENV["SF_TOKEN"])
    for k in range(7):
        hubspot.add_owner(f"owner{k}@example.com")
        salesforce.add_user(f"owner{k}@example.com")
    hs_url = hubspot.start()
    sf_url, ca_bundle = salesforce.start_tls(tmp_path)

    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    build_warehouse(url)
    project = Project(tmp_path, url, env=ENV)
    (tmp_path / "mappings").mkdir()
    project.config.write_text(
        crm_config(
            url,
            hs_url,
            sf_url,
            ca_bundle,
            """
            bulk_threshold = 1000  # the account syncs go through Bulk API 2.0 jobs of 1,000 records
            bulk_batch_size = 1000
            bulk_poll_interval = 0.05
            """,
        )
    )
    for name, body in MAPPINGS.items():
        (tmp_path / "mappings" / f"{name}.toml").write_text(textwrap.dedent(body))
    yield project, hubspot, salesforce
    hubspot.stop()
    salesforce.stop()


def run(project: Project, sync: str, failpoint: str = "") -> tuple[int, str]:
    proc = project.subprocess("run", sync, "--json", env={"SYNCER_FAILPOINT": failpoint})
    _out, err = proc.communicate(timeout=600)
    return proc.returncode, err[-3000:]


def crash_then_converge(project: Project, sync: str, rng: random.Random, kills: int, max_nth: int) -> list[str]:
    points = []
    for i in range(kills):
        point = f"{POINTS[i % len(POINTS)]}:{rng.randint(1, max_nth)}"
        code, err = run(project, sync, point)
        assert code in (-signal.SIGKILL, 0), (point, code, err)  # 0: the run ended before reaching the point
        points.append(point)
    code, err = run(project, sync)
    assert code == 0, err
    return points


def source_rows(url: str, table: str) -> list[dict[str, object]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]
    engine.dispose()
    return rows


def test_sigkill_during_crm_field_sync_and_task_creation(
    crm: tuple[Project, HubSpotEmulator, SalesforceEmulator],
) -> None:
    project, hubspot, salesforce = crm
    rng = random.Random(4242)

    killed = crash_then_converge(project, "hs_companies", rng, kills=4, max_nth=25)
    killed += crash_then_converge(project, "sf_accounts", rng, kills=4, max_nth=15)
    build_warehouse(project.warehouse_url, score_offset=5)  # the data moves on; the latest value must land
    killed += crash_then_converge(project, "hs_companies", rng, kills=2, max_nth=40)
    killed += crash_then_converge(project, "sf_accounts", rng, kills=2, max_nth=20)
    killed += crash_then_converge(project, "hs_tasks", rng, kills=4, max_nth=2)
    killed += crash_then_converge(project, "sf_tasks", rng, kills=4, max_nth=1)
    print(f"\nkill points: {killed}")
    assert len(killed) >= 10

    accounts = {r["ext_id"]: r for r in source_rows(project.warehouse_url, "accounts")}
    hs = hubspot.stored("companies", "syncer_account_id")
    assert set(hs) == set(accounts)
    assert all(
        hs[e]["pql_score"] == str(a["pql_score"]) and hs[e]["pql_tier"] == a["tier"] for e, a in accounts.items()
    )
    sf = {r["External_Id__c"]: r for r in salesforce.records("Account")}
    assert set(sf) == set(accounts)
    assert all(
        sf[e]["PQL_Score__c"] == a["pql_score"] and sf[e]["PQL_Tier__c"] == a["tier"] for e, a in accounts.items()
    )

    sf_tasks = Counter(t["Syncer_Key__c"] for t in salesforce.records("Task"))
    assert len(sf_tasks) == N_TASKS and max(sf_tasks.values()) == 1  # 0 duplicate tasks
    hs_tasks = Counter(
        t["properties"]["syncer_key"] if "properties" in t else t["syncer_key"]
        for t in hubspot.stored("tasks", "syncer_key").values()
    )
    assert len(hubspot.stored("tasks", "syncer_key")) == N_TASKS
    assert max(hs_tasks.values(), default=0) <= 1
