"""A destination record is deleted only when no live row holds its identity (syncer.rekeys).

Table-driven over HubSpot (unique property) and Salesforce (external ID) emulators, through the
CLI: an account re-keyed in the warehouse (its primary key leaves, another row takes its match
value), a row whose match value changes, two rows that swap, a row that takes a removed row's
value, and the same in upsert mode. After each run the destination holds exactly the model's
identities with the model's values, existing records keep their ids where a row still holds them,
and the next plan finds nothing to do. A crash between a re-key's delete and its upsert converges.
"""

from __future__ import annotations

import signal
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.salesforce.emulator import SalesforceEmulator
from syncer_connectors.salesforce.emulator_schema import FieldSpec

from tests.engine.conftest import Project, crm_config, replace_table

ENV = {"HS_TOKEN": "hs-rekey-token-1", "SF_USER": "rekey@example.com", "SF_PASS": "pw-rk-2", "SF_TOKEN": "tok-rk-3"}
START = [(1, "SF-1", 10), (2, "SF-2", 20), (3, "SF-3", 30), (4, "SF-4", 40)]


@dataclass
class Case:
    rows: list[tuple[int, str, int]]  # the model after the edit: (id, ext, num)
    mode: str = "mirror"
    kept: tuple[str, ...] = ()  # identities whose record must be the same record as before
    extra: tuple[str, ...] = ()  # identities left at the destination although no row holds them
    tally: dict[str, int] | None = None


CASES = {
    "re-keyed account: another key takes the identity": Case(
        [(99, "SF-1", 99), (2, "SF-2", 20), (3, "SF-3", 30), (4, "SF-4", 40)],
        kept=("SF-1", "SF-2"),
        tally={"added": 1, "removed": 1, "handed_over": 1},
    ),
    "a row's match value changes": Case(
        [(1, "SF-9", 11), (2, "SF-2", 20), (3, "SF-3", 30), (4, "SF-4", 40)],
        kept=("SF-2",),
        tally={"changed": 1, "rekeyed": 1},
    ),
    "two rows swap their match values": Case(
        [(1, "SF-2", 11), (2, "SF-1", 21), (3, "SF-3", 30), (4, "SF-4", 40)],
        kept=("SF-1", "SF-2"),
        tally={"changed": 2, "rekeyed": 2, "handed_over": 2},
    ),
    "a row takes a removed row's value": Case(
        [(2, "SF-1", 21), (3, "SF-3", 30), (4, "SF-4", 40)],
        kept=("SF-1",),
        tally={"changed": 1, "removed": 1, "rekeyed": 1, "handed_over": 1},
    ),
    "upsert mode: the old record stays": Case(
        [(1, "SF-9", 11), (2, "SF-2", 20), (3, "SF-3", 30), (4, "SF-4", 40)],
        mode="upsert",
        kept=("SF-1", "SF-2"),
        extra=("SF-1",),
        tally={"changed": 1, "rekeyed": 1},
    ),
}

OBJECTS = {  # connector -> (object, match field, number field)
    "hubspot": ("companies", "syncer_account_id", "pql_score"),
    "salesforce": ("Account", "External_Id__c", "Num__c"),
}


@dataclass
class World:
    project: Project
    hubspot: HubSpotEmulator
    salesforce: SalesforceEmulator

    def records(self, connector: str) -> dict[str, tuple[str, float]]:
        """identity -> (record id, number) at the destination."""
        _, match, number = OBJECTS[connector]
        if connector == "hubspot":
            live = self.hubspot.store.live("companies")
            return {r.properties[match]: (r.id, float(r.properties[number])) for r in live if r.properties.get(match)}
        return {r[match]: (r["Id"], float(r[number])) for r in self.salesforce.records("Account") if r.get(match)}


def set_rows(url: str, rows: list[tuple[int, str, int]]) -> None:
    replace_table(url, {"id": "INTEGER", "ext": "TEXT", "num": "INTEGER"}, rows)


def write_mapping(project: Project, connector: str, mode: str, share: float = 1.0, primary_key: str = "id") -> None:
    obj, match, number = OBJECTS[connector]
    name = '\nName = "ext"' if connector == "salesforce" else ""
    (project.root / "mappings" / f"{connector}.toml").write_text(
        textwrap.dedent(f"""
        connector = "{connector}"
        object = "{obj}"
        mode = "{mode}"
        max_delete_share = {share}
        [model]
        table = "accounts"
        primary_key = "{primary_key}"
        [match]
        field = "{match}"
        column = "ext"
        [fields]
        {number} = "num"
        """)
        + name
        + "\n"
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    hubspot = HubSpotEmulator(plan="increase", token=ENV["HS_TOKEN"])
    hubspot.store.define("companies", "syncer_account_id", "string", unique=True)
    hubspot.store.define("companies", "pql_score", "number")
    salesforce = SalesforceEmulator()
    salesforce.add_login(ENV["SF_USER"], ENV["SF_PASS"], ENV["SF_TOKEN"])
    salesforce.store.objects["Account"].define(FieldSpec("Num__c", "double"))
    hs_url = hubspot.start()
    sf_url, ca_bundle = salesforce.start_tls(tmp_path)
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    project = Project(tmp_path, url, env=ENV)
    (tmp_path / "mappings").mkdir()
    project.config.write_text(crm_config(url, hs_url, sf_url, ca_bundle))
    yield World(project, hubspot, salesforce)
    hubspot.stop()
    salesforce.stop()


def synced(world: World, connector: str, rows: list[tuple[int, str, int]]) -> dict[str, tuple[str, float]]:
    set_rows(world.project.warehouse_url, rows)
    code, summary, err = world.project.cli("run", connector, "--json")
    assert code == 0 and summary["status"] == "ok", (summary, err)
    return world.records(connector)


@pytest.mark.parametrize("connector", sorted(OBJECTS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_identities_follow_the_model(world: World, connector: str, name: str) -> None:
    case = CASES[name]
    write_mapping(world.project, connector, case.mode)
    before = synced(world, connector, START)
    set_rows(world.project.warehouse_url, case.rows)
    code, planned, _ = world.project.cli("plan", connector, "--json")
    assert code == 0
    code, summary, err = world.project.cli("run", connector, "--json")
    assert code == 0 and summary["status"] == "ok", (summary, err)
    for count, expected in (case.tally or {}).items():
        assert planned[count] == summary[count] == expected, (count, planned, summary)

    after = world.records(connector)
    assert set(after) == {ext for _, ext, _ in case.rows} | set(case.extra), after
    assert {ext: num for ext, (_, num) in after.items() if ext not in case.extra} == {
        ext: float(num) for _, ext, num in case.rows
    }
    assert {ext: after[ext][0] for ext in case.kept} == {ext: before[ext][0] for ext in case.kept}  # same records
    code, again, _ = world.project.cli("plan", connector, "--json")
    assert code == 0 and again["added"] == again["changed"] == again["removed"] == 0, again


def test_a_mass_re_key_is_held_by_the_delete_guard(world: World) -> None:
    write_mapping(world.project, "hubspot", "mirror", share=0.25)
    before = synced(world, "hubspot", START)
    set_rows(world.project.warehouse_url, [(i, f"NEW-{i}", n) for i, _, n in START])
    code, summary, _ = world.project.cli("run", "hubspot", "--json")
    assert code == 1 and summary["held_deletes"] == 4 and summary["status"] == "partial", summary
    assert world.records("hubspot") == before  # nothing deleted, nothing created
    code, summary, _ = world.project.cli("run", "hubspot", "--allow-deletes", "--json")
    assert code == 0 and set(world.records("hubspot")) == {f"NEW-{i}" for i in range(1, 5)}, summary


def test_a_handover_across_runs_keeps_the_record(world: World) -> None:
    """The new holder's upsert was acknowledged in an earlier run (the delete guard held the old key's
    removal): the removal, applied later, must not delete the record the live row holds."""
    write_mapping(world.project, "salesforce", "mirror", share=0.25)
    before = synced(world, "salesforce", START)
    rows = [(99, "SF-1", 99), (4, "SF-4", 40)]  # 1, 2 and 3 leave: 2 deletes (1 is handed over) > 25% of 4, held
    set_rows(world.project.warehouse_url, rows)
    code, summary, _ = world.project.cli("run", "salesforce", "--json")
    assert code == 1 and summary["held_deletes"] == 2, summary
    code, summary, _ = world.project.cli("run", "salesforce", "--allow-deletes", "--json")
    assert code == 0 and summary["handed_over"] == 1 and summary["succeeded"] == 2, summary
    after = world.records("salesforce")
    assert {ext: num for ext, (_, num) in after.items()} == {"SF-1": 99.0, "SF-4": 40.0}
    assert after["SF-1"][0] == before["SF-1"][0]  # the same record


GUARDED = {  # the model after the edit, its primary key -> (deletes held back, handed over) under a 25% guard
    "the primary key moves to another column: every record is handed over": (START, "ext", 0, 4),
    "three keys renamed, their match values stay": ([(i + 10, e, n) for i, e, n in START[:3]] + START[3:], "id", 0, 3),
    "two rows leave, one re-keyed account takes a value": ([(99, "SF-1", 99), *START[2:]], "id", 0, 1),
    "three rows leave": (START[3:], "id", 3, 0),
}


@pytest.mark.parametrize("connector", sorted(OBJECTS))
@pytest.mark.parametrize("name", sorted(GUARDED))
def test_the_delete_guard_counts_deletes_not_handovers(world: World, connector: str, name: str) -> None:
    """A handover deletes nothing, so the delete guard (max_delete_share) does not count it: plan and run
    agree, and what they hold back is what `--allow-deletes` then deletes."""
    rows, primary_key, held, handed_over = GUARDED[name]
    write_mapping(world.project, connector, "mirror", share=0.25)
    before = synced(world, connector, START)
    set_rows(world.project.warehouse_url, rows)
    write_mapping(world.project, connector, "mirror", share=0.25, primary_key=primary_key)
    code, planned, _ = world.project.cli("plan", connector, "--json")
    assert code == 0
    code, summary, _ = world.project.cli("run", connector, "--json")
    assert code == (1 if held else 0), summary
    for count, expected in {"held_deletes": held, "handed_over": 0 if held else handed_over}.items():
        assert planned[count] == summary[count] == expected, (count, planned, summary)
    after = world.records(connector)
    if not held:
        assert {ext: num for ext, (_, num) in after.items()} == {ext: float(num) for _, ext, num in rows}
        kept = {ext for _, ext, _ in rows}
        assert {ext: after[ext][0] for ext in kept} == {ext: before[ext][0] for ext in kept}  # the same records
    else:
        assert after == before  # nothing deleted while held


CRASHES = {  # the model after the edit, and an identity the killed run has already deleted
    # a re-key's delete is the first batch (its upsert waits for the acknowledgement)
    "re-key: killed between the delete and the upsert": ([(1, "SF-9", 11), *START[1:]], "SF-1"),
    # the new holder's upsert comes before the removals: the rerun finds the old key removed and the
    # identity held by a row state records
    "handover: killed after the new holder's upsert": ([(99, "SF-1", 99), *START[1:]], None),
}


@pytest.mark.parametrize("point", ["after_ack:1", "after_state:1"])
@pytest.mark.parametrize("name", sorted(CRASHES))
def test_a_crash_mid_move_converges(world: World, name: str, point: str) -> None:
    """Killed after the destination acknowledged the first batch, before or after state recorded it:
    the rerun leaves exactly the model's identities with the model's values."""
    rows, deleted = CRASHES[name]
    write_mapping(world.project, "hubspot", "mirror")
    synced(world, "hubspot", START)
    set_rows(world.project.warehouse_url, rows)
    proc = world.project.subprocess("run", "hubspot", "--json", env={"SYNCER_FAILPOINT": point})
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    assert deleted is None or deleted not in world.records("hubspot")  # the delete went out
    after = synced(world, "hubspot", rows)
    assert {ext: num for ext, (_, num) in after.items()} == {ext: float(num) for _, ext, num in rows}
