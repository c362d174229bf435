"""`plan --json` and `run --json` print exactly one JSON object for every outcome once the config is read (F11).

Repro (/tmp/trial/w12): with the webhook receiver down, `run m --json` and `plan m --json` printed nothing on
stdout (exit 2) while a refused credential printed the object for `run` (not for `plan`). Each outcome runs as
the user runs it (a process); the exit code is README's "Exit codes" row for it: 0 ok, 1 records rejected,
2 a destination or warehouse that does not answer at its address, or a credential refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from syncer_connectors.webhook.emulator import REJECT_VALUE, WebhookReceiver

from tests.conftest import free_port
from tests.engine.conftest import MAPPING, replace_table

SECRET = "whsec-outcomes-51c0d2a9e7"
PLAN_KEYS = {"sync", "added", "changed", "removed", "unchanged"}
RUN_KEYS = PLAN_KEYS | {"run_id", "succeeded", "failed", "rejected", "status", "error"}
# outcome -> exit code of (plan, run)
OUTCOMES = {
    "ok": (0, 0),
    "partial": (0, 1),  # one row rejected by the receiver
    "destination down": (2, 2),
    "credential refused": (2, 2),
    "warehouse down": (2, 2),
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as rx:
        yield rx


def _project(root: Path, outcome: str, receiver: WebhookReceiver) -> dict[str, str]:
    """A webhook sync `accounts` of 2 rows set up for `outcome`; the environment its commands run with."""
    url = f"sqlite:///{root / 'warehouse.sqlite'}"
    second = REJECT_VALUE if outcome == "partial" else "Account 2"
    columns = {"account_id": "INTEGER", "name": "VARCHAR(200)", "domain": "VARCHAR(200)"}
    columns |= {"pql_score": "FLOAT", "tier": "VARCHAR(20)"}
    replace_table(url, columns, [(1, "Account 1", "a1.example.com", 7.0, "monitor"), (2, second, "a2", 8.0, "nurture")])
    if outcome == "warehouse down":
        url = f"postgresql+psycopg://syncer:pw-44a8c1@127.0.0.1:{free_port()}/warehouse"
    hook = f"http://127.0.0.1:{free_port()}/hooks" if outcome == "destination down" else f"{receiver.base_url}/hooks"
    (root / "mappings").mkdir()
    (root / "mappings" / "accounts.toml").write_text(MAPPING.format(mode="upsert"))
    (root / "config.toml").write_text(
        f'[syncer]\ndata_dir = "data"\n[warehouse]\nurl = "{url}"\n'
        f'[connectors.hook]\ntype = "webhook"\nurl = "{hook}"\nsigning_secret = "${{HOOK_SECRET}}"\n'
    )
    secret = "whsec-not-the-receivers-0f3b" if outcome == "credential refused" else SECRET
    return {**os.environ, "HOOK_SECRET": secret, "SYNCER_CONFIG": str(root / "config.toml")}


@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_plan_and_run_print_one_json_object_for_every_outcome(
    tmp_path: Path, receiver: WebhookReceiver, outcome: str
) -> None:
    env = _project(tmp_path, outcome, receiver)
    for command, keys, code in (("plan", PLAN_KEYS, OUTCOMES[outcome][0]), ("run", RUN_KEYS, OUTCOMES[outcome][1])):
        done = subprocess.run(
            [sys.executable, "-m", "syncer", command, "accounts", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == code, (command, done.stdout, done.stderr)
        lines = done.stdout.splitlines()
        assert len(lines) == 1, (command, done.stdout, done.stderr)
        result = json.loads(lines[0])
        assert isinstance(result, dict) and keys <= result.keys() and result["sync"] == "accounts", result
        if code == 2:  # the sync could not start: status and the error stderr prints
            assert result["status"] == "failed" and result["error"], result
            assert result["error"][:60] in " ".join(done.stderr.split()), (result["error"], done.stderr)
        elif command == "run":
            assert result["status"] == ("ok" if code == 0 else "partial") and result["succeeded"] >= 1, result
            assert result["rejected"] == (0 if code == 0 else 1), result
