"""diff = "warehouse" on real warehouses: DuckDB, PostgreSQL (a real server), Snowflake (fakesnow),
BigQuery (the statement compiled and parsed as BigQuery SQL); and `check` naming missing GRANTs
for a limited PostgreSQL role.

The warehouse scenario is the one every warehouse already passes in the row/columnar modes
(tests/engine/test_sources.py): table, composite-key, query and .sql-file models, mirror mode,
changes, removals, bad rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import sqlglot
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.secrets import mask
from syncer.warehouse_diff.dialects import DIALECTS
from syncer.warehouse_diff.differ import Statement, plan_sql
from syncer.warehouse_diff.grants import missing_grants
from syncer.warehouse_diff.snapshot import Snapshot
from tests.engine.conftest import Project, create_accounts
from tests.engine.test_sources import (
    ACCOUNTS_MIRROR,
    ESCALATE_SQL,
    ESCALATE_SQL_FILE,
    HOT_QUERY,
    USAGE_COMPOSITE,
    N,
    _scenario,
    create_usage,
)

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")  # fakesnow


@pytest.fixture(params=["duckdb", "postgresql", "snowflake"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    elif request.param == "postgresql":
        yield request.getfixturevalue("pg_url")
    else:
        import fakesnow

        with fakesnow.patch():
            yield "snowflake://syncer:fakesnow-pw@fakeaccount/analytics/public"


def test_the_warehouse_scenario_in_warehouse_mode(
    warehouse_url: str, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    create_accounts(warehouse_url, N)
    create_usage(warehouse_url)
    project = Project(tmp_path, warehouse_url, hook_url=f"{receiver.base_url}/hooks")
    project.write(mapping=ACCOUNTS_MIRROR, batch_size=50)
    project.config.write_text(project.config.read_text().replace("[warehouse]\n", '[warehouse]\ndiff = "warehouse"\n'))
    mappings = tmp_path / "mappings"
    (mappings / "usage.toml").write_text(USAGE_COMPOSITE)
    (mappings / "hot.toml").write_text(HOT_QUERY)
    (mappings / "escalations.toml").write_text(ESCALATE_SQL_FILE)
    (mappings / "escalations.sql").write_text(ESCALATE_SQL)
    mask.clear()
    _scenario(project, receiver, warehouse_url)
    engine = sa.create_engine(warehouse_url)
    with engine.connect() as conn:  # the runs really went through the snapshot
        synced = conn.execute(
            sa.text('SELECT COUNT(*) FROM "syncer"."snapshot_marker" WHERE dirty_run IS NULL')
        ).scalar_one()
    engine.dispose()
    assert synced >= 1


def test_the_statement_is_valid_bigquery() -> None:
    dialect = DIALECTS["bigquery"]
    snapshot = Snapshot(sa.create_engine("sqlite://"), dialect, "syncer")
    sql = plan_sql(
        Statement(dialect, snapshot, "accounts", "SELECT * FROM `p.d.accounts`", ["id", "region"], ["name"], "ab12")
    )
    parsed = sqlglot.parse_one(sql, read="bigquery")
    assert "TO_HEX(MD5(" in sql and "CODE_POINTS_TO_STRING([31])" in sql
    assert parsed.find(sqlglot.exp.Join) is not None
    for statement in snapshot.ddl():
        sqlglot.parse_one(statement, read="bigquery")


def test_check_names_the_missing_grants_for_a_limited_postgresql_role(
    pg_url: str, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    database = pg_url.rsplit("/", 1)[1]
    role = f"lim_{database[-8:]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(sa.text(f'REVOKE CREATE ON DATABASE "{database}" FROM PUBLIC'))
        conn.execute(sa.text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    limited_url = pg_url.replace("postgres@", f"{role}@")
    create_accounts(pg_url, 5)
    with admin.connect() as conn:
        conn.execute(sa.text(f"GRANT SELECT ON accounts TO {role}"))
    project = Project(tmp_path, limited_url, hook_url=f"{receiver.base_url}/hooks")
    project.write()
    project.config.write_text(project.config.read_text().replace("[warehouse]\n", '[warehouse]\ndiff = "warehouse"\n'))
    code, _, err = project.cli("check")  # the whole CLI: exit 2, the GRANT named, no traceback
    assert code == 2 and f'GRANT CREATE ON DATABASE "{database}" TO "{role}"' in err and "Traceback" not in err, err
    code, _, err = project.cli("run", "accounts")  # a run stops the same way before sending (it exited 70)
    assert code == 2 and f'GRANT CREATE ON DATABASE "{database}" TO "{role}"' in err and "Traceback" not in err, err
    assert receiver.write_calls == 0
    limited = sa.create_engine(limited_url)
    snapshot = Snapshot(limited, DIALECTS["postgresql"], "syncer")
    try:
        problems = missing_grants(snapshot)
        assert len(problems) == 1 and f'GRANT CREATE ON DATABASE "{database}" TO "{role}"' in problems[0], problems

        with admin.connect() as conn:  # an admin made the schema and tables, but granted nothing on them
            conn.execute(sa.text("CREATE SCHEMA syncer"))
        Snapshot(admin, DIALECTS["postgresql"], "syncer").ensure()
        problems = missing_grants(snapshot)
        assert problems == [
            f'diff = "warehouse": GRANT USAGE ON SCHEMA "syncer" TO "{role}";',
            f'diff = "warehouse": GRANT SELECT, INSERT, DELETE ON "syncer"."snapshot" TO "{role}";',
            f'diff = "warehouse": GRANT SELECT, INSERT, DELETE ON "syncer"."snapshot_marker" TO "{role}";',
        ]

        with admin.connect() as conn:  # the GRANTs it named are enough, and no more is needed
            conn.execute(sa.text(f'GRANT USAGE ON SCHEMA "syncer" TO "{role}"'))
            for table in ("snapshot", "snapshot_marker"):
                conn.execute(sa.text(f'GRANT SELECT, INSERT, DELETE ON "syncer"."{table}" TO "{role}"'))
        assert missing_grants(snapshot) == []
        snapshot.ensure()
        with limited.begin() as conn:
            snapshot._insert(conn, "s", [("k", "f")])
        with limited.begin() as conn:  # the merge: staged in a temporary table, one DELETE, one INSERT
            snapshot._upsert(conn, "s", [("k", "f2"), ("gone", None)])
        with limited.connect() as conn:
            assert conn.execute(sa.text("SELECT key, fingerprint FROM syncer.snapshot")).all() == [("k", "f2")]

        with admin.connect() as conn:  # PUBLIC's TEMPORARY right revoked: named, and granting it is enough
            conn.execute(sa.text(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC'))
        assert missing_grants(snapshot) == [
            f'diff = "warehouse" stages merges in a temporary table: GRANT TEMPORARY ON DATABASE "{database}" '
            f'TO "{role}";'
        ]
        with admin.connect() as conn:
            conn.execute(sa.text(f'GRANT TEMPORARY ON DATABASE "{database}" TO "{role}"'))
        assert missing_grants(snapshot) == []
    finally:
        limited.dispose()
        admin.dispose()
