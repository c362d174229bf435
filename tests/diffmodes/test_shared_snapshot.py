"""Every warehouse-mode sync keeps its rows in one snapshot table; one sync must never lose another's.

duckdb_engine reflects the snapshot's UBIGINT fingerprint as INTEGER, so every sync's first run (or
rebuild) took the table for an older release's and dropped it, while the other syncs' markers still
said clean: their diffs ran against an empty snapshot and never found a removed row (a mirror kept
deleted records at the destination, even with --full-diff). Now the type is read from the warehouse's
information_schema, and a table that is dropped takes every sync's marker with it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import MAPPING, Project


def _two_mirrors(root: Path, receiver: WebhookReceiver) -> Project:
    url = f"duckdb:///{root / 'w.duckdb'}"
    with duckdb.connect(str(root / "w.duckdb")) as conn:
        conn.execute(
            "CREATE TABLE accounts AS SELECT i AS account_id, 'Account ' || i AS name, 'acct' || i || '.example.com' "
            "AS domain, CAST(i AS DOUBLE) AS pql_score, 'monitor' AS tier FROM range(1, 11) r(i)"
        )
    project = Project(root, url, hook_url=f"{receiver.base_url}/hooks")
    mapping = MAPPING.format(mode="mirror").replace('mode = "mirror"', 'mode = "mirror"\nmax_delete_share = 1.0')
    project.write(mapping=mapping)
    (root / "mappings" / "second.toml").write_text(mapping.replace('object = "accounts"', 'object = "second"'))
    project.config.write_text(project.config.read_text().replace("[warehouse]\n", '[warehouse]\ndiff = "warehouse"\n'))
    return project


@pytest.mark.parametrize("old_table", [False, True])
def test_a_sync_never_loses_another_syncs_snapshot(tmp_path: Path, receiver: WebhookReceiver, old_table: bool) -> None:
    project = _two_mirrors(tmp_path, receiver)
    assert project.cli("run", "accounts", "--json")[0] == 0
    if old_table:  # an older release's table (text fingerprints): dropped and rebuilt, every sync healed
        with duckdb.connect(project.warehouse_url.removeprefix("duckdb:///")) as conn:
            conn.execute("ALTER TABLE syncer.snapshot ALTER fingerprint TYPE VARCHAR")
    assert project.cli("run", "second", "--json")[0] == 0
    with duckdb.connect(project.warehouse_url.removeprefix("duckdb:///")) as conn:
        conn.execute("DELETE FROM accounts WHERE account_id = 3")
    for sync in ("accounts", "second"):
        code, summary, err = project.cli("run", sync, "--json")
        assert code == 0 and summary["removed"] == 1 and summary["unchanged"] == 9, (sync, summary, err)
