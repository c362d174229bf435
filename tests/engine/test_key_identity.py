"""Where the destination finds a record by syncer's key, the key is the record's identity (syncer.rekeys).

A webhook receiver applies `op` by the record's `key` (connectors/webhook/README.md "Request"), so a
match value there is a field like any other: it hands no record over and re-keys none. Seen in a
newcomer's trial: a mirror sync whose primary key changed, or whose key values were renamed, had its
removed keys "handed over" by match value instead of deleted, and the receiver held 8 records for
4 rows. Table-driven over the edits that move keys or match values, each run as a process: after the
run the receiver holds exactly the model's keys with the model's values, the keys that left were
deleted (and only they), and the next plan finds nothing to do.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass

import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import Project, replace_table

START = [(1, "a.example", 10), (2, "b.example", 20), (3, "c.example", 30), (4, "d.example", 40)]


@dataclass
class Case:
    rows: list[tuple[int, str, int]]  # the model after the edit: (id, domain, score)
    primary_key: str = "id"  # the model's primary key after the edit
    deleted: tuple[str, ...] = ()  # keys the run deletes at the receiver


CASES = {
    "a key value is renamed, its match value stays": Case(
        [(99, "a.example", 10), *START[1:]],
        deleted=("1",),
    ),
    "the primary key moves to another column": Case(START, primary_key="domain", deleted=("1", "2", "3", "4")),
    "a row's match value changes": Case([(1, "z.example", 11), *START[1:]]),
    "two rows swap their match values": Case([(1, "b.example", 11), (2, "a.example", 21), *START[2:]]),
    "a row takes a removed row's match value": Case([(2, "a.example", 21), *START[2:]], deleted=("1",)),
}


def set_rows(url: str, rows: list[tuple[int, str, int]]) -> None:
    replace_table(url, {"id": "INTEGER", "domain": "TEXT", "score": "INTEGER"}, rows)


def mapping(primary_key: str) -> str:
    return textwrap.dedent(f"""
        connector = "hook"
        object = "accounts"
        mode = "mirror"
        max_delete_share = 1.0
        [model]
        table = "accounts"
        primary_key = "{primary_key}"
        [match]
        field = "domain"
        column = "domain"
        [fields]
        score = "score"
        """)


def run(project: Project, *args: str) -> dict[str, int | str]:
    proc = project.subprocess(*args, "--json")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    summary: dict[str, int | str] = json.loads(out)
    return summary


def expected(case: Case) -> dict[str, dict[str, int]]:
    position = 0 if case.primary_key == "id" else 1
    return {str(row[position]): {"score": row[2]} for row in case.rows}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_webhook_mirror_deletes_the_keys_that_left(project: Project, receiver: WebhookReceiver, name: str) -> None:
    case = CASES[name]
    set_rows(project.warehouse_url, START)
    project.write(mapping=mapping("id"))
    run(project, "run", "accounts")
    assert set(receiver.records) == {"1", "2", "3", "4"}
    receiver.operations.clear()

    set_rows(project.warehouse_url, case.rows)
    project.write(mapping=mapping(case.primary_key))
    planned = run(project, "plan", "accounts")
    summary = run(project, "run", "accounts")

    assert receiver.records == expected(case)  # one record per row, the model's values, nothing left over
    assert sorted(key for key, op in receiver.operations if op == "delete") == sorted(case.deleted)
    for count in ("removed", "handed_over", "rekeyed", "held_deletes"):
        wanted = len(case.deleted) if count == "removed" else 0
        assert planned[count] == summary[count] == wanted, (count, planned, summary)
    again = run(project, "plan", "accounts")
    assert again["added"] == again["changed"] == again["removed"] == 0, again
