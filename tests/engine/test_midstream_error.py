"""A warehouse error while the model's rows are being read (a dropped connection at the 31st
partition) stops the run with exit 2 and the warehouse's reason, and everything the destination
acknowledged before it is recorded, so the next run re-sends nothing (before: exit 70, "a bug in
syncer", and the batches in flight were never recorded: they went out again).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

import syncer.columnar.batches
import syncer.source
from syncer.state import StateStore
from tests.engine.conftest import MAPPING, Project

REAL = syncer.source.fetched


def _failing(result: Any, size: int) -> Iterator[Any]:
    """The real `fetched` over a result whose 31st partition of the whole model fails in the driver
    (the identity checks' key scan reads two columns and is left alone)."""

    class Dropped:
        cursor = result.cursor  # `fetched` reads its description (float32 columns)

        def partitions(self, n: int) -> Iterator[Any]:
            for i, part in enumerate(result.partitions(n)):
                if i == 30 and len(result.keys()) > 2:
                    raise sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("connection lost"))
                yield part

    return REAL(Dropped(), size)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["rows", "columnar"])
def test_a_warehouse_error_mid_stream(
    tmp_path: Path, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE accounts (account_id INTEGER, name TEXT, domain TEXT, pql_score REAL, tier TEXT)")
        )
        rows = [{"i": i} for i in range(1, 5001)]
        conn.execute(sa.text("INSERT INTO accounts VALUES (:i, 'n', 'd' || :i || '.io', :i, 'monitor')"), rows)
    engine.dispose()
    project = Project(tmp_path, url, hook_url=f"{receiver.base_url}/hooks")
    project.write(mapping=MAPPING.format(mode="upsert"), batch_size=50)
    project.config.write_text(
        project.config.read_text().replace("[warehouse]\n", f'[warehouse]\ndiff = "{mode}"\nstream_batch = 100\n')
    )
    monkeypatch.setattr(syncer.source, "fetched", _failing)
    monkeypatch.setattr(syncer.columnar.batches, "fetched", _failing)
    code, _, err = project.cli("run", "accounts", "--json")
    assert code == 2 and "warehouse query failed while reading rows: connection lost" in err, err
    state = StateStore(f"sqlite:///{tmp_path / 'data' / 'state.sqlite'}")
    try:
        assert state.count_synced("accounts") == len(receiver.records) > 0  # every acknowledgement recorded
    finally:
        state.close()
