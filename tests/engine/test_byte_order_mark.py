"""A file saved with a UTF-8 byte-order mark (Windows editors, PowerShell `Out-File -Encoding utf8`: it looks right
in every editor) reads as if it had none, in every text file syncer reads: config.toml, a mapping, a mapping's
sql_file, a secret file, and the config the container HEALTHCHECK probe reads. Before, a BOM in a TOML file was
"invalid TOML: Invalid statement (at line 1, column 1)", in a .sql file a warehouse syntax error, in a secret file
part of the secret. Real processes, a SQLite warehouse, the webhook receiver (which checks the signing secret)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import MAPPING, SECRET, Project, create_accounts

BOM = b"\xef\xbb\xbf"
FROM_SQL_FILE = MAPPING.format(mode="upsert").replace('table = "accounts"', 'sql_file = "accounts.sql"')


def with_bom(path: Path) -> None:
    path.write_bytes(BOM + path.read_bytes())


def syncer(project: Project, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m ARGS`; the signing secret from the secrets directory only (never $HOOK_SECRET)."""
    full = {k: v for k, v in os.environ.items() if k != "HOOK_SECRET"} | {"SYNCER_CONFIG": str(project.config), **env}
    return subprocess.run([sys.executable, "-m", *args], env=full, text=True, capture_output=True, timeout=120)


# a BOM in the sql_file too is read without it (SQLite and DuckDB would tolerate it, PostgreSQL would not)
@pytest.mark.parametrize("file", ["config.toml", "mappings/accounts.toml", "secrets/HOOK_SECRET"])
def test_a_file_with_a_byte_order_mark_reads_as_without(project: Project, receiver: WebhookReceiver, file: str) -> None:
    create_accounts(project.warehouse_url, 5)
    project.write(mapping=FROM_SQL_FILE)
    (project.root / "mappings" / "accounts.sql").write_text("SELECT * FROM accounts\n")
    (project.root / "secrets").mkdir()
    (project.root / "secrets" / "HOOK_SECRET").write_text(SECRET + "\n")
    with_bom(project.root / file)
    result = syncer(
        project, "syncer", "run", "accounts", "--json", env={"SYNCER_SECRETS_DIR": str(project.root / "secrets")}
    )
    assert result.returncode == 0, (file, result.stdout[-500:], result.stderr[-800:])
    summary = json.loads(result.stdout)
    assert summary["added"] == 5 and summary["succeeded"] == 5, (file, summary)


def test_the_healthcheck_probe_reads_a_config_with_a_byte_order_mark(project: Project) -> None:
    project.config.write_text(project.config.read_text() + "\n[daemon]\nport = 9\n")  # nothing listens on 9
    with_bom(project.config)
    result = syncer(project, "syncer.server", "probe", env={})
    assert result.returncode == 1 and result.stderr == "", result.stderr[-800:]  # not answering; no traceback
