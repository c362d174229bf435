"""`run --retry-rejected`: rows the destination rejected wait for a change of their data; when the cause was at the
destination (here: `mode = "update"` and the records did not exist yet; a human then creates them), a plain run
keeps holding them and `--retry-rejected` sends exactly them, in every diff mode. Before, only `--full` (every
record re-sent) or an edit of the row released them, though the run's own message said to fix the rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import MAPPING, Project, create_accounts

ROWS = 12
MISSING = {"3", "7", "11"}  # no record at the destination: an update is rejected


@pytest.mark.parametrize("diff", ["rows", "columnar", "warehouse"])
def test_rejected_rows_are_sent_again_on_request_only(tmp_path: Path, receiver: WebhookReceiver, diff: str) -> None:
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    create_accounts(url, ROWS)
    project = Project(tmp_path, url, hook_url=f"{receiver.base_url}/hooks")
    project.write(mapping=f'diff = "{diff}"\n' + MAPPING.format(mode="update"))
    receiver.records.update({str(i): {} for i in range(1, ROWS + 1) if str(i) not in MISSING})

    code, out, err = project.cli("run", "accounts", "--json")
    assert code == 1 and (out["succeeded"], out["rejected"]) == (ROWS - 3, 3), (out, err)
    for key in MISSING:  # a human creates the three records the updates needed
        receiver.records[key] = {}
    code, out, err = project.cli("run", "accounts", "--json")
    assert out["held_rejected"] == 3 and out["succeeded"] == 0, (out, err)
    assert "--retry-rejected" in out["error"], out

    code, plan, err = project.cli("plan", "accounts", "--retry-rejected", "--json")
    assert code == 0 and plan["held_rejected"] == 0 and plan["added"] == 3, (plan, err)
    sent_before = len(receiver.operations)
    code, out, err = project.cli("run", "accounts", "--retry-rejected", "--json")
    assert code == 0 and out["status"] == "ok" and out["succeeded"] == 3, (out, err)
    assert sorted(key for key, _op in receiver.operations[sent_before:]) == sorted(MISSING)
    assert all(receiver.records[key]["name"] == f"Account {key}" for key in MISSING)

    code, out, err = project.cli("run", "accounts", "--json")  # nothing held, nothing left to send
    assert code == 0 and out["status"] == "ok" and out["succeeded"] == 0 and out["held_rejected"] == 0, (out, err)
