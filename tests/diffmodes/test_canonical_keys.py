"""Two rows never silently become one record, whatever the warehouse's own equality says.

The identity checks decide on syncer's canonical forms (syncer.columnar.key_scan), not on the
warehouse's GROUP BY: keys a warehouse calls equal but state keeps apart (a case-insensitive
collation) are two records; keys a warehouse keeps apart but state calls one (an untyped SQLite
column, composite parts holding the separator) are rejected as duplicates, every row of them.

Table-driven, on real SQLite, DuckDB and PostgreSQL, in every diff mode the warehouse supports:
the plan rejects exactly the expected keys, the run records exactly the plan (state's unique key
never fails), and the next plan finds nothing to do (no record flips between two rows).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.keycheck import MatchRule
from syncer.runner import SyncJob
from tests.diffmodes.harness import open_job, plan, run, write_project
from tests.engine.conftest import Project

os.environ.setdefault("HOOK_SECRET", "whsec-test-canonical-keys")

SEP = "\x1f"


@dataclass
class Case:
    warehouse: str
    ddl: str  # CREATE TABLE model (...): columns a, b (key parts), m (match), v
    rows: list[tuple[Any, ...]]  # (a, b, m, v)
    primary_key: list[str]
    sent: set[str]  # canonical keys added
    duplicates: set[str] = field(default_factory=set)  # keys rejected as duplicated
    collisions: set[str] = field(default_factory=set)  # keys rejected for a shared match value
    casefold: bool = False


CASES = {
    "SQLite: 1 and '1' are one key": Case(
        "sqlite",
        "CREATE TABLE model (a, b, m TEXT, v INTEGER)",
        [(1, "", "x1", 1), ("1", "", "x2", 2), (2, "", "x4", 4), (3.0, "", "x5", 5)],
        ["a"],
        sent={"2", "3"},
        duplicates={"1"},
    ),
    "SQLite: match values 7 and '7' collide": Case(
        "sqlite",
        "CREATE TABLE model (a INTEGER, b TEXT, m, v INTEGER)",
        [(1, "", 7, 1), (2, "", "7", 2), (3, "", 8, 3)],
        ["a"],
        sent={"3"},
        collisions={"1", "2"},
    ),
    "DuckDB: composite parts holding the separator": Case(
        "duckdb",
        "CREATE TABLE model (a VARCHAR, b VARCHAR, m VARCHAR, v BIGINT)",
        [(f"a{SEP}b", "c", "x1", 1), ("a", f"b{SEP}c", "x2", 2), ("x", "y", "x3", 3)],
        ["a", "b"],
        sent={f"x{SEP}y"},
        duplicates={f"a{SEP}b{SEP}c"},
    ),
    "DuckDB: a case-insensitive collation keeps two keys": Case(
        "duckdb",
        "CREATE TABLE model (a VARCHAR COLLATE NOCASE, b VARCHAR, m VARCHAR, v BIGINT)",
        [("Acme", "", "x1", 1), ("ACME", "", "x2", 2), ("b", "", "x3", 3)],
        ["a"],
        sent={"Acme", "ACME", "b"},
    ),
    "DuckDB: match values under a case-insensitive collation, exact destination": Case(
        "duckdb",
        "CREATE TABLE model (a BIGINT, b VARCHAR, m VARCHAR COLLATE NOCASE, v BIGINT)",
        [(1, "", "Acme", 1), (2, "", "ACME", 2), (3, "", "b", 3)],
        ["a"],
        sent={"1", "2", "3"},
    ),
    "PostgreSQL: citext keys stay two keys": Case(
        "postgresql",
        "CREATE TABLE model (a citext, b TEXT, m TEXT, v BIGINT)",
        [("Acme", "", "x1", 1), ("ACME", "", "x2", 2), ("b", "", "x3", 3)],
        ["a"],
        sent={"Acme", "ACME", "b"},
    ),
    "PostgreSQL: match values only Python lowers alike (COLLATE C), case-insensitive destination": Case(
        "postgresql",
        'CREATE TABLE model (a BIGINT, b TEXT, m TEXT COLLATE "C", v BIGINT)',
        [(1, "", "ÉCOLE-1", 1), (2, "", "école-1", 2), (3, "", "beta", 3)],
        ["a"],
        sent={"3"},
        collisions={"1", "2"},
        casefold=True,
    ),
    "PostgreSQL: a real duplicate is still rejected": Case(
        "postgresql",
        "CREATE TABLE model (a BIGINT, b TEXT, m TEXT, v BIGINT)",
        [(1, "", "x1", 1), (1, "", "x2", 2), (2, "", "x3", 3)],
        ["a"],
        sent={"2"},
        duplicates={"1"},
    ),
}

MAPPING = """connector = "hook"
object = "things"

[model]
table = "model"
primary_key = {primary_key}

[match]
field = "ext"
column = "m"

[fields]
v = "v"
"""


def warehouse(request: pytest.FixtureRequest, case: Case, tmp_path: Path) -> str:
    """A real warehouse of the case's kind, with the model loaded."""
    if case.warehouse == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        with sa.create_engine(url).begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS citext"))
            conn.execute(sa.text(PG_CI))
    else:
        url = f"{case.warehouse}:///{tmp_path / ('w.' + case.warehouse)}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(case.ddl))
        rows = [dict(zip("abmv", r, strict=True)) for r in case.rows]
        conn.execute(sa.text("INSERT INTO model VALUES (:a, :b, :m, :v)"), rows)
    engine.dispose()
    return url


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_checks_decide_on_canonical_keys(
    name: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    url = warehouse(request, case, tmp_path)
    rule = MatchRule("m", "ext", case.casefold)

    def learn(self: SyncJob, connector: Any = None) -> MatchRule:
        self.match_rule = rule  # the destination's comparison, as a connector would report it
        return rule

    monkeypatch.setattr(SyncJob, "learn_match_rule", learn)
    mapping = MAPPING.format(primary_key=str(case.primary_key).replace("'", '"'))
    for mode in ["rows", "columnar"] + (["warehouse"] if case.warehouse != "sqlite" else []):
        job = open_job(write_project(tmp_path / mode, url, mapping, mode))
        try:
            _, planned = plan(job)
            bad = {key: reason for key, _, reason in planned.bad}
            assert {k for k, r in bad.items() if "duplicate primary key" in r} == case.duplicates, mode
            assert {k for k, r in bad.items() if "duplicate match value" in r} == case.collisions, mode
            assert {c[1] for c in planned.changes if c[0] == "added"} == case.sent, mode
            ran = run(job, set())  # state's unique key would fail on two rows of one key
            assert ran.tally == planned.tally and ran.bad == planned.bad, mode
            assert {key for key, _ in job.state.iter_synced(job.sync.name)} == case.sent, mode
            _, again = plan(job)
            assert again.changes == [] and again.tally["unchanged"] == len(case.sent), mode
        finally:
            job.close()
            job.state.close()


def test_a_run_as_a_process_sends_each_key_once(
    request: pytest.FixtureRequest, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """The SQLite case as the user runs it: the duplicates rejected with their reason, each other
    key sent once, and the next run sends nothing (before: state's unique key failed, exit 70, and
    every later run re-sent everything)."""
    case = CASES["SQLite: 1 and '1' are one key"]
    project = Project(tmp_path, warehouse(request, case, tmp_path), hook_url=f"{receiver.base_url}/hooks")
    project.write(mapping=MAPPING.format(primary_key='"a"').replace('object = "things"', 'object = "accounts"'))
    for attempt in range(2):
        proc = project.subprocess("run", "accounts", "--json")
        out, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 1), err  # 1: some rows were rejected
        counts = json.loads(out)
        if attempt == 0:
            assert counts["added"] == counts["succeeded"] == 2 and counts["bad_rows"] == 2, counts
            sent = receiver.write_calls
        else:
            assert counts["added"] == counts["changed"] == 0 and receiver.write_calls == sent, counts
    assert sorted(receiver.records) == ["2", "3"]


@pytest.mark.parametrize(
    ("values", "casefold", "shared"), [(["a", "b"], True, False), (["ÉCOLE", "école"], True, True)]
)
def test_the_window_trusts_the_warehouse_lower_only_for_ascii(
    request: pytest.FixtureRequest, tmp_path: Path, values: list[str], casefold: bool, shared: bool
) -> None:
    """A window checks its own match values in the warehouse (`Source.shares_match_values`); under
    COLLATE "C" PostgreSQL lowers ASCII only, so with a non-ASCII value present the window gives
    way and the whole model is checked on syncer's comparison."""
    case = Case(
        "postgresql",
        'CREATE TABLE model (a BIGINT, b TEXT, m TEXT COLLATE "C", v BIGINT)',
        [(i, "", v, i) for i, v in enumerate(values)],
        ["a"],
        sent=set(),
    )
    url = warehouse(request, case, tmp_path)
    job = open_job(write_project(tmp_path / "p", url, MAPPING.format(primary_key='"a"'), "warehouse"))
    try:
        rule = MatchRule("m", "ext", casefold)
        window = "SELECT * FROM model WHERE a = 0"
        assert job.source.shares_match_values(job.sync.model, job.mapping_dir, rule, window) is shared
    finally:
        job.close()
        job.state.close()


@dataclass
class Edit:
    warehouse: str
    ddl: str
    rows: list[tuple[Any, ...]]  # (a, b, m, v) synced by a first run
    statements: list[str]  # then run on the model
    planned: set[tuple[str, str]]  # (kind, key) the next plan must hold


PG_CI = "CREATE COLLATION IF NOT EXISTS ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)"
EDITS = {
    "DuckDB NOCASE: a case-only edit of a field": Edit(
        "duckdb",
        "CREATE TABLE model (a BIGINT, b VARCHAR, m VARCHAR, v VARCHAR COLLATE NOCASE)",
        [(1, "", "x1", "acme corp"), (2, "", "x2", "globex")],
        ["UPDATE model SET v = 'Acme Corp' WHERE a = 1"],
        {("changed", "1")},
    ),
    "DuckDB NOCASE: a key re-cased": Edit(
        "duckdb",
        "CREATE TABLE model (a VARCHAR COLLATE NOCASE, b VARCHAR, m VARCHAR, v VARCHAR)",
        [("a", "", "x1", "one"), ("b", "", "x2", "two")],
        ["UPDATE model SET a = 'A' WHERE a = 'a'"],
        {("added", "A"), ("removed", "a")},
    ),
    "PostgreSQL nondeterministic collation: a case-only edit of a field": Edit(
        "postgresql",
        "CREATE TABLE model (a BIGINT, b TEXT, m TEXT, v TEXT COLLATE ci)",
        [(1, "", "x1", "acme corp"), (2, "", "x2", "globex")],
        ["UPDATE model SET v = 'Acme Corp' WHERE a = 1"],
        {("changed", "1")},
    ),
    "PostgreSQL nondeterministic collation: a key re-cased": Edit(
        "postgresql",
        "CREATE TABLE model (a TEXT COLLATE ci, b TEXT, m TEXT, v TEXT)",
        [("a", "", "x1", "one"), ("b", "", "x2", "two")],
        ["UPDATE model SET a = 'A' WHERE a = 'a'"],
        {("added", "A"), ("removed", "a")},
    ),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_every_mode_sees_a_case_only_edit(
    name: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Warehouse mode fingerprints and joins in SQL: under a case-insensitive collation its hash and
    its key join called 'Acme Corp' the old 'acme corp' (a silent change: never sent, even by
    --full-diff) and a re-cased key the old one (the old record never deleted). Every mode now plans
    the edit as the rows mode does."""
    edit = EDITS[name]
    case = Case(edit.warehouse, edit.ddl, edit.rows, ["a"], sent=set())
    url = warehouse(request, case, tmp_path)
    rule = MatchRule("m", "ext", False)

    def learn(self: SyncJob, connector: Any = None) -> MatchRule:
        self.match_rule = rule
        return rule

    monkeypatch.setattr(SyncJob, "learn_match_rule", learn)
    mapping = MAPPING.format(primary_key='"a"').replace(
        'object = "things"', 'object = "things"\nmode = "mirror"\nmax_delete_share = 1.0'
    )
    jobs = {
        mode: open_job(write_project(tmp_path / mode, url, mapping, mode)) for mode in ("rows", "columnar", "warehouse")
    }
    try:
        for job in jobs.values():
            run(job, set())
        with sa.create_engine(url).begin() as conn:
            for statement in edit.statements:
                conn.execute(sa.text(statement))
        for mode, job in jobs.items():
            _, planned = plan(job)
            assert {(c[0], c[1]) for c in planned.changes} == edit.planned, mode
    finally:
        for job in jobs.values():
            job.close()
            job.state.close()


def test_the_postgresql_key_still_probes_the_snapshot_index(pg_url: str) -> None:
    """The byte-wise key (`Dialect.text`) must stay comparable with the snapshot's primary-key index:
    under COLLATE "C" it was not, and the window's per-row probe of a 5M-row snapshot became a scan
    (a no-change run ran for over ten minutes). The database default is always deterministic."""
    from syncer.warehouse_diff.dialects import DIALECTS

    key = DIALECTS["postgresql"].key(["m.a"])
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text(PG_CI))
        conn.execute(sa.text("CREATE TABLE snap (sync TEXT, key TEXT, PRIMARY KEY (sync, key))"))
        conn.execute(sa.text('CREATE TABLE model (a TEXT COLLATE "ci")'))
        conn.execute(sa.text("SET enable_seqscan = off"))
        probe = f"SELECT s0.key FROM snap AS s0 WHERE s0.sync = 'x' AND s0.key = {key} LIMIT 1"  # window_sql's
        plan = conn.execute(sa.text(f"EXPLAIN SELECT * FROM model AS m LEFT JOIN LATERAL ({probe}) AS s ON TRUE"))
        lines = plan.scalars().all()
    engine.dispose()
    assert any("Index Cond" in line and "key =" in line for line in lines), lines
