"""`syncer forget KEY` says what the next run does; `--suppress` keeps the key out of runs while its
row is still in the model, and the suppression lifts itself once the row has left. Real CLI, a
SQLite warehouse and the webhook receiver."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.state import StateStore
from syncer.suppression import key_hash, suppressed
from tests.engine.conftest import Project, create_accounts


def execute(project: Project, statement: str) -> None:
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


def sends_of(receiver: WebhookReceiver, key: str) -> int:
    return sum(n for (k, _), n in receiver.applied.items() if k == key)


def suppressions(project: Project) -> set[str]:
    store = StateStore(f"sqlite:///{project.root / 'data' / 'state.sqlite'}")
    try:
        return suppressed(store.engine, "accounts")
    finally:
        store.engine.dispose()


def test_forget_says_the_next_run_sends_it_again(project: Project, receiver: WebhookReceiver) -> None:
    create_accounts(project.warehouse_url, 10)
    assert project.cli("run", "accounts")[0] == 0
    code, out, _ = project.cli("forget", "3")
    assert code == 0 and "the next run sends it again" in out and "--suppress" in out, out
    code, summary, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and summary["added"] == 1 and sends_of(receiver, "3") == 2, summary


def test_suppressed_key_stays_out_until_its_row_leaves_then_comes_back(
    project: Project, receiver: WebhookReceiver
) -> None:
    create_accounts(project.warehouse_url, 10)
    assert project.cli("run", "accounts")[0] == 0
    code, out, _ = project.cli("forget", "3", "--suppress")
    assert code == 0 and "suppressed in accounts" in out, out
    assert suppressions(project) == {key_hash("3")}  # a hash, not the key

    execute(project, "UPDATE accounts SET pql_score = 77 WHERE account_id = 3")  # even a change stays out
    for args in (
        ("plan", "accounts", "--json"),
        ("run", "accounts", "--json"),
        ("run", "accounts", "--full", "--json"),
    ):
        code, summary, _ = project.cli(*args)
        assert code == 0 and summary["added"] == 0 and summary["removed"] == 0, (args, summary)
    assert sends_of(receiver, "3") == 1 and suppressions(project) == {key_hash("3")}

    execute(project, "DELETE FROM accounts WHERE account_id = 3")  # the source row is erased too
    assert project.cli("plan", "accounts", "--json")[0] == 0
    assert suppressions(project) == {key_hash("3")}  # a plan lifts nothing
    assert project.cli("run", "accounts")[0] == 0
    assert suppressions(project) == set()  # lifted: the row left the model

    execute(project, "INSERT INTO accounts VALUES (3, 'Account 3', 'acct3.example.com', 5, 'monitor')")
    code, summary, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and summary["added"] == 1 and sends_of(receiver, "3") == 2, summary  # a new row is a new record


def test_suppress_needs_a_sync_for_an_unknown_key(project: Project, receiver: WebhookReceiver) -> None:
    code, _, err = project.cli("forget", "nobody", "--suppress")
    assert code == 2 and "--sync" in err and "Traceback" not in err, err
    code, out, _ = project.cli("forget", "nobody", "--suppress", "--sync", "accounts")
    assert code == 0 and "suppressed in accounts" in out
    assert suppressions(project) == {key_hash("nobody")}
    code, _, err = project.cli("forget", "3", "--suppress", "--sync", "acounts")
    assert code == 2 and "did you mean 'accounts'" in err, err


@pytest.mark.parametrize("suppress", [False, True])
def test_forget_outside_a_mirror_warns_of_nothing_at_the_destination(
    project: Project, receiver: WebhookReceiver, suppress: bool
) -> None:
    """Only a mirror deletes, so only a mirror's forgotten record is left behind at its destination
    (tests/diffmodes/test_forget_mirror.py: what `forget` says then, in every diff mode)."""
    create_accounts(project.warehouse_url, 10)
    assert project.cli("run", "accounts")[0] == 0
    code, out, _ = project.cli("forget", "3", *(["--suppress"] if suppress else []))
    assert code == 0 and "warning" not in out and "stays at the destination" not in out, out
    execute(project, "DELETE FROM accounts WHERE account_id = 3")
    code, summary, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and summary["removed"] == 0 and "3" in receiver.records  # an upsert sync never deletes
