"""`tz` and `format` never move an instant (evaluator finding 6).

A `format` pattern without `%z` writes the wall clock without its UTC offset; a datetime destination
reads that text as UTC, so `tz = "Europe/Berlin"` landed an hour off in HubSpot and
`America/New_York` four hours off in Salesforce. The rule, the same on every connector with a field
that holds an instant (HubSpot and Salesforce datetime fields, a HubSpot task's `due_at`, a
Salesforce Task datetime field): the instant is kept (no `format`, or one with `%z`), or `plan`,
`run` and `check` stop with a configuration error (exit 2) naming the mapping file and the field,
before anything is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.hubspot.schema import field_type as hubspot_type
from syncer_connectors.salesforce.describe import field_type as salesforce_type

from syncer.mapping import FieldSpec, Mapper
from tests.engine.conftest import Project, hubspot_config

INSTANT = dt.datetime(2026, 3, 8, 12, 30, tzinfo=dt.UTC)
WIRE = "2026-03-08T12:30:00.000Z"
DATETIMES = {
    "hubspot datetime property": hubspot_type({"type": "datetime", "fieldType": "date"}),
    "salesforce datetime": salesforce_type({"type": "datetime"}),
}
# transforms on a datetime field -> kept (the wire carries the same instant) or refused
SPECS: list[tuple[dict[str, Any], bool]] = [
    ({}, True),
    ({"tz": "Europe/Berlin"}, True),
    ({"tz": "America/New_York", "format": "%Y-%m-%dT%H:%M:%S%z"}, True),
    ({"tz": "Asia/Kolkata", "format": "%Y-%m-%d %H:%M:%S.%f%z"}, True),
    ({"tz": "Europe/Berlin", "format": "%Y-%m-%d %H:%M:%S"}, False),
    ({"tz": "America/New_York", "format": "%Y-%m-%dT%H:%M:%S"}, False),
    ({"format": "%Y-%m-%dT%H:%M:%S"}, False),  # the session's zone is not always UTC either
]


@pytest.mark.parametrize("destination", list(DATETIMES))
@pytest.mark.parametrize(("spec", "kept"), SPECS, ids=[str(s) for s, _ in SPECS])
def test_a_datetime_field_keeps_the_instant_or_is_refused(destination: str, spec: dict[str, Any], kept: bool) -> None:
    field_type = DATETIMES[destination]
    mapper = Mapper({"when": FieldSpec(column="ts", **spec)}, "k", types={"when": field_type})
    issues = mapper.instant_issues({"when": field_type.label})
    if kept:
        assert issues == {}
        assert mapper.map({"k": "1", "ts": INSTANT})[1]["when"] == WIRE
    else:
        assert list(issues) == ["when"] and "UTC offset" in issues["when"] and field_type.label in issues["when"]


def test_a_format_on_a_field_that_is_not_an_instant_is_the_authors_choice() -> None:
    mapper = Mapper({"label": FieldSpec(column="ts", tz="Europe/Berlin", format="%H:%M")}, "k")
    assert mapper.instant_issues({"other": "HubSpot datetime property"}) == {}
    assert mapper.map({"k": "1", "ts": INSTANT})[1]["label"] == "13:30"


TOKEN = "hs-instants-token-5120"
COMPANIES = """
connector = "hubspot"
object = "companies"
[model]
table = "t"
primary_key = "id"
[match]
field = "syncer_account_id"
column = "id"
[fields]
renewal_at = {{ column = "ts", cast = "datetime", tz = "Europe/Berlin"{format} }}
"""
TASKS = """
connector = "hubspot"
object = "tasks"
mode = "insert"
[model]
table = "t"
primary_key = "id"
[match]
field = "syncer_account_id"
column = "id"
[fields]
subject = {{ const = "Call" }}
due_at = {{ column = "ts", cast = "datetime", tz = "Europe/Berlin"{format} }}
"""


@pytest.fixture
def hubspot(tmp_path: Path) -> Iterator[tuple[Project, HubSpotEmulator]]:
    emu = HubSpotEmulator(plan="increase", token=TOKEN)
    emu.store.define("companies", "syncer_account_id", "string", unique=True)
    emu.store.define("companies", "renewal_at", "datetime")
    emu.store.define("tasks", "syncer_key", "string")
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id VARCHAR(10), ts VARCHAR(30))"))
        conn.execute(sa.text("INSERT INTO t VALUES ('a', '2026-03-08T12:30:00+00:00')"))
    engine.dispose()
    project = Project(tmp_path, url, env={"HS_TOKEN": TOKEN})
    (tmp_path / "mappings").mkdir()
    project.config.write_text(hubspot_config(url, emu.start()))
    yield project, emu
    emu.stop()


SYNCS = [("companies", COMPANIES, "renewal_at"), ("tasks", TASKS, "due_at")]


@pytest.mark.parametrize("command", ["plan", "run", "check"])
@pytest.mark.parametrize(("sync", "text", "field"), SYNCS)
def test_a_format_that_drops_the_offset_stops_plan_run_and_check(
    hubspot: tuple[Project, HubSpotEmulator], command: str, sync: str, text: str, field: str
) -> None:
    project, emu = hubspot
    (project.root / "mappings" / f"{sync}.toml").write_text(text.format(format=', format = "%Y-%m-%d %H:%M:%S"'))
    code, out, err = project.cli(command, *([] if command == "check" else [sync]))
    assert code == 2, (code, out, err)
    assert f"{sync}.toml" in err + str(out) and f"fields.{field}" in err + str(out), (out, err)
    assert emu.write_calls == 0  # nothing was sent


def test_with_the_offset_the_instant_arrives_unmoved(hubspot: tuple[Project, HubSpotEmulator]) -> None:
    project, emu = hubspot
    mapping = COMPANIES.format(format=', format = "%Y-%m-%dT%H:%M:%S%z"')
    (project.root / "mappings" / "companies.toml").write_text(mapping)
    code, out, err = project.cli("run", "companies")
    assert code == 0, (out, err)
    assert emu.stored("companies", "syncer_account_id")["a"]["renewal_at"] == WIRE
