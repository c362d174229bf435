"""State remembers WHERE and HOW each record was written (syncer.destinations), so editing the destination
definition never duplicates, no-ops or mis-reports.

Table-driven through the CLI (`plan`, `run`) against loopback emulators (HubSpot, Salesforce, two webhook
receivers): a sync runs, one piece of its destination definition is edited (match field, endpoint, mode,
token, connector name), then the plan must say what the run does, the run must do it, and the next plan
must find nothing left. `test_the_upgrade_re_sends_nothing` writes state the way the previous release did
(schema 0012, source fingerprints of the old scope) and checks the first run after the upgrade sends nothing.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.salesforce.emulator import SalesforceEmulator
from syncer_connectors.salesforce.emulator_schema import FieldSpec
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.connector import EXISTED
from syncer.destinations import DestinationDefinition, normal_address
from syncer.state import MIGRATIONS
from tests.engine.conftest import SECRET, Project

TOKEN = "hs-destid-token-1"
SF = {"SF_USER": "destid@example.com", "SF_PASS": "pw-destid-2", "SF_TOKEN": "tok-destid-3"}
ROWS = [(1, "A-1", 10), (2, "A-2", 20), (3, "A-3", 30), (4, "A-4", 40)]
OBJECTS = {  # connector -> (object, match field, the other unique field, number field, extra fields)
    "hubspot": ("companies", "syncer_account_id", "alt_id", "pql_score", ""),
    "salesforce": ("Account", "External_Id__c", "Alt_Id__c", "Num__c", 'Name = "ext"\n'),
    "hook": ("accounts", "ext", "alt", "num", ""),
}


@dataclass
class World:
    project: Project
    hubspot: dict[str, HubSpotEmulator]  # "sandbox", "production"
    hooks: dict[str, WebhookReceiver]
    salesforce: SalesforceEmulator
    env: dict[str, str] = field(default_factory=dict)

    def records(self, connector: str, where: str = "sandbox") -> dict[str, tuple[str, float]]:
        """ext value (under either match field) -> (record id, number) at the destination."""
        _, match, other, number, _ = OBJECTS[connector]
        if connector == "hubspot":
            live = self.hubspot[where].store.live("companies")
            return {r.properties.get(match) or r.properties[other]: (r.id, float(r.properties[number])) for r in live}
        if connector == "salesforce":
            return {(r.get(match) or r[other]): (r["Id"], float(r[number])) for r in self.salesforce.records("Account")}
        return {f"A-{k}": (k, float(v["num"])) for k, v in self.hooks[where].records.items()}  # keyed by id

    def count(self, connector: str, where: str = "sandbox") -> int:
        if connector == "hubspot":
            return len(self.hubspot[where].store.live("companies"))
        if connector == "salesforce":
            return len(self.salesforce.records("Account"))
        return len(self.hooks[where].records)

    def sent(self, where: str = "sandbox") -> int:
        """Records delivered to a webhook receiver so far (every operation, resends included)."""
        return len(self.hooks[where].operations)

    def cli(self, *args: str) -> tuple[int, Any, str]:
        self.project.env.update(self.env)
        return self.project.cli(*args)


def set_rows(url: str, rows: list[tuple[int, str, int]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS accounts"))
        conn.execute(sa.text("CREATE TABLE accounts (id INTEGER, ext TEXT, num INTEGER)"))
        values = [{"i": i, "e": e, "n": n} for i, e, n in rows]
        conn.execute(sa.text("INSERT INTO accounts VALUES (:i, :e, :n)"), values)
    engine.dispose()


def config_text(url: str, sf_url: str, ca: str) -> str:
    return textwrap.dedent(f"""
        [syncer]
        data_dir = "data"
        [warehouse]
        url = "{url}"
        [connectors.hubspot]
        base_url = "${{HS_URL}}"
        access_token = "${{HS_TOKEN}}"
        plan_tier = "increase"
        rate_limit_margin = 0.0
        [connectors.salesforce]
        instance_url = "{sf_url}"
        login_url = "{sf_url}"
        auth = "password"
        username = "${{SF_USER}}"
        password = "${{SF_PASS}}"
        security_token = "${{SF_TOKEN}}"
        ca_bundle = "{ca}"
        [connectors.hook]
        type = "webhook"
        url = "${{HOOK_URL}}"
        signing_secret = "${{HOOK_SECRET}}"
        [connectors.hook_renamed]
        type = "webhook"
        url = "${{HOOK_URL}}"
        signing_secret = "${{HOOK_SECRET}}"
        """)


def write_mapping(
    project: Project,
    connector: str,
    mode: str,
    match: str | None = None,
    carry: str | None = None,
    via: str = "",
    name: str = "s",
    shares: str = "",
) -> None:
    """The sync `s` writing `connector`'s object in `mode`, matched on `match` (default: its usual field);
    `carry`: also map that field from the match column; `via`: the connector entry (default `connector`); `shares`:
    a sync it declares to write the same records (`shares_records_with`)."""
    obj, usual, _, number, extra = OBJECTS[connector]
    carried = f'{carry} = "ext"\n' if carry else ""
    (project.root / "mappings" / f"{name}.toml").write_text(
        textwrap.dedent(f"""
        connector = "{via or connector}"
        object = "{obj}"
        mode = "{mode}"
        max_delete_share = 1.0
        shares_records_with = [{f'"{shares}"' if shares else ""}]
        [model]
        table = "accounts"
        primary_key = "id"
        [match]
        field = "{match or usual}"
        column = "ext"
        [fields]
        {number} = "num"
        """)
        + extra
        + carried
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    hubspot = {}
    for where in ("sandbox", "production"):
        hs = HubSpotEmulator(plan="increase", token=TOKEN)
        hs.store.define("companies", "syncer_account_id", "string", unique=True)
        hs.store.define("companies", "alt_id", "string", unique=True)
        hs.store.define("companies", "pql_score", "number")
        hubspot[where] = hs
    salesforce = SalesforceEmulator()
    salesforce.add_login(SF["SF_USER"], SF["SF_PASS"], SF["SF_TOKEN"])
    salesforce.store.objects["Account"].define(FieldSpec("Num__c", "double"))
    salesforce.store.objects["Account"].define(FieldSpec("Alt_Id__c", "string", length=40, external_id=True))
    hooks = {where: WebhookReceiver(SECRET).__enter__() for where in ("sandbox", "production")}
    sf_url, ca = salesforce.start_tls(tmp_path)
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    env = {"HS_URL": hubspot["sandbox"].start(), "HS_TOKEN": TOKEN, "HOOK_URL": f"{hooks['sandbox'].base_url}/hooks"}
    project = Project(tmp_path, url, env={**SF, **env})
    (tmp_path / "mappings").mkdir()
    project.config.write_text(config_text(url, sf_url, ca))
    set_rows(url, ROWS)
    world = World(project, hubspot, hooks, salesforce, env)
    yield world
    for hs in hubspot.values():
        hs.stop()
    for rx in hooks.values():
        rx.__exit__(None, None, None)
    salesforce.stop()


def to_production(world: World, connector: str) -> None:
    """The endpoint moves from sandbox to production (the same credentials)."""
    if connector == "hubspot":
        world.env["HS_URL"] = world.hubspot["production"].start()
    else:
        world.env["HOOK_URL"] = f"{world.hooks['production'].base_url}/hooks"


def rotate_secret(world: World, secret: str) -> None:
    """The webhook's signing secret is rotated, at the receiver and in the environment."""
    world.env["HOOK_SECRET"] = secret
    world.hooks["sandbox"].secret = secret


def respell(world: World, template: str) -> None:
    """The webhook URL is written another way that names the same place: `template` with {scheme}, {host}
    (host:port) and {path} of the sandbox receiver's URL."""
    scheme, host = world.hooks["sandbox"].base_url.split("://")
    world.env["HOOK_URL"] = template.format(scheme=scheme, host=host, path="/hooks")


def salesforce_trailing_slash(world: World) -> None:
    """`instance_url` and `login_url` gain a trailing slash (connectors/salesforce/auth.py strips it)."""
    for name in ("instance_url", "login_url"):
        text = world.project.config.read_text()
        start = text.index(f'{name} = "') + len(f'{name} = "')
        end = text.index('"', start)
        world.project.config.write_text(text[:start] + text[start:end] + "/" + text[end:])


SAME_PLACE = {  # the webhook URL written another way (RFC 3986 §6.2.2): the same destination, nothing re-sent
    "a token in the query rotated": "{scheme}://{host}{path}?token=rotated-2",
    "user info added": "{scheme}://hookuser:pw-rotated@{host}{path}",
    "an empty query": "{scheme}://{host}{path}?",
    "a fragment": "{scheme}://{host}{path}#part",
    "the scheme in capitals": "HTTP://{host}{path}",
    # §6.2.2.1 and §6.2.2.2: "/hooks" with unreserved characters percent-encoded, hex in either case
    "unreserved characters percent-encoded": "{scheme}://{host}/h%6Fok%73",
    "percent-encoding in lower-case hex": "{scheme}://{host}/h%6fok%73",
}


@dataclass
class Case:
    connector: str
    before: dict[str, Any]  # write_mapping arguments of the first runs
    after: dict[str, Any]  # ... after the edit
    plan: dict[str, int]  # counts the plan after the edit must show
    reason: str = ""  # a part of the plan's `destination_changed` reason ("" : none)
    edit: Callable[[World], None] | None = None  # besides the mapping
    where: str = "sandbox"  # the destination that must hold the model afterwards
    kept_ids: bool = True  # the records written before are the ones updated (same ids)
    sends: int | None = None  # webhook: deliveries the run after the edit makes


CASES = {
    # 1. the match field moves: an identity move (syncer.rekeys), never a silent second record
    "match field, mirror: deleted and created under the new field": Case(
        "hubspot",
        {"mode": "mirror"},
        {"mode": "mirror", "match": "alt_id"},
        {"changed": 4, "rekeyed": 4},
        reason="match field from 'syncer_account_id' to 'alt_id'",
        kept_ids=False,
    ),
    "match field, upsert, the records carry it: updated in place": Case(
        "hubspot",
        {"mode": "upsert", "carry": "alt_id"},
        {"mode": "upsert", "match": "alt_id", "carry": "alt_id"},
        {"changed": 4, "rekeyed": 4},
        reason="match field",
    ),
    "match field, salesforce mirror": Case(
        "salesforce",
        {"mode": "mirror"},
        {"mode": "mirror", "match": "Alt_Id__c"},
        {"changed": 4, "rekeyed": 4},
        reason="match field from 'External_Id__c' to 'Alt_Id__c'",
        kept_ids=False,
    ),
    "match field, salesforce upsert, the records carry it": Case(
        "salesforce",
        {"mode": "upsert", "carry": "Alt_Id__c"},
        {"mode": "upsert", "match": "Alt_Id__c", "carry": "Alt_Id__c"},
        {"changed": 4, "rekeyed": 4},
        reason="match field",
    ),
    # 2. the endpoint moves: a new destination, sent everything, the reason shown
    "hubspot base URL, sandbox -> production": Case(
        "hubspot",
        {"mode": "upsert"},
        {"mode": "upsert"},
        {"changed": 4},
        reason="address from",
        edit=lambda w: to_production(w, "hubspot"),
        where="production",
        kept_ids=False,
    ),
    "webhook URL moves, insert mode: inserted there once": Case(
        "hook",
        {"mode": "insert"},
        {"mode": "insert"},
        {"changed": 4},
        reason="address from",
        edit=lambda w: to_production(w, "hook"),
        where="production",
        sends=4,
    ),
    "webhook signing secret rotated: nothing re-sent": Case(
        "hook",
        {"mode": "insert"},
        {"mode": "insert"},
        {"changed": 0, "added": 0},
        edit=lambda w: rotate_secret(w, "whsec-rotated-99"),
        sends=0,
    ),
    "connector renamed, insert mode: nothing re-sent": Case(
        "hook",
        {"mode": "insert"},
        {"mode": "insert", "via": "hook_renamed"},
        {"changed": 0, "added": 0},
        sends=0,
    ),
    **{
        f"webhook URL respelled, insert mode: {what}": Case(
            "hook",
            {"mode": "insert"},
            {"mode": "insert"},
            {"changed": 0, "added": 0},
            edit=lambda w, t=template: respell(w, t),  # type: ignore[misc]
            sends=0,
        )
        for what, template in SAME_PLACE.items()
    },
    "salesforce instance and login URL with a trailing slash: nothing re-sent": Case(
        "salesforce",
        {"mode": "upsert"},
        {"mode": "upsert"},
        {"changed": 0, "added": 0},
        edit=salesforce_trailing_slash,
    ),
    # 3. the mode moves: every record planned again
    "mode insert -> upsert: the rows insert mode left alone are updated": Case(
        "hook",
        {"mode": "insert"},
        {"mode": "upsert"},
        {"changed": 4},
        reason="write (mode) from 'insert' to 'upsert'",
        edit=lambda w: set_rows(w.project.warehouse_url, [(i, e, n + 1) for i, e, n in ROWS]),
        sends=4,
    ),
}


def model(world: World) -> dict[str, float]:
    engine = sa.create_engine(world.project.warehouse_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT ext, num FROM accounts")).all()
    engine.dispose()
    return {e: float(n) for e, n in rows}


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_edited_destination_is_planned_and_sent(world: World, name: str) -> None:
    case = CASES[name]
    write_mapping(world.project, case.connector, **case.before)
    code, summary, err = world.cli("run", "s", "--json")
    assert code == 0 and summary["status"] == "ok", (summary, err)
    before = world.records(case.connector)
    if case.edit is not None:
        case.edit(world)
    write_mapping(world.project, case.connector, **case.after)
    sent = world.sent(case.where) if case.connector == "hook" else 0

    code, planned, err = world.cli("plan", "s", "--json", "--show", "10")
    assert code == 0, (planned, err)
    assert {k: planned[k] for k in case.plan} == case.plan, planned
    reasons = planned["destination_changed"]
    if case.reason:
        assert [n for r, n in reasons.items() if case.reason in r] == [4], reasons
        moved = [s for s in planned["samples"] if s["kind"] != "added"]  # a mirror re-key's upsert: a new record
        assert moved and all(case.reason in s.get("destination", "") for s in moved), planned["samples"]
    else:
        assert reasons == {}, reasons

    code, summary, err = world.cli("run", "s", "--json")
    assert code == 0 and summary["status"] == "ok", (summary, err)
    assert {k: summary[k] for k in case.plan} == case.plan, summary
    after = world.records(case.connector, case.where)
    assert {e: n for e, (_, n) in after.items()} == model(world), after
    assert world.count(case.connector, case.where) == len(ROWS)  # no second record for any row
    if case.kept_ids:
        assert {e: i for e, (i, _) in after.items()} == {e: i for e, (i, _) in before.items()}
    if case.sends is not None:
        assert world.sent(case.where) - sent == case.sends
    code, again, _ = world.cli("plan", "s", "--json")
    assert code == 0 and again["added"] == again["changed"] == again["removed"] == 0, again


@pytest.mark.parametrize("connector", ["hubspot", "salesforce"])
def test_a_match_field_change_in_upsert_mode_is_refused(world: World, connector: str) -> None:
    """HubSpot batch upsert (and Salesforce upsert by external ID) creates a record when none holds the new
    field's value: the plan and the run exit 2 naming the file, `match.field` and the fix; nothing is written."""
    other = OBJECTS[connector][2]
    write_mapping(world.project, connector, "upsert")
    code, summary, err = world.cli("run", "s", "--json")
    assert code == 0, (summary, err)
    before = world.records(connector)
    write_mapping(world.project, connector, "upsert", match=other)
    for command_name in ("check", "plan", "run"):
        code, _, err = world.cli(command_name, "s", "--json") if command_name != "check" else world.cli("check")
        assert code == 2, err
        assert "s.toml" in err and "match.field" in err and f"fields.{other}" in err, err
    assert world.records(connector) == before and world.count(connector) == len(ROWS)


def test_mode_update_to_upsert_releases_not_found_rejections(world: World) -> None:
    """Update mode never creates: the rows are rejected and held. Their rejection's advice (change the mode)
    must work: under upsert they are planned and created."""
    write_mapping(world.project, "hook", "update")
    code, summary, _ = world.cli("run", "s", "--json")
    assert code == 1 and summary["rejected"] == 4 and world.count("hook") == 0, summary
    code, summary, _ = world.cli("plan", "s", "--json")
    assert summary["held_rejected"] == 4 and summary["added"] == 0, summary  # held while nothing changes
    write_mapping(world.project, "hook", "upsert")
    code, planned, _ = world.cli("plan", "s", "--json")
    assert code == 0 and planned["added"] == 4 and planned["held_rejected"] == 0, planned
    code, summary, err = world.cli("run", "s", "--json")
    assert code == 0 and summary["succeeded"] == 4, (summary, err)
    assert {e: n for e, (_, n) in world.records("hook").items()} == model(world)


def downgrade_to_0012(state_url: str) -> None:
    """State as the previous release left it: schema 0012 (no destination per record) and source
    fingerprints of its scope (here: other than this release's, so every row is mapped again once)."""
    engine = sa.create_engine(state_url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0012")
        conn.execute(sa.text("UPDATE synced_records SET source_fp = 'old-scope-' || key"))
    engine.dispose()


@pytest.mark.parametrize("mode", ["insert", "upsert"])
def test_the_upgrade_re_sends_nothing(world: World, mode: str) -> None:
    """The first run after the upgrade maps every row again (the fingerprint's scope now holds the
    destination) but sends nothing -- no re-sent inserts above all; a later endpoint change is then seen."""
    write_mapping(world.project, "hook", mode)
    code, summary, _ = world.cli("run", "s", "--json")
    assert code == 0 and world.sent() == 4, summary
    state_url = f"sqlite:///{world.project.root / 'data' / 'state.sqlite'}"
    downgrade_to_0012(state_url)
    code, planned, _ = world.cli("plan", "s", "--json")
    assert code == 0 and planned["added"] == planned["changed"] == 0 and planned["unchanged"] == 4, planned
    code, summary, err = world.cli("run", "s", "--json")
    assert code == 0 and summary["succeeded"] == 0 and summary["api_calls"] == 0, (summary, err)
    assert world.sent() == 4  # nothing delivered again
    to_production(world, "hook")
    code, summary, _ = world.cli("run", "s", "--json")
    assert code == 0 and summary["changed"] == 4 and world.sent("production") == 4, summary


@pytest.mark.parametrize("connector", ["hubspot", "salesforce", "hook"])
def test_insert_mode_audits_a_record_that_already_existed(world: World, connector: str) -> None:
    """Insert mode never modifies: where the destination already holds the record (written by another sync
    here), the run acknowledges it and the audit says it was not updated, not `insert ok` with the payload."""
    write_mapping(world.project, connector, "upsert", name="earlier")
    code, summary, err = world.cli("run", "earlier", "--json")
    assert code == 0, (summary, err)
    held = world.records(connector)
    set_rows(world.project.warehouse_url, [(i, e, n + 5) for i, e, n in ROWS])
    write_mapping(world.project, connector, "insert", shares="earlier")  # declared: else refused (shared_records)
    code, summary, err = world.cli("run", "s", "--json")
    assert code == 0 and summary["succeeded"] == 4, (summary, err)
    assert world.records(connector) == held  # left alone
    code, rows, _ = world.cli("audit", "s", "--json")
    assert [(r["op"], r["status"], r["reason"]) for r in rows] == [("insert", "ok", EXISTED)] * 4, rows


def test_a_new_endpoint_is_written_by_match_value_only(world: World) -> None:
    """Record ids state holds belong to the old destination: after a move, a mirror run neither deletes by
    them nor writes through them at the new one (which here holds other companies under the same ids), and a
    row that left the model has nothing to delete there (its record is the old destination's)."""
    write_mapping(world.project, "hubspot", "mirror")
    code, summary, _ = world.cli("run", "s", "--json")
    assert code == 0, summary
    sandbox = world.records("hubspot")
    production = world.hubspot["production"].store
    others = {
        production.create("companies", {"syncer_account_id": f"OTHER-{i}", "pql_score": "1"}).id for i in range(4)
    }
    assert others == {i for i, _ in sandbox.values()}  # the same ids, other companies
    to_production(world, "hubspot")
    set_rows(world.project.warehouse_url, ROWS[:3])  # row 4 leaves the model as the endpoint moves
    code, summary, err = world.cli("run", "s", "--json")
    assert code == 0 and summary["status"] == "ok", (summary, err)
    after = world.records("hubspot", "production")
    assert {e: n for e, (_, n) in after.items()} == {**{f"OTHER-{i}": 1.0 for i in range(4)}, **model(world)}
    assert world.records("hubspot") == sandbox  # the old destination is left alone
    code, again, _ = world.cli("plan", "s", "--json")
    assert code == 0 and again["added"] == again["changed"] == again["removed"] == 0, again


def test_a_secret_in_the_url_path_is_never_shown_or_stored(world: World) -> None:
    """A webhook URL whose path is the secret (Slack incoming webhooks: /services/T…/B…/XXXX) moves to
    another path: plan (text and JSON), run and state show scheme://host:port and a digest of the path only,
    yet still tell the two apart."""
    paths = {where: f"/hooks/T0-sekret{where.upper()}-Zq81x" for where in ("a", "b")}
    receivers = {where: WebhookReceiver(SECRET, path=path).__enter__() for where, path in paths.items()}
    try:
        write_mapping(world.project, "hook", "upsert")
        world.env["HOOK_URL"] = receivers["a"].base_url + paths["a"]
        code, summary, err = world.cli("run", "s", "--json")
        assert code == 0 and len(receivers["a"].records) == 4, (summary, err)
        world.env["HOOK_URL"] = receivers["b"].base_url + paths["b"]
        outputs = []
        for args in (("plan", "s", "--json", "--show", "2"), ("plan", "s", "--show", "2"), ("run", "s")):
            code, out, err = world.cli(*args)
            outputs.append(f"{out}{err}")
            if args[1:2] == ("s",) and "--json" in args:
                assert [n for r, n in out["destination_changed"].items() if "address from" in r] == [4], out
        assert len(receivers["b"].records) == 4
        assert "destination changed: address from" in outputs[1], outputs[1]
        state = world.project.root / "data" / "state.sqlite"
        engine = sa.create_engine(f"sqlite:///{state}")
        with engine.connect() as conn:
            tables = [t for (t,) in conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'table'"))]
            stored = [repr(row) for t in tables for row in conn.execute(sa.text(f'SELECT * FROM "{t}"'))]
        engine.dispose()
        leaks = [text for text in [*outputs, *stored] if "sekret" in text]
        assert leaks == [], leaks[:2]
    finally:
        for rx in receivers.values():
            rx.__exit__(None, None, None)


SPELLINGS = [  # (one spelling, another, the same place?) -- RFC 3986 §6.2.2
    ("https://hooks.example.com/svc/T0-pathtoken", "HTTPS://Hooks.Example.COM/svc/T0-pathtoken", True),
    ("https://hooks.example.com/svc/T0-pathtoken", "https://hooks.example.com:443/svc/T0-pathtoken", True),
    ("http://hooks.example.com/svc/T0-pathtoken", "http://hooks.example.com:80/svc/T0-pathtoken/", True),
    ("https://hooks.example.com/svc/T0-pathtoken", "https://bot:pw@hooks.example.com/svc/T0-pathtoken?token=1#f", True),
    ("https://hooks.example.com/svc/T0-pathtoken", "https://hooks.example.com/svc/T0-pathtoken?", True),
    ("https://hooks.example.com/svc/T0-pathtoken", "https://hooks.example.com:8443/svc/T0-pathtoken", False),
    ("https://hooks.example.com/svc/T0-pathtoken", "http://hooks.example.com/svc/T0-pathtoken", False),
    # a path is case-sensitive
    ("https://hooks.example.com/svc/T0-pathtoken", "https://hooks.example.com/SVC/T0-PATHTOKEN", False),
    ("https://sandbox.example.com", "https://example.com", False),
    # §6.2.2.1: the hex digits of a percent-encoding in either case
    ("https://hooks.example.com/svc/T0-pathtoken%2fx", "https://hooks.example.com/svc/T0-pathtoken%2Fx", True),
    ("https://hooks.example.com/svc/T0-pathtoken%3a", "https://hooks.example.com/svc/T0-pathtoken%3A", True),
    # §6.2.2.2: an unreserved character (ALPHA DIGIT - . _ ~) percent-encoded or not
    ("https://hooks.example.com/svc/~T0-pathtoken", "https://hooks.example.com/svc/%7eT0-pathtoken", True),
    ("https://hooks.example.com/svc/~T0-pathtoken", "https://hooks.example.com/svc/%7ET0-pathtoken", True),
    ("https://hooks.example.com/svc/T0-pathtoken", "https://hooks.example.com/svc/%54%30%2d%70athtoken", True),
    ("https://hooks.example.com/svc/T0-pathtoken._", "https://hooks.example.com/svc/T0-pathtoken%2E%5f", True),
    # a reserved (or other) character is never decoded: "%2F" is no segment separator, "%3F" no query
    ("https://hooks.example.com/svc/T0-pathtoken/x", "https://hooks.example.com/svc/T0-pathtoken%2Fx", False),
    ("https://hooks.example.com/svc/T0-pathtoken?x", "https://hooks.example.com/svc/T0-pathtoken%3Fx", False),
    ("https://hooks.example.com/svc/T0-pathtoken:", "https://hooks.example.com/svc/T0-pathtoken%3A", False),
    ("https://hooks.example.com/svc/T0-pathtoken%20", "https://hooks.example.com/svc/T0-pathtoken%2520", False),
    ("https://hooks.example.com/svc/T0-pathtoken%7E", "https://hooks.example.com/svc/T0-pathtoken%257E", False),
]


@pytest.mark.parametrize(("one", "other", "same"), SPELLINGS)
def test_an_address_is_compared_normalised(one: str, other: str, same: bool) -> None:
    assert (normal_address(one) == normal_address(other)) is same
    defs = [DestinationDefinition.of("webhook", [url], "accounts", "insert", "ext") for url in (one, other)]
    assert (defs[0].digest == defs[1].digest) is same
    for url, definition in zip((one, other), defs, strict=True):
        assert "pathtoken" not in definition.as_json().lower(), url  # the path only as a digest


def test_a_percent_encoded_rewrite_of_the_url_sends_nothing_as_a_process(world: World) -> None:
    """leftovers4 #4, as the user runs it: `syncer run` processes; the webhook URL rewritten with its path
    percent-encoded ("/hooks" as "/h%6fok%73", RFC 3986 §6.2.2.2) is the same destination: 0 records sent."""
    write_mapping(world.project, "hook", "insert")
    first = world.project.subprocess("run", "s", "--json", env=world.env)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0 and json.loads(out)["succeeded"] == 4, err
    respell(world, "{scheme}://{host}/h%6fok%73")
    second = world.project.subprocess("run", "s", "--json", env=world.env)
    out, err = second.communicate(timeout=120)
    summary = json.loads(out)
    assert second.returncode == 0, err
    assert (summary["succeeded"], summary["changed"], summary["added"], summary["api_calls"]) == (0, 0, 0, 0), summary
    assert world.sent() == 4  # the receiver got each record once


@pytest.mark.parametrize("path", ["/h%6fok%73", "/h%6Fok%73"])
def test_the_upgrade_to_percent_normal_addresses_re_sends_nothing(world: World, path: str) -> None:
    """State the previous release wrote for a URL whose path holds a percent-encoded unreserved character: its
    digest compared the path as written. The first run after the upgrade takes those records as written under
    the normalised address (`SyncDestination.earlier`), as a process: 0 sent."""
    write_mapping(world.project, "hook", "insert")
    respell(world, "{scheme}://{host}" + path)
    code, summary, err = world.cli("run", "s", "--json")
    assert code == 0 and world.sent() == 4, (summary, err)
    url = world.env["HOOK_URL"]
    now = DestinationDefinition.of("webhook", [url], "accounts", "insert", "ext")
    before = DestinationDefinition.of("webhook", [url], "accounts", "insert", "ext", percent=False)
    assert before.digest != now.digest  # the case this test is about
    engine = sa.create_engine(f"sqlite:///{world.project.root / 'data' / 'state.sqlite'}")
    with engine.begin() as conn:  # as the previous release left it
        for table in ("synced_records", "rejected_records"):
            conn.execute(sa.text(f"UPDATE {table} SET destination = :old"), {"old": before.digest})
        # its source fingerprints' scope held that digest (`Mapper(destination=)`): every row is mapped again
        conn.execute(sa.text("UPDATE synced_records SET source_fp = 'old-scope-' || key"))
        conn.execute(
            sa.text("UPDATE sync_destinations SET digest = :old, definition = :text"),
            {"old": before.digest, "text": before.as_json()},
        )
    engine.dispose()
    shutil.rmtree(world.project.root / "data" / "sidecars", ignore_errors=True)  # rebuilt from that state
    code, planned, _ = world.cli("plan", "s", "--json")  # says what the run does
    assert code == 0 and planned["changed"] == 0 and planned["destination_changed"] == {}, planned
    proc = world.project.subprocess("run", "s", "--json", env=world.env)
    out, err = proc.communicate(timeout=120)
    summary = json.loads(out)
    assert proc.returncode == 0, err
    assert (summary["succeeded"], summary["api_calls"]) == (0, 0), summary
    assert world.sent() == 4  # nothing delivered again
    code, planned, _ = world.cli("plan", "s", "--json")
    assert code == 0 and planned["added"] == planned["changed"] == 0, planned


def test_a_salesforce_address_reads_as_one_address(world: World) -> None:
    """Salesforce writes to one org (instance_url, else the login endpoint): state and plan show that one
    URL, not its three settings side by side ("https://… https://… login")."""
    write_mapping(world.project, "salesforce", "upsert")
    code, summary, err = world.cli("run", "s", "--json")
    assert code == 0, (summary, err)
    engine = sa.create_engine(f"sqlite:///{world.project.root / 'data' / 'state.sqlite'}")
    with engine.connect() as conn:
        stored = [
            DestinationDefinition.from_json(t)
            for (t,) in conn.execute(sa.text("SELECT definition FROM sync_destinations"))
        ]
    engine.dispose()
    host = world.project.config.read_text().split('instance_url = "https://')[1].split('"')[0]
    assert [d.address for d in stored] == [f"https://{host}"], stored


def test_definitions_stored_by_0014_are_rewritten_without_re_sending(world: World) -> None:
    """State written under migration 0014's definitions (the webhook URL whole, its token and secret path
    included; a digest of the raw text) is rewritten by 0016: the URL leaves state, and the records stay
    under their definition, so the next run sends nothing (insert mode: no duplicates)."""
    path = "/hooks/T0-sekretLEGACY-Zq81x"
    receiver = WebhookReceiver(SECRET, path=path).__enter__()
    try:
        write_mapping(world.project, "hook", "insert")
        raw = f"{receiver.base_url}{path}?token=tok-sekret-1"
        world.env["HOOK_URL"] = raw
        code, summary, err = world.cli("run", "s", "--json")
        assert code == 0 and len(receiver.operations) == 4, (summary, err)
        state_url = f"sqlite:///{world.project.root / 'data' / 'state.sqlite'}"
        engine = sa.create_engine(state_url)
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        legacy = {"connector": "webhook", "address": raw.split("?")[0], "address_fp": "0" * 16}
        legacy.update(object="accounts", op="insert", match_field=None)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0015")
            conn.execute(  # the source fingerprint's spec held the legacy digest: every row is mapped again
                sa.text("UPDATE synced_records SET destination = 'legacy-digest', source_fp = 'legacy-' || key")
            )
            conn.execute(
                sa.text("UPDATE sync_destinations SET digest = 'legacy-digest', definition = :d"),
                {"d": json.dumps(legacy)},
            )
        engine.dispose()
        world.env["HOOK_URL"] = raw.replace("tok-sekret-1", "tok-sekret-2")  # rotated with the upgrade
        code, planned, err = world.cli("plan", "s", "--json")
        assert code == 0 and planned["added"] == planned["changed"] == 0, (planned, err)
        code, summary, err = world.cli("run", "s", "--json")
        assert code == 0 and len(receiver.operations) == 4, (summary, err)
        engine = sa.create_engine(state_url)
        with engine.connect() as conn:
            stored = [repr(r) for r in conn.execute(sa.text("SELECT * FROM sync_destinations"))]
            digests = set(conn.scalars(sa.text("SELECT DISTINCT destination FROM synced_records")))
        engine.dispose()
        assert len(stored) == 1 and "sekret" not in stored[0] and len(digests) == 1, stored
    finally:
        receiver.__exit__(None, None, None)
