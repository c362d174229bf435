"""Bad input, part 2: rows that can never be sent as they are. Each is rejected with a reason that
names the key or field, counted, visible from `syncer audit`, held while unchanged, and retried
once its data changes; the good rows around it are delivered."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from syncer_connectors.webhook.emulator import REJECT_VALUE, WebhookReceiver

from tests.engine.conftest import MAPPING, Project, create_accounts

NULL_KEY = "(null primary key)"


def execute(project: Project, *statements: str) -> None:
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def rejected_audit(project: Project) -> list[dict[str, Any]]:
    code, rows, err = project.cli("audit", "accounts", "--status", "rejected", "--history", "--json", "--limit", "1000")
    assert code == 0, err
    assert isinstance(rows, list), rows
    return rows


BAD_ROWS = (
    "(NULL, 'No key', 'nokey.example.com', 10, 'monitor'), "
    "(5, 'Second account 5', 'dup5.example.com', 11, 'monitor'), "
    "(301, 'Bad score', 'acct301.example.com', 'abc', 'monitor')"
)
INT_MAPPING = MAPPING.format(mode="upsert").replace("round = 0", 'cast = "int"')


def test_null_duplicate_and_uncastable_rows_are_rejected_and_the_rest_delivered(
    project: Project, receiver: WebhookReceiver
) -> None:
    project.write(mapping=INT_MAPPING)
    create_accounts(project.warehouse_url, 300, extra_rows=BAD_ROWS)

    code, plan, err = project.cli("plan", "accounts", "--json")
    assert code == 0, err
    assert plan["bad_rows"] == 4 and plan["added"] == 299, plan  # 1..300 without 5 (duplicated)

    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 1, (run, err)  # rows were rejected
    assert run["bad_rows"] == 4, run  # the NULL row, both rows of key 5, the row that does not cast
    assert run["succeeded"] == 299 and run["failed"] == 0, run
    assert len(receiver.records) == 299
    assert "5" not in receiver.records and "301" not in receiver.records  # never merged, never half-sent

    audit = rejected_audit(project)
    reasons = {r["key"]: r["reason"] for r in audit}
    assert set(reasons) == {NULL_KEY, "5", "301"}, audit
    assert run["rejected"] == len(audit), (run, audit)  # the counter and the audit trail agree
    assert "account_id" in reasons[NULL_KEY] and "NULL" in reasons[NULL_KEY]
    assert "duplicate primary key '5'" in reasons["5"]
    assert "'pql_score'" in reasons["301"] and "abc" in reasons["301"]
    samples = {s["key"]: s["reason"] for s in run["bad_row_samples"]}
    assert {NULL_KEY, "5", "301"} <= set(samples), run

    code, runs, _ = project.cli("runs", "--json")
    assert runs[0]["rejected"] == run["rejected"] and runs[0]["status"] == "partial", runs[0]

    # Unchanged: nothing is re-sent and nothing is re-recorded.
    calls = receiver.write_calls
    code, again, err = project.cli("run", "accounts", "--json")
    assert again["api_calls"] == 0 and receiver.write_calls == calls, again
    assert again["bad_rows"] == 4 and again["succeeded"] == 0, again
    assert len(rejected_audit(project)) == len(audit)

    # Fixed in the warehouse: each arrives on the next run.
    execute(
        project,
        "DELETE FROM accounts WHERE account_id = 5 AND name = 'Second account 5'",
        "UPDATE accounts SET pql_score = 42 WHERE account_id = 301",
        "UPDATE accounts SET account_id = 302 WHERE account_id IS NULL",
    )
    code, fixed, err = project.cli("run", "accounts", "--json")
    assert code == 0, (fixed, err)
    assert fixed["bad_rows"] == 0 and fixed["added"] == 3 and fixed["succeeded"] == 3, fixed
    assert receiver.records["5"] == {"name": "Account 5", "pql_score": 35, "tier": "ESCALATE"}
    assert receiver.records["301"]["pql_score"] == 42
    assert receiver.records["302"]["name"] == "No key"


def test_an_uncastable_value_is_retried_when_it_changes_even_if_still_bad(
    project: Project, receiver: WebhookReceiver
) -> None:
    """A changed bad row is recorded again with the new reason (not held under the old one)."""
    project.write(mapping=INT_MAPPING)
    create_accounts(project.warehouse_url, 10, extra_rows="(11, 'Bad', 'acct11.example.com', 'abc', 'monitor')")
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 1 and run["rejected"] == 1 and run["succeeded"] == 10, run
    execute(project, "UPDATE accounts SET pql_score = 'xyz' WHERE account_id = 11")
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 1 and run["rejected"] == 1, run
    reasons = [r["reason"] for r in rejected_audit(project)]
    assert len(reasons) == 2 and "xyz" in reasons[0] and "abc" in reasons[1], reasons


def test_a_duplicated_key_is_held_until_the_duplicate_goes(project: Project, receiver: WebhookReceiver) -> None:
    create_accounts(project.warehouse_url, 20, extra_rows="(7, 'Other 7', 'other7.example.com', 1, 'monitor')")
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 1 and run["succeeded"] == 19 and "7" not in receiver.records, run
    # Editing one of the duplicates does not let either through: both rows are still rejected.
    execute(project, "UPDATE accounts SET pql_score = 99 WHERE name = 'Other 7'")
    project.cli("run", "accounts", "--json")
    assert "7" not in receiver.records
    execute(project, "DELETE FROM accounts WHERE name = 'Other 7'")
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and run["added"] == 1, run
    assert receiver.records["7"]["name"] == "Account 7"


def test_receiver_rejections_are_recorded_counted_held_and_retried(project: Project, receiver: WebhookReceiver) -> None:
    create_accounts(project.warehouse_url, 50)
    execute(project, f"UPDATE accounts SET name = '{REJECT_VALUE}' WHERE account_id IN (7, 8)")

    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 1, (run, err)
    assert run["rejected"] == 2 and run["succeeded"] == 48 and run["bad_rows"] == 0, run
    assert "7" not in receiver.records and "8" not in receiver.records and len(receiver.records) == 48

    audit = rejected_audit(project)
    assert {r["key"] for r in audit} == {"7", "8"}, audit
    for row in audit:
        assert row["reason"] == "field 'name': value refused by receiver rule", row

    # Unchanged: not re-sent.
    calls = receiver.write_calls
    code, again, _ = project.cli("run", "accounts", "--json")
    assert again["api_calls"] == 0 and receiver.write_calls == calls, again
    assert again["added"] == 0 and again["held_rejected"] == 2, again

    # Fix one: only that one goes out; the other stays held.
    execute(project, "UPDATE accounts SET name = 'Account 7' WHERE account_id = 7")
    code, fixed, _ = project.cli("run", "accounts", "--json")
    assert fixed["added"] == 1 and fixed["succeeded"] == 1 and fixed["held_rejected"] == 1, fixed
    assert receiver.records["7"]["name"] == "Account 7" and "8" not in receiver.records
    code, reasons, _ = project.cli("audit", "accounts", "--key", "7", "--json")
    assert [r["status"] for r in reasons] == ["ok", "rejected"], reasons


def test_a_rejected_change_to_a_synced_record_is_retried_when_it_changes_again(
    project: Project, receiver: WebhookReceiver
) -> None:
    create_accounts(project.warehouse_url, 10)
    assert project.cli("run", "accounts", "--json")[0] == 0
    execute(project, f"UPDATE accounts SET name = '{REJECT_VALUE}' WHERE account_id = 3")
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 1 and run["changed"] == 1 and run["rejected"] == 1, run
    assert receiver.records["3"]["name"] == "Account 3"  # the destination keeps the last good version
    code, held, _ = project.cli("run", "accounts", "--json")
    assert held["held_rejected"] == 1 and held["api_calls"] == 0, held
    execute(project, "UPDATE accounts SET name = 'Renamed 3' WHERE account_id = 3")
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and run["changed"] == 1 and run["succeeded"] == 1, run
    assert receiver.records["3"]["name"] == "Renamed 3"
