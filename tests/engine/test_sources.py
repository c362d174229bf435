"""Every supported warehouse runs the same plan/run scenario through the CLI, in-process.

The warehouses: a SQLite file, a DuckDB file, a real PostgreSQL server (psycopg 3, the `pg_url`
fixture) and Snowflake through fakesnow (`fakesnow.patch()` puts `snowflake.connector.connect` on
an in-memory DuckDB; fakesnow returns unquoted names in upper case, as Snowflake does, so the
mapping's lower-case column names are exercised for real). BigQuery has no emulator here: the SQL
syncer sends is only compiled and parsed for it, see `test_bigquery_sql_compiles_and_parses`.

One scenario per warehouse covers: plan, run, a few changed rows (plan names exactly those, run
sends exactly those), deleted rows (mirror mode sends deletes), a composite primary key with a
duplicated key (rejected, never sent), an inline query model and a `.sql` file model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb_engine
import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.config import ModelConfig, WarehouseConfig
from syncer.errors import ConfigError, FatalError
from syncer.secrets import mask
from syncer.source import Source
from syncer.value_text import text_form
from tests.engine.conftest import SECRET, Project, create_accounts

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")  # fakesnow

N = 120  # accounts; pql_score = (i * 7) % 101, tier cycles monitor / nurture / escalate

ACCOUNTS_MIRROR = """
connector = "hook"
object = "accounts"
mode = "mirror"

[model]
table = "accounts"
primary_key = "account_id"

[match]
field = "domain"
column = "domain"

[fields]
name = "name"
pql_score = { column = "pql_score", round = 0 }
tier = { column = "tier", case = "upper" }
"""

USAGE_COMPOSITE = """
connector = "hook"
object = "usage"

[model]
table = "usage_periods"
primary_key = ["account_id", "period"]

[match]
field = "usage_key"
column = "usage_key"

[fields]
seats = { column = "seats", cast = "int" }
period = "period"
"""

HOT_QUERY = """
connector = "hook"
object = "hot_accounts"

[model]
query = "SELECT account_id, domain, UPPER(name) AS name_upper, pql_score FROM accounts WHERE pql_score >= 80"
primary_key = "account_id"

[match]
field = "domain"
column = "domain"

[fields]
label = { template = "{name_upper} ({pql_score})" }
"""

ESCALATE_SQL_FILE = """
connector = "hook"
object = "escalations"

[model]
sql_file = "escalations.sql"
primary_key = "account_id"

[match]
field = "domain"
column = "domain"

[fields]
name = "name"
score = { column = "pql_score", cast = "int" }
"""

ESCALATE_SQL = """\
-- accounts in the escalate tier (a CTE, wrapped by syncer as a subquery)
WITH scored AS (
    SELECT account_id, domain, name, pql_score, tier FROM accounts
)
SELECT account_id, domain, name, pql_score
FROM scored
WHERE tier = 'escalate';
"""


def execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def create_usage(url: str) -> None:
    """20 accounts x 3 periods, plus one row that duplicates the key (5, '2024-02')."""
    execute(
        url,
        "DROP TABLE IF EXISTS usage_periods",
        "CREATE TABLE usage_periods (account_id INTEGER, period VARCHAR(7), seats INTEGER, usage_key VARCHAR(40))",
    )
    rows = [
        {"a": a, "p": p, "s": a * 10 + m, "k": f"{a}/{p}"}
        for a in range(1, 21)
        for m, p in enumerate(("2024-01", "2024-02", "2024-03"))
    ]
    rows.append({"a": 5, "p": "2024-02", "s": 999, "k": "5/2024-02-dup"})
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO usage_periods VALUES (:a, :p, :s, :k)"), rows)
    engine.dispose()


@pytest.fixture(params=["sqlite", "duckdb", "postgresql", "snowflake"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    kind = request.param
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    elif kind == "duckdb":
        yield f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    elif kind == "postgresql":
        yield request.getfixturevalue("pg_url")
    else:
        import fakesnow

        # One in-memory DuckDB behind every snowflake.connector.connect() in this test; the
        # database and schema named in the URL are created on connect.
        with fakesnow.patch():
            yield "snowflake://syncer:fakesnow-pw@fakeaccount/analytics/public"


def applied_keys(receiver: WebhookReceiver, before: Counter[tuple[str, str]]) -> list[str]:
    """Keys the receiver applied since `before` (a copy of receiver.applied)."""
    delta = receiver.applied - before
    return sorted(key for key, _ in delta.elements())


def run(project: Project, receiver: WebhookReceiver, sync: str) -> tuple[int, dict[str, Any], list[str]]:
    before = Counter(receiver.applied)
    code, summary, err = project.cli("run", sync, "--json")
    assert isinstance(summary, dict), (summary, err)
    return code, summary, applied_keys(receiver, before)


def plan(project: Project, receiver: WebhookReceiver, sync: str, show: int = 0) -> dict[str, Any]:
    calls = len(receiver.requests)
    code, summary, err = project.cli("plan", sync, "--json", "--show", str(show))
    assert code == 0 and isinstance(summary, dict), (code, summary, err)
    assert {method for method, _, _ in receiver.requests[calls:]} <= {"GET"}  # plan only reads the destination
    return summary


def test_same_plan_and_run_on_every_warehouse(warehouse_url: str, tmp_path: Path, receiver: WebhookReceiver) -> None:
    url = warehouse_url
    create_accounts(url, N)
    create_usage(url)
    project = Project(tmp_path, url, hook_url=f"{receiver.base_url}/hooks")
    project.write(mapping=ACCOUNTS_MIRROR, batch_size=50)
    mappings = tmp_path / "mappings"
    (mappings / "usage.toml").write_text(USAGE_COMPOSITE)
    (mappings / "hot.toml").write_text(HOT_QUERY)
    (mappings / "escalations.toml").write_text(ESCALATE_SQL_FILE)
    (mappings / "escalations.sql").write_text(ESCALATE_SQL)
    mask.clear()
    _scenario(project, receiver, url)


def _scenario(project: Project, receiver: WebhookReceiver, url: str) -> None:
    code, out, err = project.cli("check")
    assert code == 0, (out, err)
    if url.startswith("snowflake"):  # the driver really reports folded names; the mapping still matches
        assert raw_column_names(url, "SELECT * FROM accounts")[:2] == ["ACCOUNT_ID", "NAME"]

    # -- a table model, mirror mode ----------------------------------------------------------
    first = plan(project, receiver, "accounts")
    assert (first["source_rows"], first["added"], first["changed"], first["removed"]) == (N, N, 0, 0)
    code, summary, sent = run(project, receiver, "accounts")
    assert code == 0 and summary["succeeded"] == N and summary["api_calls"] == 3, summary  # 120 / batch 50
    assert sent == sorted(str(i) for i in range(1, N + 1))
    assert receiver.records["1"] == {"name": "Account 1", "pql_score": 7, "tier": "NURTURE"}
    assert receiver.records["15"] == {"name": "Account 15", "pql_score": 4, "tier": "MONITOR"}

    calls = receiver.write_calls
    code, again, sent = run(project, receiver, "accounts")
    assert (code, again["unchanged"], again["api_calls"], sent) == (0, N, 0, [])
    assert receiver.write_calls == calls  # no change -> no write call

    execute(
        url,
        "UPDATE accounts SET pql_score = pql_score + 2 WHERE account_id IN (3, 50, 117)",
        "UPDATE accounts SET name = 'Renamed 64' WHERE account_id = 64",
        "UPDATE accounts SET pql_score = pql_score + 0.1 WHERE account_id = 90",  # rounds to the same: unchanged
    )
    changed = plan(project, receiver, "accounts", show=10)
    assert (changed["added"], changed["changed"], changed["removed"], changed["unchanged"]) == (0, 4, 0, N - 4)
    assert sorted(s["key"] for s in changed["samples"]) == ["117", "3", "50", "64"]
    by_key = {s["key"]: s for s in changed["samples"]}
    assert by_key["64"]["changes"] == {"name": {"from": "Account 64", "to": "Renamed 64"}}
    assert by_key["3"]["changes"] == {"pql_score": {"from": 21, "to": 23}}
    code, summary, sent = run(project, receiver, "accounts")
    assert code == 0 and summary["succeeded"] == 4 and summary["api_calls"] == 1, summary
    assert sent == ["117", "3", "50", "64"]
    assert receiver.records["3"]["pql_score"] == 23 and receiver.records["64"]["name"] == "Renamed 64"

    execute(url, "DELETE FROM accounts WHERE account_id IN (7, 8, 100)")
    removed = plan(project, receiver, "accounts", show=10)
    assert (removed["added"], removed["changed"], removed["removed"]) == (0, 0, 3)
    assert sorted(s["key"] for s in removed["samples"]) == ["100", "7", "8"]
    code, summary, sent = run(project, receiver, "accounts")
    assert code == 0 and summary["succeeded"] == 3 and sent == ["100", "7", "8"], summary
    assert not {"7", "8", "100"} & receiver.records.keys()
    assert plan(project, receiver, "accounts")["unchanged"] == N - 3

    # -- composite primary key, with one duplicated key checked in the warehouse --------------
    usage = plan(project, receiver, "usage")
    assert (usage["source_rows"], usage["added"], usage["bad_rows"]) == (61, 59, 2), usage
    assert usage["bad_row_samples"][0]["key"] == '["5","2024-02"]'  # a composite key as shown (README "Record keys")
    code, summary, sent = run(project, receiver, "usage")
    # both rows of the duplicated key are held back; the key is recorded as rejected once
    assert code == 1 and summary["succeeded"] == 59 and summary["rejected"] == 1, summary
    assert "5\x1f2024-02" not in sent and "1\x1f2024-01" in sent
    assert receiver.records["1\x1f2024-01"] == {"seats": 10, "period": "2024-01"}
    execute(url, "UPDATE usage_periods SET seats = 77 WHERE account_id = 12 AND period = '2024-03'")
    code, summary, sent = run(project, receiver, "usage")
    assert summary["changed"] == 1 and sent == ["12\x1f2024-03"], summary
    assert receiver.records["12\x1f2024-03"]["seats"] == 77

    # -- an inline query model (computed, upper-cased alias on Snowflake) ---------------------
    hot_ids = [i for i in range(1, N + 1) if i not in (7, 8, 100) and _score(i) >= 80]
    hot = plan(project, receiver, "hot")
    assert hot["added"] == len(hot_ids) and hot["source_rows"] == len(hot_ids), hot
    code, summary, sent = run(project, receiver, "hot")
    assert code == 0 and sent == sorted(str(i) for i in hot_ids), summary
    assert receiver.records[str(hot_ids[0])] == {"label": f"ACCOUNT {hot_ids[0]} ({text_form(_score(hot_ids[0]))})"}
    low = next(i for i in range(1, N + 1) if 70 <= _score(i) < 80 and i not in (3, 50, 117))
    execute(url, f"UPDATE accounts SET pql_score = 95 WHERE account_id = {low}")  # enters the query
    code, summary, sent = run(project, receiver, "hot")
    assert (summary["added"], summary["changed"], summary["removed"], sent) == (1, 0, 0, [str(low)]), summary

    # -- a .sql file model (leading comment, CTE, trailing semicolon) -------------------------
    escalate_ids = [i for i in range(1, N + 1) if i % 3 == 2 and i not in (7, 8, 100)]
    esc = plan(project, receiver, "escalations")
    assert esc["added"] == len(escalate_ids), esc
    code, summary, sent = run(project, receiver, "escalations")
    assert code == 0 and sent == sorted(str(i) for i in escalate_ids), summary
    execute(url, "UPDATE accounts SET tier = 'nurture' WHERE account_id = 2")  # leaves the model
    esc = plan(project, receiver, "escalations", show=5)
    assert (esc["added"], esc["changed"], esc["removed"], esc["left_model"]) == (0, 0, 0, 1)  # kept, not deleted
    assert [(s["key"], s["kind"]) for s in esc["samples"]] == [("2", "left_model")]


def _score(i: int) -> float:
    return float((i * 7) % 101)


def raw_column_names(url: str, sql: str) -> list[str]:
    """Column names exactly as the DB-API driver reports them (before SQLAlchemy normalises them)."""
    engine = sa.create_engine(url)
    try:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(sql)
            return [d[0] for d in cursor.description]
        finally:
            raw.close()
    finally:
        engine.dispose()


# -- streaming ---------------------------------------------------------------------------------

BIG = 50_000
STREAM_BATCH = 1000


BigPlan = tuple[dict[str, Any], list[tuple[str, int]]]


@pytest.fixture(scope="module")
def big_plan(tmp_path_factory: pytest.TempPathFactory) -> BigPlan:
    """`plan` over a 50,000-row DuckDB model (stream_batch = 1000), logging every DB-API fetch the driver serves.

    The row path (diff = "rows"); tests/diffmodes/test_bounded.py holds the columnar path to the same bound.

    Planned once for the tests below: (plan summary, [(fetch method, rows returned)]).
    """
    root = tmp_path_factory.mktemp("big")
    url = f"duckdb:///{root / 'big.duckdb'}"
    execute(
        url,
        "CREATE TABLE accounts AS SELECT i AS account_id, 'Account ' || i AS name, "
        "'acct' || i || '.example.com' AS domain, CAST((i * 7) % 101 AS DOUBLE) AS pql_score, "
        "CASE i % 3 WHEN 0 THEN 'monitor' WHEN 1 THEN 'nurture' ELSE 'escalate' END AS tier "
        f"FROM range(1, {BIG + 1}) AS r(i)",
    )
    receiver = WebhookReceiver(SECRET)  # plan verifies the destination (a GET), it writes nothing
    receiver.start()
    project = Project(root, url, hook_url=f"{receiver.base_url}/hooks")
    project.write()
    project.config.write_text(
        project.config.read_text().replace(
            "[warehouse]\n", f'[warehouse]\nstream_batch = {STREAM_BATCH}\ndiff = "rows"\n'
        )
    )
    mask.clear()
    fetches: list[tuple[str, int]] = []
    fetchmany = duckdb_engine.CursorWrapper.fetchmany

    def counting_fetchmany(self: Any, size: int | None = None) -> list[Any]:
        rows: list[Any] = fetchmany(self, size)
        fetches.append(("fetchmany", len(rows)))
        return rows

    def counting_fetchall(self: Any) -> list[Any]:
        rows: list[Any] = self._CursorWrapper__c.fetchall()
        fetches.append(("fetchall", len(rows)))
        return rows

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(duckdb_engine.CursorWrapper, "fetchmany", counting_fetchmany)
        patch.setattr(duckdb_engine.CursorWrapper, "fetchall", counting_fetchall, raising=False)
        code, summary, err = project.cli("plan", "accounts", "--json")
    receiver.stop()
    assert code == 0 and isinstance(summary, dict), (summary, err)
    assert receiver.write_calls == 0
    return summary, fetches


def test_a_large_model_streams_without_loading_all_rows(big_plan: BigPlan) -> None:
    """Bounded memory: no DB-API call ever hands Python more than `stream_batch` rows.

    Fetches are counted at the driver boundary (duckdb_engine's cursor), so a `fetchall()` or an
    unbounded fetch anywhere in `plan` shows up here. It cannot see inside DuckDB (whether it
    materialises a result internally); benchmarks/bench_plan.py measures peak RSS for that.
    """
    summary, fetches = big_plan
    assert summary["added"] == BIG and summary["source_rows"] == BIG
    assert sum(n for method, n in fetches if method == "fetchmany") >= BIG  # the rows came through fetchmany
    assert max(n for _, n in fetches) <= STREAM_BATCH, "one fetch returned more than stream_batch rows"


def test_a_large_model_is_fetched_in_partitions_of_stream_batch(big_plan: BigPlan) -> None:
    _, fetches = big_plan
    calls = [n for method, n in fetches if method == "fetchmany"]
    print(f"{len(calls)} fetchmany calls for {BIG} rows, largest {max(calls)} rows")
    assert len(calls) <= BIG // STREAM_BATCH + 10 and max(calls) == STREAM_BATCH


# -- .sql files --------------------------------------------------------------------------------


@pytest.mark.parametrize("tail", ["\n-- end of model\n", ";\n-- end of model\n"])
def test_a_sql_file_may_end_with_a_comment(tmp_path: Path, tail: str) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    create_accounts(url, 5)
    (tmp_path / "m.sql").write_text("SELECT account_id, domain FROM accounts" + tail)
    source = Source(WarehouseConfig(url=url), tmp_path)
    model = ModelConfig(sql_file="m.sql", primary_key="account_id")
    try:
        assert source.columns(model) == ["account_id", "domain"]
        assert source.check_keys(model).rejected_rows == 0
        assert len(list(source.stream(model))) == 5
    finally:
        source.close()


# -- BigQuery: no emulator; compile and parse only -------------------------------------------------

BQ_TABLE = "`my-project.analytics.accounts`"  # BigQuery's fully qualified, back-quoted table name


def syncer_statements(tmp_path: Path) -> list[str]:
    """Every SQL string Source issues for a table model, a query model and a composite-key .sql
    model: run for real against SQLite (which accepts back-quoted names, so the BigQuery-style table
    name is used as is) and captured at the cursor."""
    url = f"sqlite:///{tmp_path / 'bq.sqlite'}"
    execute(
        url,
        'CREATE TABLE "my-project.analytics.accounts" (account_id INTEGER, period TEXT, domain TEXT, score FLOAT)',
        """INSERT INTO "my-project.analytics.accounts" VALUES (1, '2024-01', 'a.example', 1.5),
           (1, '2024-02', 'a.example', 2.5), (2, '2024-01', 'b.example', NULL), (2, '2024-01', 'b.example', 3)""",
    )
    (tmp_path / "usage.sql").write_text(
        f"-- usage per account and month\nSELECT account_id, period, SUM(score) AS score FROM {BQ_TABLE}\n"
        "GROUP BY account_id, period;\n"
    )
    models = [
        ModelConfig(table=BQ_TABLE, primary_key="account_id"),
        ModelConfig(
            query=f"SELECT account_id, domain, MAX(score) AS top_score FROM {BQ_TABLE} GROUP BY account_id, domain",
            primary_key="account_id",
        ),
        ModelConfig(sql_file="usage.sql", primary_key=["account_id", "period"]),
    ]
    source = Source(WarehouseConfig(url=url), tmp_path)
    issued: list[str] = []
    sa.event.listen(source.engine, "before_cursor_execute", lambda _c, _cur, sql, *_: issued.append(sql))
    try:
        for model in models:
            source.columns(model)
            source.check_keys(model)
            list(source.stream(model))
    finally:
        source.close()
    return issued


def test_bigquery_sql_compiles_and_parses(tmp_path: Path) -> None:
    """What this proves: every statement syncer's Source issues (the columns probe `... WHERE 1 = 0`,
    the NULL-key count, the key scan of the identity checks, the stream SELECT; for table, query and .sql
    models, with a composite key and a back-quoted `project.dataset.table` name) goes through
    sqlalchemy-bigquery's compiler unchanged and parses as BigQuery SQL in sqlglot.

    What it does not prove: that BigQuery accepts it (sqlglot's grammar is more lenient than
    BigQuery's; names are not resolved), how the BigQuery DB-API streams (pages / Storage Read API),
    what types come back (NUMERIC -> Decimal is handled by the mapper but not exercised here), or
    anything about authentication. Only a real project or an emulator can show those.
    """
    import sqlglot
    from sqlalchemy_bigquery import BigQueryDialect

    statements = syncer_statements(tmp_path)
    kinds = {
        "columns probe": [s for s in statements if s.endswith("AS m WHERE 1 = 0")],
        "null-key count": [s for s in statements if s.startswith("SELECT COUNT(*) FROM (")],
        "key scan": sorted({s for s in statements if s.startswith("SELECT account_id") and s.endswith(") AS m")}),
        "stream": [s for s in statements if not s.endswith(("AS m", " = 0")) and "COUNT(*)" not in s],
    }
    assert {k: len(v) for k, v in kinds.items()} == {k: 3 for k in kinds}, statements
    assert any(s.startswith("SELECT account_id, period FROM (") for s in kinds["key scan"])  # composite key

    dialect = BigQueryDialect()
    for statement in statements:
        assert str(sa.text(statement).compile(dialect=dialect)) == statement
        tree = sqlglot.parse_one(statement, read="bigquery")  # raises ParseError on invalid syntax
        assert tree.find(sqlglot.exp.Select) is not None
        if BQ_TABLE.strip("`") in statement:
            table = tree.find(sqlglot.exp.Table)
            assert table is not None and (table.catalog, table.db, table.name) == (
                "my-project",
                "analytics",
                "accounts",
            ), statement

    # the check is not vacuous: a statement with a dangling parenthesis is refused
    with pytest.raises(sqlglot.errors.ParseError):
        sqlglot.parse_one("SELECT * FROM (SELECT 1 -- x) AS m WHERE 1 = 0", read="bigquery")


def test_bigquery_without_credentials_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    source = Source(WarehouseConfig(url="bigquery://my-project/analytics"), tmp_path)
    with pytest.raises((FatalError, ConfigError)):  # either is reported as one clear message by the CLI
        source.ping()
