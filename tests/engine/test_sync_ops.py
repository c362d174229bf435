"""What a sync's records say they are (`op`), per mode: the webhook payload and the audit carry what
syncer does (insert never modifies, update never creates, mirror also deletes), so a receiver that
applies `op` as told ends where the mode says. Messages (Slack, email) are only ever inserted."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer import registry
from syncer.connector import op_of
from tests.engine.conftest import Project, create_accounts


def execute(project: Project, sql: str) -> None:
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text(sql))
    engine.dispose()


# mode -> (ops of the first run over rows 1-3, ops of the second run after row 1 changed, row 3 left
# the model and row 4 arrived), and what the receiver holds in the end (update: rows 1-3 pre-exist).
CASES: dict[str, tuple[dict[str, str], dict[str, str], set[str]]] = {
    "upsert": ({"1": "upsert", "2": "upsert", "3": "upsert"}, {"1": "upsert", "4": "upsert"}, {"1", "2", "3", "4"}),
    "mirror": (
        {"1": "upsert", "2": "upsert", "3": "upsert"},
        {"1": "upsert", "3": "delete", "4": "upsert"},
        {"1", "2", "4"},
    ),
    "insert": ({"1": "insert", "2": "insert", "3": "insert"}, {"4": "insert"}, {"1", "2", "3", "4"}),
    "update": ({"1": "update", "2": "update", "3": "update"}, {"1": "update", "4": "update"}, {"1", "2", "3"}),
}


@pytest.mark.parametrize("mode", list(CASES))
def test_each_mode_sends_the_operation_it_performs(project: Project, receiver: WebhookReceiver, mode: str) -> None:
    first, second, held = CASES[mode]
    create_accounts(project.warehouse_url, 3)
    project.write(mode=mode)
    if mode == "update":  # the records exist already (Sales created them): update never creates
        receiver.records.update({str(i): {"name": "theirs"} for i in range(1, 4)})
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and run["succeeded"] == 3, run
    assert dict(receiver.operations) == first
    receiver.operations.clear()
    execute(project, "UPDATE accounts SET name = 'Renamed' WHERE account_id = 1")
    execute(project, "DELETE FROM accounts WHERE account_id = 3")
    execute(project, "INSERT INTO accounts VALUES (4, 'New', 'acct4.example.com', 5, 'monitor')")
    code, run, _ = project.cli("run", "accounts", "--json", "--allow-deletes")  # 1 of 3 is a mass removal
    assert dict(receiver.operations) == second, run
    assert set(receiver.records) == held
    assert (receiver.records["1"]["name"] == "Renamed") is (mode != "insert")  # insert never modifies
    code, audit, _ = project.cli("audit", "accounts", "--json")
    departed = set() if mode == "mirror" else {("3", "depart")}  # kept at the destination (syncer.departed)
    assert {(r["key"], r["op"]) for r in audit} == {*first.items(), *second.items(), *departed}  # the audit agrees


@pytest.mark.parametrize(
    ("mode", "removed", "op"), [(m, False, CASES[m][0]["1"]) for m in CASES] + [("mirror", True, "delete")]
)
def test_op_of_every_mode(mode: str, removed: bool, op: str) -> None:
    assert op_of(mode, removed) == op


def test_messages_only_insert() -> None:
    """Slack posts and emails cannot be changed once sent (a key posts once): only mode insert."""
    assert {name: registry.load(name).modes for name in ("slack", "email")} == {
        "slack": frozenset({"insert"}),
        "email": frozenset({"insert"}),
    }
