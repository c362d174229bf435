"""CLI behaviour: the JSON contract of plan/run, plan writes nothing, field-level diffs, runs, audit,
forget, exit codes, --full, removed rows per mode, insert mode, and JSON logs off a terminal."""

from __future__ import annotations

import json
import sqlite3

import sqlalchemy as sa
from syncer_connectors.webhook.emulator import REJECT_VALUE, WebhookReceiver

from tests.engine.conftest import Project, create_accounts


def execute(project: Project, statement: str) -> None:
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


def state_counts(project: Project) -> dict[str, int]:
    path = project.root / "data" / "state.sqlite"
    if not path.exists():
        return {}
    db = sqlite3.connect(path)
    try:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        created = ("alembic_version", "project_identity")  # written with the schema (migrations), not by a command
        return {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables if t not in created}
    finally:
        db.close()


def test_plan_and_run_json_carry_the_contract_keys(project: Project, receiver: WebhookReceiver) -> None:
    code, plan, err = project.cli("plan", "accounts", "--json")
    assert code == 0, err
    assert {"sync", "added", "changed", "removed", "unchanged"} <= plan.keys(), plan
    assert (plan["sync"], plan["added"], plan["changed"], plan["removed"], plan["unchanged"]) == (
        "accounts",
        300,
        0,
        0,
        0,
    )
    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 0, err
    required = {"sync", "added", "changed", "removed", "unchanged", "run_id", "succeeded", "failed", "rejected"}
    assert required <= run.keys(), run
    assert isinstance(run["run_id"], int)
    assert (run["added"], run["succeeded"], run["failed"], run["rejected"]) == (300, 300, 0, 0)


def test_plan_writes_nothing(project: Project, receiver: WebhookReceiver) -> None:
    for args in (("plan", "accounts"), ("plan", "accounts", "--json", "--show", "5"), ("plan", "accounts", "--full")):
        code, _, err = project.cli(*args)
        assert code == 0, err
    assert receiver.write_calls == 0 and receiver.records == {}
    counts = state_counts(project)
    assert all(n == 0 for n in counts.values()), counts  # no runs, no synced records, no audit


def test_plan_show_lists_field_level_changes(project: Project, receiver: WebhookReceiver) -> None:
    assert project.cli("run", "accounts", "--json")[0] == 0
    execute(project, "UPDATE accounts SET pql_score = pql_score + 1, tier = 'monitor' WHERE account_id IN (1, 2)")
    execute(project, "INSERT INTO accounts VALUES (301, 'New', 'new.example.com', 50, 'nurture')")
    code, plan, err = project.cli("plan", "accounts", "--show", "3", "--json")
    assert code == 0, err
    assert plan["changed"] == 2 and plan["added"] == 1, plan
    samples = {s["key"]: s for s in plan["samples"]}
    assert len(plan["samples"]) == 3, plan
    assert samples["1"]["kind"] == "changed"
    assert samples["1"]["changes"] == {
        "pql_score": {"from": 7, "to": 8},
        "tier": {"from": "NURTURE", "to": "MONITOR"},
    }
    assert samples["2"]["changes"] == {
        "pql_score": {"from": 14, "to": 15},
        "tier": {"from": "ESCALATE", "to": "MONITOR"},
    }
    assert samples["301"]["kind"] == "added" and samples["301"]["fields"]["name"] == "New"
    code, text, _ = project.cli("plan", "accounts", "--show", "1")
    assert code == 0 and '"from": 7' in text and '"to": 8' in text, text


def test_runs_audit_and_forget(project: Project, receiver: WebhookReceiver) -> None:
    create_accounts(project.warehouse_url, 10)
    execute(project, f"UPDATE accounts SET name = '{REJECT_VALUE}' WHERE account_id = 4")
    assert project.cli("run", "accounts", "--json")[0] == 1
    execute(project, "UPDATE accounts SET pql_score = 99 WHERE account_id = 3")
    assert project.cli("run", "accounts", "--json")[0] == 1  # record 4 is still held back: out of sync

    code, runs, _ = project.cli("runs", "--json")
    assert code == 0 and [r["id"] for r in runs] == [2, 1], runs
    assert runs[1]["sync"] == "accounts" and runs[1]["succeeded"] == 9 and runs[1]["rejected"] == 1, runs[1]
    assert runs[0]["changed"] == 1 and runs[0]["status"] == "out_of_sync", runs[0]

    code, rows, _ = project.cli("audit", "accounts", "--key", "3", "--json")
    assert code == 0 and [r["key"] for r in rows] == ["3", "3"], rows
    assert json.loads(rows[0]["payload"])["pql_score"] == 99 and rows[0]["run_id"] == 2
    code, rows, _ = project.cli("audit", "accounts", "--run", "1", "--json", "--limit", "100")
    assert len(rows) == 10 and {r["status"] for r in rows} == {"ok", "rejected"}, rows

    code, out, _ = project.cli("forget", "3")
    assert code == 0 and "1 state" in out and "0 rejected" in out and "2 audit" in out, out
    code, out, _ = project.cli("forget", "4", "--sync", "accounts")
    assert code == 0 and "0 state" in out and "1 rejected" in out and "1 audit" in out, out
    code, _, err = project.cli("audit", "accounts", "--key", "3", "--json")  # erased: no record has the key now
    assert code == 2 and "no record of sync accounts has key '3'" in err, err
    code, plan, _ = project.cli("plan", "accounts", "--json")
    assert plan["added"] == 2, plan  # both forgotten records would be sent again


def test_exit_codes(project: Project, receiver: WebhookReceiver) -> None:
    create_accounts(project.warehouse_url, 5)
    assert project.cli("run", "accounts")[0] == 0
    execute(project, f"UPDATE accounts SET name = '{REJECT_VALUE}' WHERE account_id = 1")
    code, _, err = project.cli("plan", "accounts")
    assert code == 0, err  # a plan with changes is still a successful plan
    assert project.cli("run", "accounts")[0] == 1  # a record was rejected
    assert project.cli("run", "nope")[0] == 2  # unknown sync
    assert project.cli("plan")[0] == 2  # usage error: missing argument
    assert project.cli("run", "accounts", "--no-such-option")[0] == 2
    project.config.write_text(project.config.read_text().replace("[warehouse]", "[warehouse"))
    code, out, err = project.cli("run", "accounts", "--json")
    assert code == 2 and "Traceback" not in f"{out}{err}", err


def test_full_resends_everything(project: Project, receiver: WebhookReceiver) -> None:
    assert project.cli("run", "accounts", "--json")[0] == 0
    code, plan, _ = project.cli("plan", "accounts", "--full", "--json")
    assert plan["changed"] == 300 and plan["unchanged"] == 0, plan
    code, run, _ = project.cli("run", "accounts", "--full", "--json")
    assert code == 0 and run["succeeded"] == 300, run
    assert set(receiver.applied.values()) == {2}  # every record version applied twice
    code, run, _ = project.cli("run", "accounts", "--json")
    assert run["unchanged"] == 300 and run["api_calls"] == 0, run


def test_removed_rows_in_upsert_mode_are_kept_as_departed_without_calls(
    project: Project, receiver: WebhookReceiver
) -> None:
    assert project.cli("run", "accounts", "--json")[0] == 0
    calls = receiver.write_calls
    execute(project, "DELETE FROM accounts WHERE account_id > 290")
    code, run, _ = project.cli("run", "accounts", "--json")
    assert (
        code == 0
        and run["removed"] == 0
        and run["left_model"] == 10
        and run["unchanged"] == 290
        and run["departed"] == 10
    ), run
    assert receiver.write_calls == calls and len(receiver.records) == 300  # the destination keeps them
    code, run, _ = project.cli("run", "accounts", "--json")
    assert run["removed"] == 0 and run["departed"] == 10, run  # not live, not forgotten (syncer.departed)
    execute(project, "INSERT INTO accounts VALUES (300, 'Back', 'acct300.example.com', 1, 'monitor')")
    code, run, _ = project.cli("run", "accounts", "--json")
    assert run["added"] == 0 and run["changed"] == 1 and run["departed"] == 9, run  # matched to its record
    assert receiver.records["300"]["name"] == "Back"


def test_removed_rows_in_mirror_mode_are_deleted(project: Project, receiver: WebhookReceiver) -> None:
    project.write(mode="mirror")
    assert project.cli("run", "accounts", "--json")[0] == 0
    execute(project, "DELETE FROM accounts WHERE account_id > 290")
    code, plan, _ = project.cli("plan", "accounts", "--json")
    assert plan["removed"] == 10, plan
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and run["removed"] == 10 and run["succeeded"] == 10, run
    assert len(receiver.records) == 290 and "291" not in receiver.records
    code, rows, _ = project.cli("audit", "accounts", "--key", "295", "--json")
    assert [r["op"] for r in rows] == ["delete", "upsert"], rows
    code, run, _ = project.cli("run", "accounts", "--json")
    assert run["removed"] == 0 and run["api_calls"] == 0, run


def test_insert_mode_never_resends_changed_rows(project: Project, receiver: WebhookReceiver) -> None:
    project.write(mode="insert")
    assert project.cli("run", "accounts", "--json")[0] == 0
    calls = receiver.write_calls
    create_accounts(project.warehouse_url, 300, score_offset=1)
    execute(project, "INSERT INTO accounts VALUES (301, 'New', 'new.example.com', 5, 'monitor')")
    code, plan, _ = project.cli("plan", "accounts", "--json")
    assert plan["changed"] == 0 and plan["added"] == 1 and plan["unchanged"] == 300, plan
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and run["succeeded"] == 1 and receiver.write_calls == calls + 1, run
    assert receiver.records["1"]["pql_score"] == 7  # the first version stays
    assert len(receiver.applied) == 301


def test_logs_are_json_lines_off_a_terminal_and_text_when_asked(project: Project, receiver: WebhookReceiver) -> None:
    base = project.config.read_text()
    project.config.write_text(base.replace('data_dir = "data"', 'data_dir = "data"\nlog_level = "debug"'))
    code, _, err = project.cli("run", "accounts", "--json")  # log_format auto; the runner's stderr is not a TTY
    assert code == 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "no log line to check"
    for line in lines:
        entry = json.loads(line)
        assert {"ts", "level", "logger", "msg"} <= entry.keys(), entry
    text = base.replace('data_dir = "data"', 'data_dir = "data"\nlog_level = "debug"\nlog_format = "text"')
    project.config.write_text(text)
    code, _, err = project.cli("run", "accounts", "--json", "--full")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 0 and lines and all(" DEBUG " in line and not line.startswith("{") for line in lines), err


def test_mirror_holds_back_a_mass_removal_until_allowed(project: Project, receiver: WebhookReceiver) -> None:
    project.write(mode="mirror")
    code, first, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and first["succeeded"] == 300
    create_accounts(project.warehouse_url, 100)  # 200 of 300 records vanish at once: an upstream accident?
    code, held, _ = project.cli("run", "accounts", "--json")
    assert code == 1 and held["held_deletes"] == 200 and "deletes held back" in held["error"]
    assert len(receiver.records) == 300  # nothing deleted
    code, again, _ = project.cli("plan", "accounts", "--json")
    assert again["removed"] == 200 and again["held_deletes"] == 200  # still held, still visible
    code, applied, _ = project.cli("run", "accounts", "--allow-deletes", "--json")
    assert code == 0 and applied["removed"] == 200 and applied["succeeded"] == 200
    assert len(receiver.records) == 100
