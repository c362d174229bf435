"""Destination-level configuration is verified by every plan and run, and held records are not "ok".

Repro 9: a HubSpot mapping matched on `domain` (not a unique property). `check` refused it, but
`plan` reported 500 added and `run` sent every batch, split each to single records, rejected all
500, and the next run said `status ok` with nothing in HubSpot.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.webhook.emulator import REJECT_VALUE, WebhookReceiver

from tests.engine.conftest import Project, hubspot_config

TOKEN = "hs-destination-token-4411"
MAPPING = """
connector = "hubspot"
object = "companies"
[model]
table = "accounts"
primary_key = "account_id"
[match]
field = "{match}"
column = "{column}"
[fields]
name = "name"
"""


@pytest.fixture
def hubspot_project(tmp_path: Path) -> Iterator[tuple[Project, HubSpotEmulator]]:
    emu = HubSpotEmulator(plan="increase", token=TOKEN)
    emu.store.define("companies", "syncer_account_id", "string", unique=True)
    emu.store.define("companies", "domain", "string")  # exists, but HubSpot cannot upsert on it
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE accounts (account_id INTEGER, ext VARCHAR(20), dom VARCHAR(50), name TEXT)"))
        conn.execute(
            sa.text("INSERT INTO accounts VALUES (:i, :e, :d, :n)"),
            [{"i": i, "e": f"A-{i}", "d": f"a{i}.example.com", "n": f"Account {i}"} for i in range(1, 51)],
        )
    engine.dispose()
    project = Project(tmp_path, url, env={"HS_TOKEN": TOKEN})
    (tmp_path / "mappings").mkdir()
    project.config.write_text(hubspot_config(url, emu.start()))
    yield project, emu
    emu.stop()


def _mapping(project: Project, match: str, column: str) -> None:
    (project.root / "mappings" / "companies.toml").write_text(MAPPING.format(match=match, column=column))


@pytest.mark.parametrize("command", ["plan", "run"])
def test_a_match_field_hubspot_cannot_upsert_on_stops_plan_and_run(
    hubspot_project: tuple[Project, HubSpotEmulator], command: str
) -> None:
    project, emu = hubspot_project
    _mapping(project, "domain", "dom")
    code, stdout, err = project.cli(command, "companies")
    assert code == 2, (code, stdout, err)
    assert "companies.toml" in err and "domain" in err and "unique" in err, err
    assert emu.write_calls == 0 and emu.store.live("companies") == []  # nothing was sent


def test_a_deleted_destination_property_stops_the_next_run(hubspot_project: tuple[Project, HubSpotEmulator]) -> None:
    project, emu = hubspot_project
    _mapping(project, "syncer_account_id", "ext")
    emu.store.define("companies", "name", "string")
    assert project.cli("run", "companies")[0] == 0
    with emu.lock:
        emu.store.properties["companies"].pop("name")  # an admin deletes the property
    calls = emu.write_calls
    code, _, err = project.cli("run", "companies", "--full")
    assert code == 2 and "name" in err, err
    assert emu.write_calls == calls


def test_held_records_keep_the_sync_out_of_sync_until_fixed(project: Project, receiver: WebhookReceiver) -> None:
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE accounts SET name = :v WHERE account_id IN (4, 5)"), {"v": REJECT_VALUE})
    assert project.cli("run", "accounts")[0] == 1  # rejected now
    code, run, err = project.cli("run", "accounts", "--json")  # nothing new, two still held
    assert code == 1 and run["status"] == "out_of_sync" and run["held_rejected"] == 2, (run, err)
    assert "2 records held back" in run["error"]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE accounts SET name = 'Fixed' WHERE account_id IN (4, 5)"))
    engine.dispose()
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and run["status"] == "ok" and run["succeeded"] == 2, run


def test_a_transient_failure_of_the_destination_check_does_not_stop_the_run(
    project: Project, receiver: WebhookReceiver
) -> None:
    from syncer.emulator import Fault

    # Retry-After: 0 (the server asks for an immediate retry): the test does not wait out a real backoff
    receiver.faults.add(Fault("status", path="/hooks", method="GET", status=503, times=2, retry_after=0))
    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 0 and run["succeeded"] == 300, (run, err)
    assert receiver.faults.fired == 2  # the check was asked again, not blamed on the config


@pytest.mark.parametrize(
    "problem",
    ["match field not unique", "mapped property read-only"],
)
def test_a_destination_config_error_is_not_retried_and_makes_no_api_calls(
    hubspot_project: tuple[Project, HubSpotEmulator], problem: str
) -> None:
    """QA: such runs took 8-15 s (the check verdict was retried with backoff) and reported
    api_calls 5 though nothing was written. A verdict is final: one properties read for the types,
    one for the check; the run is recorded with api_calls 0."""
    project, emu = hubspot_project
    if problem == "match field not unique":
        _mapping(project, "domain", "dom")
    else:
        emu.store.define("companies", "name", "string", read_only=True)
        _mapping(project, "syncer_account_id", "ext")
    code, _, err = project.cli("run", "companies", "--json")
    assert code == 2 and "companies.toml" in err, err
    reads = [p for m, p, _ in list(emu.requests) if m == "GET" and "/properties/" in p]
    assert len(reads) == 2, reads  # field types + one check: no retry of a verdict
    assert emu.write_calls == 0
    code, runs, err = project.cli("runs", "--json")
    assert code == 0, err
    [run] = runs if isinstance(runs, list) else runs["runs"]
    assert run["status"] == "failed" and run["api_calls"] == 0, run
