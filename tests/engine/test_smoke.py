from __future__ import annotations

from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import Project, create_accounts


def test_plan_run_and_rerun_sends_only_changes(project: Project, receiver: WebhookReceiver) -> None:
    code, plan, _ = project.cli("plan", "accounts", "--json")
    assert code == 0 and plan["added"] == 300 and plan["changed"] == 0
    assert receiver.write_calls == 0  # plan writes nothing

    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 0, run
    assert (run["succeeded"], run["failed"], run["rejected"]) == (300, 0, 0)
    assert len(receiver.records) == 300
    assert receiver.records["1"] == {"name": "Account 1", "pql_score": 7, "tier": "NURTURE"}

    calls = receiver.write_calls
    code, again, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and again["unchanged"] == 300 and again["api_calls"] == 0
    assert receiver.write_calls == calls  # a no-change run makes 0 write calls

    create_accounts(project.warehouse_url, 300, score_offset=1)  # every pql_score moves by one
    code, changed, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and changed["changed"] == 300 and changed["succeeded"] == 300
