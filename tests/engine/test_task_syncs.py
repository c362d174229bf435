"""Task syncs against the CRM emulators: a task's match value is the account it attaches to.

`syncer run` runs in-process (the CLI) against the Salesforce and HubSpot emulators started here.
Table-driven: every case is a (connector, object, mode) or a row the task syncs send, with the
outcome each connector must give it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.hubspot.tasks import task_key as hs_task_key
from syncer_connectors.salesforce.emulator import SalesforceEmulator
from syncer_connectors.salesforce.emulator_writes import create_one

from syncer.config import load_config
from syncer.connector import EXISTED
from syncer.errors import ConfigError
from syncer.project import project_id
from tests.engine.conftest import Project

ENV = {"HS_TOKEN": "hs-task-token-31", "SF_USER": "tasks@x.example", "SF_PASS": "pw-tasks-5", "SF_TOKEN": "tok-77"}

SYNCS = {
    "sf_tasks": """
        connector = "salesforce"
        object = "Task"
        mode = "{mode}"
        [model]
        table = "alerts"
        primary_key = "alert_id"
        [match]
        field = "External_Id__c"
        column = "ext"
        [fields]
        Subject = "subject"
        owner_email = "owner"
    """,
    "hs_tasks": """
        connector = "hubspot"
        object = "tasks"
        mode = "{mode}"
        [model]
        table = "alerts"
        primary_key = "alert_id"
        [match]
        field = "product_account_id"
        column = "ext"
        [fields]
        subject = "subject"
        owner_email = "owner"
    """,
    "hs_companies": """
        connector = "hubspot"
        object = "companies"
        mode = "{mode}"
        [model]
        table = "alerts"
        primary_key = "alert_id"
        [match]
        field = "product_account_id"
        column = "ext"
        [fields]
        name = "subject"
    """,
}


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[tuple[Project, HubSpotEmulator, SalesforceEmulator]]:
    """Both CRMs with account ACC-1 (and ACC-2) and the owner ae@x.example; an empty alerts table."""
    hubspot = HubSpotEmulator(plan="pro", token=ENV["HS_TOKEN"])
    hubspot.store.define("companies", "product_account_id", "string", unique=True)
    hubspot.store.define("tasks", "syncer_key", "string")
    hubspot.add_owner("ae@x.example")
    salesforce = SalesforceEmulator()
    salesforce.add_login(ENV["SF_USER"], ENV["SF_PASS"], ENV["SF_TOKEN"])
    salesforce.add_user("ae@x.example")
    salesforce.add_user("gone@x.example", active=False)
    hs_url = hubspot.start()
    sf_url, ca_bundle = salesforce.start_tls(tmp_path)
    httpx.post(
        f"{hs_url}/crm/v3/objects/companies/batch/create",
        headers={"Authorization": f"Bearer {ENV['HS_TOKEN']}"},
        json={"inputs": [{"properties": {"product_account_id": e}} for e in ("ACC-1", "ACC-2")]},
    ).raise_for_status()
    for ext in ("ACC-1", "ACC-2"):
        create_one(salesforce.store, "Account", {"Name": ext, "External_Id__c": ext})
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alerts (alert_id TEXT, ext TEXT, subject TEXT, owner TEXT)"))
    engine.dispose()
    project = Project(tmp_path, url, env=ENV)
    project.config.write_text(
        textwrap.dedent(f"""
        [syncer]
        data_dir = "data"
        [warehouse]
        url = "{url}"
        [connectors.hook]
        type = "webhook"
        url = "http://127.0.0.1:9/hooks"
        signing_secret = "${{HOOK_SECRET}}"
        [connectors.hubspot]
        base_url = "{hs_url}"
        access_token = "${{HS_TOKEN}}"
        plan_tier = "pro"
        [connectors.salesforce]
        instance_url = "{sf_url}"
        login_url = "{sf_url}"
        ca_bundle = "{ca_bundle}"
        auth = "password"
        username = "${{SF_USER}}"
        password = "${{SF_PASS}}"
        security_token = "${{SF_TOKEN}}"
        """)
    )
    (tmp_path / "mappings").mkdir()
    yield project, hubspot, salesforce
    hubspot.stop()
    salesforce.stop()


def alerts(project: Project, rows: list[tuple[str, str | None, str, str | None]]) -> None:
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alerts"))
        conn.execute(
            sa.text("INSERT INTO alerts VALUES (:a, :e, :s, :o)"),
            [dict(zip("aeso", r, strict=True)) for r in rows],
        )
    engine.dispose()


def mapping(project: Project, name: str, mode: str) -> None:
    (project.root / "mappings" / f"{name}.toml").write_text(_mapping_text(name, mode))


# (sync, mode) -> the words of the config error, None: accepted
MODES = {
    ("sf_tasks", "insert"): None,
    ("hs_tasks", "insert"): None,
    ("sf_tasks", "upsert"): "object 'Task' (its match value is the parent record",
    ("sf_tasks", "update"): "object 'Task' (its match value is the parent record",
    ("sf_tasks", "mirror"): "object 'Task' (its match value is the parent record",
    ("hs_tasks", "upsert"): "object 'tasks' (its match value is the parent record",
    ("hs_tasks", "mirror"): "object 'tasks' (its match value is the parent record",
    ("hs_companies", "upsert"): None,
    ("hs_companies", "mirror"): None,
    ("sf_tasks", ""): None,  # mode left out: the one mode the object takes
    ("hs_tasks", ""): None,
    ("hs_companies", ""): None,  # left out: upsert
}
LEFT_OUT = {"sf_tasks": "insert", "hs_tasks": "insert", "hs_companies": "upsert"}


def _mapping_text(sync: str, mode: str) -> str:
    text = textwrap.dedent(SYNCS[sync].format(mode=mode))
    return text if mode else text.replace('mode = ""\n', "")


@pytest.mark.parametrize(("sync", "mode"), sorted(MODES))
def test_a_task_object_takes_insert_only(sync: str, mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """update / upsert / mirror find a record by its match value; a task's names its account."""
    for var, value in {**ENV, "HOOK_SECRET": "whsec-x"}.items():
        monkeypatch.setenv(var, value)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / f"{sync}.toml").write_text(_mapping_text(sync, mode))
    (tmp_path / "config.toml").write_text(
        textwrap.dedent("""
        [warehouse]
        url = "sqlite:///w.sqlite"
        [connectors.hubspot]
        access_token = "${HS_TOKEN}"
        [connectors.salesforce]
        instance_url = "https://127.0.0.1:9"
        auth = "password"
        username = "u@x.example"
        password = "${SF_PASS}"
        security_token = "${SF_TOKEN}"
        """)
    )
    expected = MODES[(sync, mode)]
    if expected is None:
        loaded = load_config(tmp_path / "config.toml")
        assert loaded.sync(sync).mode == (mode or LEFT_OUT[sync])
        return
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "config.toml")
    [issue] = caught.value.issues
    assert issue.key == "mode" and expected in issue.message and "supported: insert" in issue.message, issue


@pytest.mark.parametrize("sync", ["sf_tasks", "hs_tasks"])
def test_alerts_sharing_an_account_each_get_one_task(
    sync: str, crm: tuple[Project, HubSpotEmulator, SalesforceEmulator]
) -> None:
    """Two alerts on ACC-1 and one on ACC-2: three tasks, each attached to its account; the next run
    creates none (before: both ACC-1 rows were rejected as match_collision and no task was made)."""
    project, hubspot, salesforce = crm
    alerts(
        project,
        [("al-1", "ACC-1", "one", "ae@x.example"), ("al-2", "ACC-1", "two", None), ("al-3", "ACC-2", "three", None)],
    )
    mapping(project, sync, "insert")
    code, out, err = project.cli("run", sync, "--json")
    assert code == 0 and out["succeeded"] == 3 and out["bad_rows"] == 0, (out, err)
    if sync == "sf_tasks":
        accounts = {a["Id"]: a["External_Id__c"] for a in salesforce.records("Account")}
        made = {t["Syncer_Key__c"]: accounts[t["WhatId"]] for t in salesforce.records("Task")}
    else:
        companies = {oid: o.properties["product_account_id"] for oid, o in hubspot.store.objects["companies"].items()}
        keys = {oid: t.properties["syncer_key"] for oid, t in hubspot.store.objects["tasks"].items()}
        made = {keys[t_id]: companies[c_id] for f, t_id, _to, c_id, _type in hubspot.associations if f == "tasks"}
    assert sorted(made.values()) == ["ACC-1", "ACC-1", "ACC-2"], made
    code, out, err = project.cli("run", sync, "--json")
    assert code == 0 and out["added"] == 0 and out["succeeded"] == 0, (out, err)


def crm_tasks(sync: str, hubspot: HubSpotEmulator, salesforce: SalesforceEmulator) -> int:
    return len(salesforce.records("Task")) if sync == "sf_tasks" else len(hubspot.store.objects["tasks"])


@pytest.mark.parametrize("sync", ["sf_tasks", "hs_tasks"])
@pytest.mark.parametrize("other", ["another sync", "another project"])
def test_another_sync_or_project_with_the_same_row_keys_gets_its_own_tasks(
    sync: str, other: str, crm: tuple[Project, HubSpotEmulator, SalesforceEmulator]
) -> None:
    """The CRM finds a task by the key syncer stores on it: a key of the row key alone made a second task
    sync (or a second project's) with the same alert ids find the first one's tasks and create none (data
    lost). Scoped by sync and project (syncer.project), each creates its own; a rerun creates none."""
    project, hubspot, salesforce = crm
    alerts(project, [("al-1", "ACC-1", "one", None), ("al-2", "ACC-2", "two", None)])
    mapping(project, sync, "insert")
    assert project.cli("run", sync, "--json")[1]["succeeded"] == 2
    if other == "another sync":
        (project.root / "mappings" / f"{sync}_copy.toml").write_text(_mapping_text(sync, "insert"))
        second = (f"{sync}_copy",)
    else:
        text = project.config.read_text().replace('data_dir = "data"', 'data_dir = "data2"')
        project.config.write_text(text)  # the same config with another state store: another project
        second = (sync,)
    code, out, err = project.cli("run", *second, "--json")
    made = crm_tasks(sync, hubspot, salesforce)
    print(f"\n{sync}, {other}: {out.get('succeeded')} sent, {made} tasks in the CRM")
    assert code == 0 and made == 4, (out, err)  # two each
    assert project.cli("run", *second, "--json")[1]["added"] == 0 and crm_tasks(sync, hubspot, salesforce) == 4


@pytest.mark.parametrize("sync", ["sf_tasks", "hs_tasks"])
def test_a_task_the_crm_already_holds_is_audited_as_not_updated(
    sync: str, crm: tuple[Project, HubSpotEmulator, SalesforceEmulator]
) -> None:
    """State lost a task's record after the CRM made it (deleted here by hand; as a crash between the answer and
    state): the rerun finds the task by its key, makes none, and the audit says it already existed instead of
    claiming the payload was written (mode insert never modifies)."""
    project, hubspot, salesforce = crm
    alerts(project, [("al-1", "ACC-1", "one", None)])
    mapping(project, sync, "insert")
    assert project.cli("run", sync, "--json")[1]["succeeded"] == 1
    engine = sa.create_engine(f"sqlite:///{project.root / 'data' / 'state.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM synced_records WHERE sync = :s"), {"s": sync})
    engine.dispose()
    code, out, err = project.cli("run", sync, "--json")
    assert code == 0 and out["succeeded"] == 1 and crm_tasks(sync, hubspot, salesforce) == 1, (out, err)
    _, audit, _ = project.cli("audit", sync, "--json", "--run", str(out["run_id"]))
    assert [(r["op"], r["status"], r["reason"]) for r in audit] == [("insert", "ok", EXISTED)], audit


# owner_email as the warehouse holds it -> what both CRMs must make of it (the one rule, syncer.owner_email:
# trimmed, any case): ("owner", the owner's email), ("none", ""): no owner asked for, or ("rejected", words)
OWNERS = {
    "ae@x.example": ("owner", "ae@x.example"),
    "AE@X.EXAMPLE ": ("owner", "ae@x.example"),
    "\tAe@x.Example\n": ("owner", "ae@x.example"),
    "   ": ("none", ""),  # blank: as NULL
    "nobody@x.example": ("rejected", "has email 'nobody@x.example' (trimmed, compared case-insensitively)"),
    " Nobody@X.example": ("rejected", "has email 'nobody@x.example' (trimmed, compared case-insensitively)"),
}
INACTIVE = {"gone@x.example": ("rejected", "the salesforce user with email 'gone@x.example' is inactive")}
WITHOUT = {
    "sf_tasks": "without an owner Salesforce would assign the task to the user creating it (the integration user)",
    "hs_tasks": "without an owner HubSpot would leave the task unassigned",
}


@pytest.mark.parametrize("sync", ["sf_tasks", "hs_tasks"])
def test_one_owner_rule_for_every_crm(sync: str, crm: tuple[Project, HubSpotEmulator, SalesforceEmulator]) -> None:
    """Every owner email of OWNERS on both CRMs: found trimmed and in any case, or the row rejected
    saying what the CRM would have done without an owner (before: Salesforce gave 'AE@X.EXAMPLE '
    and unknown owners to the integration user, with status ok). An inactive Salesforce user is
    refused too (Salesforce cannot assign a task to one)."""
    project, hubspot, salesforce = crm
    cases = {**OWNERS, **(INACTIVE if sync == "sf_tasks" else {})}
    owners = list(cases)
    alerts(project, [(f"al-{i}", "ACC-1", f"task {i}", owner) for i, owner in enumerate(owners)])
    mapping(project, sync, "insert")
    code, _out, err = project.cli("run", sync, "--json")
    assert code in (0, 1), err  # 1: some rows were rejected
    _, audit, err = project.cli("audit", sync, "--json", "--all")
    outcome = {row["key"]: row for row in audit}
    if sync == "sf_tasks":
        users = {u["Id"]: u["Email"] for u in salesforce.records("User")}
        got = {  # the task key is the row key in its sync and project (syncer.project)
            t["Syncer_Key__c"].split("@")[0]: users.get(t.get("OwnerId") or "", "") for t in salesforce.records("Task")
        }
    else:
        emails = {oid: o["email"] for oid, o in hubspot.owners.items()}
        scope = f"{sync}@{project_of(project)}"  # the task key is the row key in its sync and project
        keys = {hs_task_key(f"al-{i}@{scope}"): f"al-{i}" for i in range(len(owners))}
        got = {
            keys[t.properties["syncer_key"]]: emails.get(t.properties.get("hubspot_owner_id") or "", "")
            for t in hubspot.store.objects["tasks"].values()
        }
    for i, owner in enumerate(owners):
        key, (kind, want) = f"al-{i}", cases[owner]
        reason = outcome[key]["reason"] or ""
        if kind == "rejected":
            assert key not in got and outcome[key]["status"] == "rejected", (owner, outcome[key])
            assert want in reason.lower() and WITHOUT[sync] in reason, (owner, reason)
        else:
            assert got.get(key) == want and outcome[key]["status"] == "ok", (owner, got.get(key), outcome[key])


def project_of(project: Project) -> str:
    """The project id the state holds (syncer.project)."""
    engine = sa.create_engine(f"sqlite:///{project.root / 'data' / 'state.sqlite'}")
    try:
        with engine.connect() as conn:
            return project_id(conn)
    finally:
        engine.dispose()
