"""Salesforce Tasks: one task per Record.key across lost replies and resends; status read back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from syncer_connectors.salesforce.tasks import task_key

from syncer.connector import Destination, Record
from syncer.emulator import Fault
from tests.connectors.test_salesforce import connect, org, rec, running_org
from tests.contract.harness_salesforce import Harness

__all__ = ["org", "running_org"]  # fixtures shared with test_salesforce.py

TASKS = Destination(
    "Task",
    "External_Id__c",
    mode="insert",
    fields={
        "Subject": "alert.subject",
        "Description": "alert.body",
        "ActivityDate": "alert.due",
        "Priority": "alert.priority",
        "account_external_id": "alert.account_id",
        "owner_email": "alert.owner_email",
    },
)


def task(key: str, account: str, owner: str | None = "ae@acme.example", **extra: Any) -> Record:
    fields = {
        "Subject": f"Seat limit approaching ({key})",
        "Description": "92% of seats used; talk expansion.",
        "ActivityDate": dt.date(2026, 1, 9),
        "Priority": "High",
        "account_external_id": account,
        "owner_email": owner,
        **extra,
    }
    return Record(key, "upsert", fields, f"fp-{key}", f"ik-{key}", match_value=account)


def seed(org: Harness) -> str:
    connect(org).send([rec(1), rec(2)])
    return org.emulator.add_user("AE@acme.example")


def tasks(org: Harness) -> list[dict[str, Any]]:
    return org.emulator.records("Task")


def test_creates_tasks_linked_to_account_and_owner(org: Harness) -> None:
    owner = seed(org)
    connector = connect(org, TASKS)
    results = connector.send(
        [task("a1:seat_limit", "ext-1"), task("a2:seat_limit", "ext-2", owner="nobody@acme.example")]
    )
    assert [r.status for r in results] == ["ok", "rejected"]
    assert "no Salesforce user has Email 'nobody@acme.example'" in (results[1].reason or "")
    account_ids = {row["External_Id__c"]: row["Id"] for row in org.emulator.records("Account")}
    by_key = {row["Syncer_Key__c"]: row for row in tasks(org)}
    assert by_key["a1:seat_limit"]["WhatId"] == account_ids["ext-1"]
    assert by_key["a1:seat_limit"]["OwnerId"] == owner  # matched case-insensitively by email
    assert "a2:seat_limit" not in by_key  # unknown owner: not given to the integration user
    assert by_key["a1:seat_limit"]["ActivityDate"] == "2026-01-09"
    assert results[0].dest_id == by_key["a1:seat_limit"]["Id"]


def test_unknown_account_is_rejected_with_a_clear_reason(org: Harness) -> None:
    seed(org)
    results = connect(org, TASKS).send([task("a9:seat_limit", "ext-404")])
    assert results[0].status == "rejected"
    assert results[0].reason == "NOT_FOUND: no Account with External_Id__c = 'ext-404'"
    assert tasks(org) == []


def test_lost_create_reply_and_resend_never_duplicate_a_task(org: Harness) -> None:
    seed(org)
    batch = [task(f"a1:trigger-{i}", "ext-1") for i in range(5)]
    org.emulator.faults.add(Fault("reset_after_apply", path="/composite/sobjects$", method="POST"))
    connector = connect(org, TASKS)
    first = connector.send(batch)  # creates land, reply lost; the retry finds them by key
    assert [r.status for r in first] == ["ok"] * 5 and connector.stats.retries == 1
    again = connect(org, TASKS).send(batch)  # a crash before state advanced: the next run resends
    assert [r.dest_id for r in again] == [r.dest_id for r in first]
    assert sorted(row["Syncer_Key__c"] for row in tasks(org)) == sorted(r.key for r in batch)
    posts = [p for m, p, _ in org.emulator.requests if m == "POST" and p.endswith("/composite/sobjects")]
    assert len(posts) == 1


def test_task_status_reads_open_and_completed(org: Harness) -> None:
    seed(org)
    connector = connect(org, TASKS)
    done, still_open = connector.send([task("a1:seat", "ext-1"), task("a2:seat", "ext-2")])
    org.emulator.complete_task(str(done.dest_id), "2026-01-03T10:00:00.000+0000")
    status = connector.task_status(["a1:seat", "a2:seat", "a3:never"])
    assert set(status) == {"a1:seat", "a2:seat"}
    assert status["a1:seat"].status == "completed"
    assert status["a1:seat"].completed_at == dt.datetime(2026, 1, 3, 10, tzinfo=dt.UTC)
    assert status["a2:seat"].status == "open" and status["a2:seat"].completed_at is None
    assert status["a2:seat"].task_id == still_open.dest_id


def test_long_keys_are_hashed_and_long_text_is_clipped(org: Harness) -> None:
    seed(org)
    key = "acct-1:" + "k" * 200
    connector = connect(org, TASKS)
    result = connector.send([task(key, "ext-1", Subject="S" * 400)])[0]
    assert result.status == "ok"
    row = tasks(org)[0]
    assert row["Syncer_Key__c"] == task_key(key) and len(task_key(key)) <= 80
    assert len(row["Subject"]) == 255 and row["Subject"].endswith("\u2026")
    assert set(connector.task_status([key])) == {key}


def test_check_reports_a_missing_task_key_field(org: Harness) -> None:
    assert connect(org, TASKS).check() == []
    problems = connect(org, TASKS, task_key_field="Alert_Key__c").check()
    assert problems == ["task_key_field: Task has no field 'Alert_Key__c' (create it: Text(80), filterable)"]


def priorities(org: Harness) -> dict[str, str]:
    return {row["Syncer_Key__c"]: row["Priority"] for row in tasks(org)}


def updates_by_id(org: Harness) -> list[str]:
    return [p for m, p, _ in org.emulator.requests if m == "PATCH" and p.endswith("/composite/sobjects")]


def test_raise_task_priority_updates_open_tasks_and_names_unknown_keys(org: Harness) -> None:
    seed(org)
    connector = connect(org, TASKS)
    connector.send([task("a1:seat", "ext-1", Priority="Normal"), task("a2:seat", "ext-2", Priority="Low")])
    answers = connector.raise_task_priority(["a1:seat", "a2:seat", "a3:never"], "High")
    assert answers == {
        "a1:seat": None,
        "a2:seat": None,
        "a3:never": "NOT_FOUND: no Task with Syncer_Key__c = 'a3:never'",
    }
    assert priorities(org) == {"a1:seat": "High", "a2:seat": "High"}
    assert len(updates_by_id(org)) == 1  # both tasks in one collections call


def test_raise_task_priority_is_idempotent_and_leaves_closed_tasks_alone(org: Harness) -> None:
    seed(org)
    connector = connect(org, TASKS)
    done, _ = connector.send([task("a1:seat", "ext-1", Priority="Normal"), task("a2:seat", "ext-2")])
    org.emulator.complete_task(str(done.dest_id))
    assert connector.raise_task_priority(["a1:seat", "a2:seat"], "high") == {"a1:seat": None, "a2:seat": None}
    assert priorities(org) == {"a1:seat": "Normal", "a2:seat": "High"}  # closed: history, not edited
    assert updates_by_id(org) == []  # a2 was High already: no write
    connector.raise_task_priority(["a2:seat"], "medium")
    assert priorities(org)["a2:seat"] == "Normal"  # priority words map onto the picklist


def test_raise_task_priority_finds_hashed_long_keys(org: Harness) -> None:
    seed(org)
    key = "acct-1:" + "k" * 200
    connector = connect(org, TASKS)
    connector.send([task(key, "ext-1", Priority="Low")])
    assert connector.raise_task_priority([key], "High") == {key: None}
    assert priorities(org) == {task_key(key): "High"}


def test_raise_task_priority_retries_a_5xx_and_leaves_out_what_still_fails(org: Harness) -> None:
    seed(org)
    connector = connect(org, TASKS)
    connector.send([task("a1:seat", "ext-1", Priority="Normal")])
    org.emulator.faults.add(Fault("status", path="/composite/sobjects$", method="PATCH", status=503))
    assert connector.raise_task_priority(["a1:seat"], "High") == {"a1:seat": None}
    assert connector.stats.retries == 1 and priorities(org) == {"a1:seat": "High"}
    # an outage that outlasts the retry policy: no answer for the key, the alert engine keeps it pending
    org.emulator.faults.add(Fault("status", path="/composite/sobjects$", method="PATCH", status=503, times=99))
    assert connector.raise_task_priority(["a1:seat"], "Low") == {}
    assert priorities(org) == {"a1:seat": "High"}
