"""HubSpot tasks: one task per Record.key across lost answers, association, owner, status readback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.hubspot.tasks import task_key

from syncer.emulator import Fault

from .test_hubspot_support import TASKS, make_connector, make_emulator, paths, record

CREATE = r"/crm/v3/objects/tasks/batch/create"


@pytest.fixture
def emu(clock: Any) -> Iterator[HubSpotEmulator]:
    emulator = make_emulator(clock)
    for i in range(1, 4):
        emulator.store.create("companies", {"syncer_account_id": f"acct-{i}", "name": f"Account {i}"})
    yield emulator
    emulator.stop()


def alert(key: str, company: str = "acct-1", **extra: Any) -> Any:
    fields = {
        "subject": f"Seat limit approaching ({key})",
        "body": "82% of seats used; reach out this week.",
        "due_at": datetime(2026, 5, 1, 9, 0, tzinfo=UTC),
        "priority": "high",
        "company": company,
        **extra,
    }
    return record(key, fields)


def tasks_by_key(emu: HubSpotEmulator) -> dict[str, dict[str, str]]:
    return emu.stored("tasks", "syncer_key")


def company_id(emu: HubSpotEmulator, value: str) -> str:
    found = emu.store.find("companies", "syncer_account_id", value)
    assert found is not None
    return found.id


def test_task_is_created_with_company_association_and_owner(emu: HubSpotEmulator, clock: Any) -> None:
    owner = emu.add_owner("ae@example.com")
    connector = make_connector(emu, clock, TASKS)
    [result] = connector.send([alert("acct-2:seat_limit", company="acct-2", owner_email="AE@example.com")])
    assert result.status == "ok" and result.dest_id
    task = tasks_by_key(emu)[task_key("acct-2:seat_limit")]
    assert task["hs_task_subject"] == "Seat limit approaching (acct-2:seat_limit)"
    assert task["hs_task_priority"] == "HIGH" and task["hs_task_status"] == "NOT_STARTED"
    assert task["hubspot_owner_id"] == owner
    assert task["hs_timestamp"] == "2026-05-01T09:00:00.000Z"
    assert emu.associated("tasks", result.dest_id, "companies") == [(company_id(emu, "acct-2"), 192)]


def test_owner_lookups_are_cached(emu: HubSpotEmulator, clock: Any) -> None:
    emu.add_owner("ae@example.com")
    connector = make_connector(emu, clock, TASKS)
    connector.send([alert(f"k{i}", owner_email="ae@example.com") for i in range(3)])
    connector.send([alert("k9", owner_email="ae@example.com")])
    assert paths(emu, "GET").count("/crm/v3/owners") == 1


def test_lost_create_answer_does_not_duplicate_tasks(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock, TASKS)
    batch = [alert(f"acct-{i}:seat_limit", company=f"acct-{i}") for i in range(1, 4)]
    emu.faults.add(Fault("reset_after_apply", path=CREATE, method="POST"))
    results = connector.send(batch)  # tasks land, the answer is lost, send() retries
    assert [r.status for r in results] == ["ok"] * 3
    assert connector.stats.retries == 1
    assert len(tasks_by_key(emu)) == 3 and len(emu.store.live("tasks")) == 3
    # a rerun after a crash resends the same alerts: found by key, nothing created
    again = connector.send(batch)
    assert [r.dest_id for r in again] == [r.dest_id for r in results]
    assert len(emu.store.live("tasks")) == 3
    # the retry and the rerun both found the tasks by key: only the lost create was ever sent
    assert paths(emu).count("/crm/v3/objects/tasks/batch/create") == 1


def test_unique_key_property_is_read_instead_of_searched(emu: HubSpotEmulator, clock: Any) -> None:
    emu.store.define("tasks", "syncer_key", "string", unique=True)
    connector = make_connector(emu, clock, TASKS)
    emu.faults.add(Fault("reset_after_apply", path=CREATE, method="POST"))
    assert [r.status for r in connector.send([alert("a"), alert("b")])] == ["ok", "ok"]
    assert len(emu.store.live("tasks")) == 2
    assert "/crm/v3/objects/tasks/search" not in paths(emu)
    assert "/crm/v3/objects/tasks/batch/read" in paths(emu)


def test_searching_without_a_unique_key_uses_in_filters(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock, TASKS)
    connector.send([alert("a")])
    assert "/crm/v3/objects/tasks/search" in paths(emu)
    assert "/crm/v3/objects/tasks/batch/read" not in paths(emu)


def test_tasks_that_cannot_be_created_are_rejected_with_a_reason(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock, TASKS)
    results = connector.send(
        [
            alert("ok"),
            alert("nocompany", company="acct-404"),
            alert("noowner", owner_email="ghost@example.com"),
            alert("nosubject", subject=""),
        ]
    )
    assert [r.status for r in results] == ["ok", "rejected", "rejected", "rejected"]
    assert results[1].reason == "companies has no record with syncer_account_id='acct-404'"
    assert (results[2].reason or "").startswith(
        "owner_email 'ghost@example.com': no HubSpot owner has email 'ghost@example.com'"
    )
    assert results[3].reason == "task has no subject"
    assert len(emu.store.live("tasks")) == 1


def test_task_status_reads_open_and_completed_with_when(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock, TASKS)
    done, _open = connector.send([alert("done"), alert("open")])
    clock.sleep(3600)
    completed_at = datetime.fromtimestamp(clock.now, UTC)
    with emu.lock:
        emu.store.apply("tasks", emu.store.objects["tasks"][str(done.dest_id)], {"hs_task_status": "COMPLETED"})
    status = connector.task_status(["done", "open", "never-created"])
    assert set(status) == {"done", "open"}
    assert status["done"].state == "completed" and status["done"].completed_at == completed_at
    assert status["done"].task_id == done.dest_id
    assert status["open"].state == "open" and status["open"].completed_at is None
    assert status["open"].updated_at is not None and status["open"].updated_at < completed_at


def test_deleting_a_task_archives_it(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock, TASKS)
    connector.send([alert("a"), alert("b")])
    assert [r.status for r in connector.send([record("a", {}, op="delete")])] == ["ok"]
    assert set(tasks_by_key(emu)) == {task_key("b")}


def test_check_for_tasks(emu: HubSpotEmulator, clock: Any) -> None:
    assert make_connector(emu, clock, TASKS).check() == []
    problems = make_connector(emu, clock, TASKS, task_key_property="alert_key").check()
    assert problems == [
        "tasks has no property 'alert_key'; create a single-line text property "
        "with that name on tasks (see the connector README)"
    ]
    assert [getattr(p, "key", None) for p in problems] == ["task_key_property"]  # a setting: config.toml's


UPDATE = r"/crm/v3/objects/tasks/batch/update"


def priorities(emu: HubSpotEmulator) -> dict[str, str]:
    return {key: task["hs_task_priority"] for key, task in tasks_by_key(emu).items()}


def test_raise_task_priority_updates_open_tasks_and_names_unknown_keys(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock, TASKS)
    connector.send([alert("a", priority="medium"), alert("b", priority="low")])
    answers = connector.raise_task_priority(["a", "b", "never"], "High")
    assert answers == {"a": None, "b": None, "never": f"no task with syncer_key={task_key('never')!r} (key 'never')"}
    assert priorities(emu) == {task_key("a"): "HIGH", task_key("b"): "HIGH"}
    assert paths(emu).count(UPDATE) == 1  # both tasks in one batch call


def test_raise_task_priority_is_idempotent_and_leaves_completed_tasks_alone(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock, TASKS)
    done, _ = connector.send([alert("done", priority="low"), alert("high")])
    with emu.lock:
        emu.store.apply("tasks", emu.store.objects["tasks"][str(done.dest_id)], {"hs_task_status": "COMPLETED"})
    assert connector.raise_task_priority(["done", "high"], "high") == {"done": None, "high": None}
    assert priorities(emu) == {task_key("done"): "LOW", task_key("high"): "HIGH"}  # completed: history
    assert UPDATE not in paths(emu)  # "high" was HIGH already: no write
    connector.raise_task_priority(["high"], "Normal")
    assert priorities(emu)[task_key("high")] == "MEDIUM"  # priority words map onto HubSpot's values


def test_raise_task_priority_with_a_unique_key_property(emu: HubSpotEmulator, clock: Any) -> None:
    emu.store.define("tasks", "syncer_key", "string", unique=True)
    connector = make_connector(emu, clock, TASKS)
    connector.send([alert("a", priority="low")])
    assert connector.raise_task_priority(["a", "b"], "HIGH") == {
        "a": None,
        "b": f"no task with syncer_key={task_key('b')!r} (key 'b')",
    }
    assert priorities(emu) == {task_key("a"): "HIGH"}
    assert "/crm/v3/objects/tasks/search" not in paths(emu)


def test_raise_task_priority_reports_a_value_hubspot_refuses(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock, TASKS)
    connector.send([alert("a", priority="low")])
    [(key, reason)] = connector.raise_task_priority(["a"], "urgent").items()
    assert key == "a" and reason is not None and reason.startswith("VALIDATION_ERROR: ") and "URGENT" in reason
    assert priorities(emu) == {task_key("a"): "LOW"}


def test_raise_task_priority_retries_a_5xx_and_leaves_out_what_still_fails(emu: HubSpotEmulator, clock: Any) -> None:
    connector = make_connector(emu, clock, TASKS)
    connector.send([alert("a", priority="low")])
    emu.faults.add(Fault("status", path=UPDATE, method="POST", status=503))
    assert connector.raise_task_priority(["a"], "high") == {"a": None}
    assert connector.stats.retries == 1 and priorities(emu) == {task_key("a"): "HIGH"}
    # an outage that outlasts the retry policy: no answer for the key, the alert engine keeps it pending
    emu.faults.add(Fault("status", path=UPDATE, method="POST", status=503, times=99))
    assert connector.raise_task_priority(["a"], "low") == {}
    assert priorities(emu) == {task_key("a"): "HIGH"}
