"""Unchanged source rows are not mapped again; a mapping edit maps everything once, then never again."""

from __future__ import annotations

import sqlite3

import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.mapping import Mapper
from tests.engine.conftest import MAPPING, Project, create_accounts


@pytest.fixture
def map_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    original = Mapper.map

    def counting(self: Mapper, row: dict[str, object]) -> object:
        calls[0] += 1
        return original(self, row)

    monkeypatch.setattr(Mapper, "map", counting)
    return calls


def source_fps(project: Project) -> list[str | None]:
    with sqlite3.connect(project.root / "data" / "state.sqlite") as conn:
        return [r[0] for r in conn.execute("SELECT source_fp FROM synced_records")]


def test_only_changed_rows_are_mapped(project: Project, receiver: WebhookReceiver, map_calls: list[int]) -> None:
    code, first, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and first["succeeded"] == 300 and map_calls[0] == 300
    assert all(source_fps(project))

    map_calls[0] = 0
    create_accounts(project.warehouse_url, 300, extra_rows="")  # same data, rewritten
    code, plan, _ = project.cli("plan", "accounts", "--json")
    assert plan["unchanged"] == 300 and map_calls[0] == 0  # nothing mapped: inputs and mapping are the same

    with sqlite3.connect(project.warehouse_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE accounts SET pql_score = pql_score + 1 WHERE account_id <= 5")
    code, run, _ = project.cli("run", "accounts", "--json")
    assert run["changed"] == 5 and run["succeeded"] == 5 and map_calls[0] == 5


def test_mapping_edit_that_keeps_payloads_maps_once_and_writes_nothing(
    project: Project, receiver: WebhookReceiver, map_calls: list[int]
) -> None:
    project.cli("run", "accounts", "--json")
    before = source_fps(project)
    calls = receiver.write_calls
    # `cast = "int"` on a field that is already a rounded integer: the mapping changes, no payload does
    project.write(
        mapping=MAPPING.format(mode="upsert").replace(
            'pql_score = { column = "pql_score", round = 0 }',
            'pql_score = { column = "pql_score", round = 0, cast = "int" }',
        )
    )
    map_calls[0] = 0
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and run["changed"] == 0 and run["unchanged"] == 300 and map_calls[0] == 300
    assert receiver.write_calls == calls  # nothing re-sent
    after = source_fps(project)
    assert all(after) and not set(after) & set(before)  # fingerprints refreshed for the new mapping

    map_calls[0] = 0
    code, again, _ = project.cli("plan", "accounts", "--json")
    assert again["unchanged"] == 300 and map_calls[0] == 0
