"""Record identities, table-driven: canonical keys, duplicate match values, quoted identifiers.

Kinds covered (issue 12, items 2 and 4; reproductions 4 and 6):
- one canonical string per identity whatever the driver returns (int / Decimal / float / UUID /
  date / bytes ...), the same from the warehouse's duplicate check as from the row stream;
- match values that collide at the destination (same value, or equal up to case where the
  destination compares case-insensitively) are rejected before anything is sent, every key named;
- mixed-case and reserved-word columns work as key, match and field on every warehouse, and
  `check` runs exactly the warehouse queries `plan` runs.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.salesforce.emulator import SalesforceEmulator
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.config import ModelConfig, WarehouseConfig
from syncer.identity import IdentityError, canonical_identity, composite_identity, identity_text
from syncer.keycheck import MatchRule
from syncer.secrets import mask
from syncer.source import Source
from tests.connectors.test_salesforce import org, running_org
from tests.engine.conftest import SECRET, Project

__all__ = ["org", "running_org"]  # Salesforce emulator fixtures

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")  # fakesnow

U = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")

# value a driver may return -> its canonical identity
CANONICAL: list[tuple[Any, str]] = [
    ("acme", "acme"),
    (" Acme ", " Acme "),  # strings are exact: no trim, no case folding
    ("SF-1", "SF-1"),
    (7, "7"),
    (-7, "-7"),
    (2**63 + 1, "9223372036854775809"),
    (7.0, "7"),
    (-0.0, "0"),
    (Decimal("7"), "7"),
    (Decimal("7.00"), "7"),
    (Decimal("7E+2"), "700"),
    (Decimal("12.50"), "12.5"),
    (Decimal("12345678901234567890.123"), "12345678901234567890.123"),  # exact, no float on the way
    (0.1, "0.1"),
    (1e-07, "0.0000001"),  # never exponent form
    (True, "true"),
    (False, "false"),
    (U, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    (dt.date(2026, 3, 8), "2026-03-08"),
    (dt.datetime(2026, 3, 8, 23, 30), "2026-03-08T23:30:00"),
    (dt.datetime(2026, 3, 8, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))), "2026-03-08T22:30:00Z"),
    (dt.time(23, 30), "23:30:00"),
    (b"\x01\xab", "01ab"),
    (memoryview(b"\x01\xab"), "01ab"),
]


def _case_id(value: Any) -> str:
    """A test id that is the same in every process (a memoryview's repr holds its address)."""
    shown = bytes(value) if isinstance(value, memoryview) else value
    return f"{type(value).__name__}:{shown!r}"


@pytest.mark.parametrize(("value", "expected"), CANONICAL, ids=[_case_id(v) for v, _ in CANONICAL])
def test_canonical_identity(value: Any, expected: str) -> None:
    assert canonical_identity(value) == expected


@pytest.mark.parametrize("value", [None, math.nan, math.inf, -math.inf, Decimal("NaN"), Decimal("-Infinity")])
def test_values_that_cannot_identify_a_record_are_refused(value: Any) -> None:
    with pytest.raises(IdentityError):
        canonical_identity(value)


def test_the_same_number_from_every_driver_type_is_one_key() -> None:
    spellings = [1, 1.0, Decimal("1"), Decimal("1.000"), "1"]
    assert {canonical_identity(v) for v in spellings} == {"1"}
    assert composite_identity([Decimal("5.0"), dt.date(2024, 2, 1)]) == "5\x1f2024-02-01"


# -- the same canonical key from the warehouse's duplicate check and from the row stream ----------

# key type -> (SQL type per dialect, literal of a value inserted twice, of another, the canonical strings)
KEY_TYPES: dict[str, tuple[dict[str, str], str, str, tuple[str, str]]] = {
    "int": ({}, "7", "8", ("7", "8")),
    "bigint": ({}, "9007199254740993", "9007199254740994", ("9007199254740993", "9007199254740994")),
    "numeric": ({}, "12.00", "12.50", ("12", "12.5")),
    "uuid": (
        {"sqlite": "VARCHAR(36)"},
        f"'{U}'",
        "'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12'",
        (str(U), "b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12"),
    ),
    "text": ({}, "'SF-1'", "'sf-1'", ("SF-1", "sf-1")),
    "date": ({}, "'2026-03-08'", "'2026-03-09'", ("2026-03-08", "2026-03-09")),
}
SQL_TYPE = {
    "int": "INTEGER",
    "bigint": "BIGINT",
    "numeric": "NUMERIC(20,2)",
    "uuid": "UUID",
    "text": "VARCHAR(40)",
    "date": "DATE",
}


def _execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    kind = str(request.param)
    if kind == "sqlite":
        yield kind, f"sqlite:///{tmp_path / 'w.sqlite'}"
    elif kind == "duckdb":
        yield kind, f"duckdb:///{tmp_path / 'w.duckdb'}"
    else:
        yield kind, str(request.getfixturevalue("pg_url"))


@pytest.mark.parametrize("key_type", list(KEY_TYPES))
def test_stream_and_duplicate_check_agree_on_the_canonical_key(
    warehouse: tuple[str, str], key_type: str, tmp_path: Path
) -> None:
    kind, url = warehouse
    overrides, twice, once, (canon_twice, canon_once) = KEY_TYPES[key_type]
    sql_type = overrides.get(kind, SQL_TYPE[key_type])
    cast = "{}" if kind == "sqlite" else f"CAST({{}} AS {sql_type})"  # SQLite's CAST AS DATE yields 2026
    _execute(
        url,
        "DROP TABLE IF EXISTS keyed",
        f"CREATE TABLE keyed (k {sql_type}, m VARCHAR(40))",
        *(f"INSERT INTO keyed VALUES ({cast.format(v)}, '{m}')" for v, m in ((twice, "a"), (twice, "b"), (once, "c"))),
    )
    source = Source(WarehouseConfig(url=url), tmp_path)
    model = ModelConfig(table="keyed", primary_key="k")
    try:
        streamed = sorted(composite_identity([row["k"]]) for row in source.stream(model))
        report = source.check_keys(model)
    finally:
        source.close()
    assert streamed == sorted([canon_twice, canon_twice, canon_once])
    assert report.duplicate_keys == {canon_twice} and report.duplicate_rows == 2


# -- duplicate match values, end to end on the HubSpot and Salesforce emulators (reproduction 4) ---

HS_TOKEN = "hs-identities-token"
SF_USER, SF_PASSWORD, SF_TOKEN = "sync@acme.example", "sf-pw-identities", "SFTOKEN9"

MAPPING = """
connector = "{connector}"
object = "{object}"

[model]
table = "accounts"
primary_key = "account_id"

[match]
field = "{match_field}"
column = "ext"

[fields]
{name_field} = "name"
"""


def _accounts(url: str, rows: list[tuple[int, str, str]]) -> None:
    values = ", ".join(f"({k}, '{m}', '{n}')" for k, m, n in rows)
    _execute(
        url,
        "DROP TABLE IF EXISTS accounts",
        "CREATE TABLE accounts (account_id INTEGER, ext VARCHAR(40), name VARCHAR(100))",
        f"INSERT INTO accounts VALUES {values}",
    )


def _project(tmp_path: Path, connector_toml: str, mapping: str, env: dict[str, str]) -> Project:
    project = Project(tmp_path, f"sqlite:///{tmp_path / 'w.sqlite'}", env=env)
    (tmp_path / "mappings").mkdir(exist_ok=True)
    project.config.write_text(
        f'[syncer]\ndata_dir = "data"\n\n[warehouse]\nurl = "{project.warehouse_url}"\n\n{connector_toml}\n'
    )
    (tmp_path / "mappings" / "accounts.toml").write_text(mapping)
    mask.clear()
    return project


@pytest.fixture
def hubspot(tmp_path: Path) -> Iterator[tuple[Project, HubSpotEmulator]]:
    emu = HubSpotEmulator(token=HS_TOKEN)
    emu.store.define("companies", "syncer_key", "string", unique=True)
    emu.start()
    try:
        toml = f'[connectors.hs]\ntype = "hubspot"\nbase_url = "{emu.base_url}"\naccess_token = "${{HS_TOKEN}}"\n'
        mapping = MAPPING.format(connector="hs", object="companies", match_field="syncer_key", name_field="name")
        yield _project(tmp_path, toml, mapping, {"HS_TOKEN": HS_TOKEN}), emu
    finally:
        emu.stop()


@pytest.fixture
def salesforce(tmp_path: Path) -> Iterator[tuple[Project, SalesforceEmulator]]:
    emu = SalesforceEmulator()
    base_url, ca_bundle = emu.start_tls(tmp_path)
    emu.add_login(SF_USER, SF_PASSWORD, SF_TOKEN)
    try:
        toml = (
            f'[connectors.sf]\ntype = "salesforce"\ninstance_url = "{base_url}"\nlogin_url = "{base_url}"\n'
            f'ca_bundle = "{ca_bundle}"\nauth = "password"\nusername = "{SF_USER}"\n'
            'password = "${SF_PASSWORD}"\nsecurity_token = "${SF_TOKEN}"\n'
        )
        mapping = MAPPING.format(connector="sf", object="Account", match_field="External_Id__c", name_field="Name")
        yield _project(tmp_path, toml, mapping, {"SF_PASSWORD": SF_PASSWORD, "SF_TOKEN": SF_TOKEN}), emu
    finally:
        emu.stop()


# destination -> (rows, keys that collide, the key that goes, the match value it goes under)
COLLISIONS: dict[str, tuple[list[tuple[int, str, str]], list[str], str, str]] = {
    "hubspot": ([(1, "acme", "Acme A"), (2, "acme", "Acme B"), (3, "beta", "Beta")], ["1", "2"], "3", "beta"),
    "salesforce": (
        [(1, "SF-1", "One"), (2, "SF-1", "One again"), (3, "sf-1", "one lower"), (4, "SF-2", "Two")],
        ["1", "2", "3"],
        "4",
        "SF-2",
    ),
}


def _stored(destination: str, emu: Any) -> dict[str, str]:
    """Match value -> name of every record the destination holds."""
    if destination == "hubspot":
        return {v: p.get("name", "") for v, p in emu.stored("companies", "syncer_key").items()}
    return {r["External_Id__c"]: r["Name"] for r in emu.records("Account")}


@pytest.mark.parametrize("destination", list(COLLISIONS))
def test_colliding_match_values_are_rejected_before_sending(
    destination: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    project, emu = request.getfixturevalue(destination)
    rows, colliding, good_key, good_match = COLLISIONS[destination]
    _accounts(project.warehouse_url, rows)

    code, plan, err = project.cli("plan", "accounts", "--json")
    assert code == 0, (plan, err)
    assert plan["bad_rows"] == len(colliding) and plan["added"] == 1, plan
    shown = {s["key"]: s["reason"] for s in plan["bad_row_samples"]}
    assert sorted(shown) == colliding
    for key, reason in shown.items():  # every other colliding key is named in each reason
        assert all(repr(other) in reason for other in colliding if other != key), reason
    assert _stored(destination, emu) == {}  # plan writes nothing

    code, summary, err = project.cli("run", "accounts", "--json")
    assert code == 1, (summary, err)
    assert (summary["succeeded"], summary["rejected"]) == (1, len(colliding)), summary
    assert _stored(destination, emu) == {good_match: rows[int(good_key) - 1][2]}  # nothing merged

    code, audit, _ = project.cli("audit", "accounts", "--status", "rejected", "--json")
    assert code == 0 and sorted(a["key"] for a in audit) == colliding, audit
    assert all("duplicate match value" in a["reason"] for a in audit)

    code, again, _ = project.cli("run", "accounts", "--json")  # the next run is quiet
    assert code == 1 and again["status"] == "out_of_sync", again  # nothing sent, but the rows are not synced
    assert (again["succeeded"], again["rejected"], again["bad_rows"]) == (0, 0, len(colliding)), again

    # fixed in the warehouse: each colliding row gets its own value and goes out
    fixed = [(k, f"{m}-{k}" if str(k) in colliding else m, n) for k, m, n in rows]
    _accounts(project.warehouse_url, fixed)
    code, healed, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and healed["succeeded"] == len(colliding), healed
    assert len(_stored(destination, emu)) == len(rows)


@pytest.mark.parametrize("case_sensitive", [True, False])
def test_salesforce_external_id_comparison_follows_describe(case_sensitive: bool, org: Any) -> None:
    """describe `caseSensitive: true` -> 'SF-1' and 'sf-1' are two records: the duplicate check keeps
    them apart and an update finds exactly its own record; otherwise they are one record."""
    from syncer_connectors.salesforce.emulator_schema import FieldSpec

    from syncer.connector import Destination, Record
    from tests.connectors.test_salesforce import connect

    org.emulator.store.objects["Account"].define(
        FieldSpec("Case_Ext__c", "string", 40, external_id=True, unique=True, case_sensitive=case_sensitive)
    )
    upsert = Destination("Account", "Case_Ext__c", fields={"Name": "n"})
    writer = connect(org, upsert)
    assert writer.match_casefold() is (not case_sensitive)
    first = [
        Record(f"k{i}", "upsert", {"Name": f"n{i}"}, "fp", "ik", match_value=v) for i, v in ((1, "SF-1"), (2, "sf-1"))
    ]
    if not case_sensitive:
        first = first[:1]  # one record at Salesforce: the engine would reject the pair before sending
    assert all(r.status == "ok" for r in writer.send(first))
    update = connect(org, Destination("Account", "Case_Ext__c", mode="update", fields={"Name": "n"}))
    [result] = update.send([Record("k2", "upsert", {"Name": "renamed"}, "fp2", "ik2", match_value="sf-1")])
    assert result.status == "ok", result
    names = {r["Case_Ext__c"]: r["Name"] for r in org.emulator.records("Account") if r.get("Case_Ext__c")}
    assert names == ({"SF-1": "n1", "sf-1": "renamed"} if case_sensitive else {"SF-1": "renamed"}), names


def test_exact_destination_keeps_case_variants_apart(tmp_path: Path) -> None:
    """The webhook compares match values exactly: 'SF-1' and 'sf-1' are two records there."""
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    _accounts(url, [(1, "SF-1", "a"), (2, "sf-1", "b"), (3, "SF-1", "c")])
    source = Source(WarehouseConfig(url=url), tmp_path)
    model = ModelConfig(table="accounts", primary_key="account_id")
    try:
        exact = source.check_keys(model, match=MatchRule("ext", "ext", casefold=False))
        folded = source.check_keys(model, match=MatchRule("ext", "ext", casefold=True))
    finally:
        source.close()
    assert sorted(exact.match_collisions) == ["1", "3"]
    assert sorted(folded.match_collisions) == ["1", "2", "3"]


# -- quoted identifiers on every warehouse (reproduction 6) ----------------------------------------

QUOTED_MAPPING = """
connector = "hook"
object = "accounts"

[model]
table = "quoted_accounts"
primary_key = "{key}"

[match]
field = "ext"
column = "{match}"

[fields]
label = "{field}"
"""

# (key column, match column, field column): mixed case, reserved words
QUOTED_COLUMNS = [("AcctNo", "order", "select"), ("order", "Select", "AcctNo"), ("select", "AcctNo", "order")]


@pytest.fixture(params=["sqlite", "duckdb", "postgresql", "snowflake"])
def any_warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    kind = str(request.param)
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'w.sqlite'}"
    elif kind == "duckdb":
        yield f"duckdb:///{tmp_path / 'w.duckdb'}"
    elif kind == "postgresql":
        yield str(request.getfixturevalue("pg_url"))
    else:
        import fakesnow

        with fakesnow.patch():
            yield "snowflake://syncer:fakesnow-pw@fakeaccount/analytics/public"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as rx:
        yield rx


@pytest.mark.parametrize("columns", QUOTED_COLUMNS, ids=["-".join(c) for c in QUOTED_COLUMNS])
def test_mixed_case_and_reserved_word_columns(
    any_warehouse: str, columns: tuple[str, str, str], tmp_path: Path, receiver: WebhookReceiver
) -> None:
    key, match, field = columns
    types = {key: "INTEGER", match: "VARCHAR(40)", field: "VARCHAR(40)"}
    rows = [
        (1, "e1", "one"),
        (2, "e2", "two"),
        (2, "e2b", "dup"),
        (3, "shared", "x"),
        (4, "shared", "y"),
        (5, "e5", "5"),
    ]
    _execute(
        any_warehouse,
        "DROP TABLE IF EXISTS quoted_accounts",
        "CREATE TABLE quoted_accounts (" + ", ".join(f'"{c}" {t}' for c, t in types.items()) + ")",
        "INSERT INTO quoted_accounts VALUES " + ", ".join(f"({k}, '{m}', '{f}')" for k, m, f in rows),
    )
    project = Project(tmp_path, any_warehouse, hook_url=f"{receiver.base_url}/hooks")
    project.write(mapping=QUOTED_MAPPING.format(key=key, match=match, field=field))
    mask.clear()

    code, out, err = project.cli("check")
    assert code == 0, (out, err)
    code, plan, err = project.cli("plan", "accounts", "--json")
    assert code == 0, (plan, err)
    assert (plan["added"], plan["bad_rows"]) == (2, 4), plan  # key 2 twice; 'shared' on keys 3 and 4
    code, summary, err = project.cli("run", "accounts", "--json")
    assert code == 1 and summary["succeeded"] == 2, (summary, err)
    assert {k: v["label"] for k, v in receiver.records.items()} == {"1": "one", "5": "5"}


def test_check_runs_exactly_the_warehouse_queries_plan_runs(tmp_path: Path, receiver: WebhookReceiver) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    _execute(url, 'CREATE TABLE quoted_accounts ("AcctNo" INTEGER, "order" VARCHAR(40), "select" VARCHAR(40))')
    _execute(url, "INSERT INTO quoted_accounts VALUES (1, 'a', 'x'), (2, 'b', 'y')")
    project = Project(tmp_path, url, hook_url=f"{receiver.base_url}/hooks")
    project.write(mapping=QUOTED_MAPPING.format(key="AcctNo", match="order", field="select"))
    mask.clear()
    issued: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "quoted_accounts" in statement:  # the warehouse's, not the state DB's
            issued.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", listen)
    try:
        assert project.cli("check")[0] == 0
        checked, issued[:] = list(issued), []
        assert project.cli("plan", "accounts")[0] == 0
        planned = list(issued)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", listen)
    # column probe, NULL keys, the key and match columns (duplicate keys and match collisions, on the
    # canonical forms: columnar.key_scan), then the rows (check: for the type check), then plan's own diff
    # (check counts the rows it rejects by running it: one set of rules)
    assert len(checked) == 5 and checked[-1] == checked[-2], checked
    assert checked[2] == 'SELECT "AcctNo", "order" FROM (SELECT * FROM quoted_accounts) AS m', checked
    # A plan checks keys in its stream and runs the three key queries only on a repeat
    # (syncer/columnar/key_repeats.py): the probe and the rows, quoted exactly as check quoted them.
    assert planned == [checked[0], checked[-1]], planned


# -- identities joined across systems --------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(7, "7"), (Decimal("7.00"), "7"), (None, "None"), (math.nan, "nan")])
def test_identity_text_joins_like_canonical_and_never_raises(value: Any, expected: str) -> None:
    """Alert and outcome joins (account ids from several warehouse tables) use this form."""
    assert identity_text(value) == expected


def test_salesforce_task_finds_its_account_whatever_the_external_id_case(org: Any) -> None:
    """Salesforce matches external IDs case-insensitively: a task for 'EXT-1' attaches to 'ext-1'."""
    from syncer_connectors.salesforce.tasks import task_key

    from syncer.connector import Destination, Record
    from tests.connectors.test_salesforce import connect, rec

    [account] = connect(org).send([rec(1)])  # External_Id__c = 'ext-1'
    tasks = Destination("Task", "External_Id__c", mode="insert", fields={"Subject": "s", "account_external_id": "a"})
    fields = {"Subject": "Seat limit", "ActivityDate": dt.date(2026, 3, 9), "account_external_id": "EXT-1"}
    [result] = connect(org, tasks).send([Record("k-1", "upsert", fields, "fp", "ik", match_value="EXT-1")])
    assert result.status == "ok", result
    [task] = [t for t in org.emulator.records("Task") if t.get("Syncer_Key__c") == task_key("k-1")]
    assert task["WhatId"] == account.dest_id
