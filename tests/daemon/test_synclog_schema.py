"""The sync log creates its schema and tables when the warehouse user may; when it may not, the copy
fails naming the grant, and `syncer check` names it before any run. DuckDB and real PostgreSQL
(a role without CREATE), each kind of missing privilege in one table."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.daemon import Daemon
from syncer.errors import FatalError
from syncer.synclog import SyncLog, SynclogSettings
from syncer.synclog_grants import grant_problems
from tests.daemon.conftest import configure, make_daemon
from tests.engine.conftest import Project, create_accounts

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def ran(project: Project, receiver: WebhookReceiver) -> Iterator[tuple[Daemon, int]]:
    """A daemon whose state holds one finished run of 300 records."""
    configure(project)
    daemon = make_daemon(project)
    daemon.run_slot("accounts", T0)
    yield daemon, daemon.state.recent_runs("accounts")[0]["id"]
    daemon.close()


def _count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


def test_duckdb_schema_is_created_when_missing(tmp_path: Path, ran: tuple[Daemon, int]) -> None:
    daemon, run_id = ran
    warehouse = sa.create_engine(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    log = SyncLog(warehouse, SynclogSettings(schema="ops"))
    assert log.write_run(daemon.state, run_id) == 300
    assert (_count(warehouse, "ops.syncer_runs"), _count(warehouse, "ops.syncer_audit")) == (1, 300)
    assert grant_problems(warehouse, SynclogSettings(schema="elsewhere")) == []  # no grants in DuckDB
    warehouse.dispose()


@dataclass
class Role:
    name: str
    url: str
    admin: sa.Engine

    def sql(self, *statements: str) -> None:
        with self.admin.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement.format(role=self.name)))


@pytest.fixture
def role(pg_url: str) -> Iterator[Role]:
    """A login role with no privilege beyond CONNECT (PostgreSQL >= 15: not even CREATE on public)."""
    name = f"syncer_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_url)
    r = Role(name, pg_url.replace("://postgres@", f"://{name}@", 1), admin)
    r.sql("CREATE ROLE {role} LOGIN", "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    yield r
    r.sql("DROP OWNED BY {role}", "DROP ROLE {role}")
    admin.dispose()


def test_postgres_schema_is_created_when_the_user_may(pg_url: str, ran: tuple[Daemon, int]) -> None:
    daemon, run_id = ran
    warehouse = sa.create_engine(pg_url)
    settings = SynclogSettings(schema="ops")
    assert grant_problems(warehouse, settings) == []
    assert SyncLog(warehouse, settings).write_run(daemon.state, run_id) == 300
    assert (_count(warehouse, "ops.syncer_runs"), _count(warehouse, "ops.syncer_audit")) == (1, 300)
    warehouse.dispose()


# (set-up as the admin, the grant the message must name) for each kind of missing privilege
KINDS = [
    ("", "GRANT CREATE ON DATABASE"),
    ("CREATE SCHEMA ops", "GRANT USAGE ON SCHEMA ops"),
    ("CREATE SCHEMA ops; GRANT USAGE ON SCHEMA ops TO {role}", "GRANT CREATE ON SCHEMA ops"),
    (
        "CREATE SCHEMA ops; GRANT USAGE ON SCHEMA ops TO {role}; "
        "CREATE TABLE ops.syncer_runs (run_id int); CREATE TABLE ops.syncer_audit (run_id int); "
        "GRANT SELECT ON ops.syncer_runs, ops.syncer_audit TO {role}",
        "GRANT INSERT, DELETE ON ops.syncer_runs",
    ),
]


@pytest.mark.parametrize(("setup", "grant"), KINDS, ids=["database", "usage", "schema", "tables"])
def test_postgres_names_the_missing_grant(role: Role, ran: tuple[Daemon, int], setup: str, grant: str) -> None:
    daemon, run_id = ran
    if setup:
        role.sql(*setup.split("; "))
    warehouse = sa.create_engine(role.url)
    settings = SynclogSettings(schema="ops")
    problems = grant_problems(warehouse, settings)
    assert len(problems) == (2 if setup.count("CREATE TABLE") else 1), problems  # one per table for `tables`
    assert grant in problems[0] and role.name in problems[0], problems
    with pytest.raises((FatalError, sa.exc.DBAPIError)):
        SyncLog(warehouse, settings).write_run(daemon.state, run_id)
    warehouse.dispose()


def test_postgres_without_create_the_copy_names_the_grant_then_works_once_granted(
    role: Role, ran: tuple[Daemon, int]
) -> None:
    daemon, run_id = ran
    warehouse = sa.create_engine(role.url)
    settings = SynclogSettings(schema="ops")
    with pytest.raises(FatalError, match=r"cannot create schema 'ops'.*CREATE SCHEMA ops"):
        SyncLog(warehouse, settings).write_run(daemon.state, run_id)
    role.sql(f"GRANT CREATE ON DATABASE {warehouse.url.database} TO {{role}}")
    assert grant_problems(warehouse, settings) == []
    assert SyncLog(warehouse, settings).write_run(daemon.state, run_id) == 300
    assert (_count(warehouse, "ops.syncer_runs"), _count(warehouse, "ops.syncer_audit")) == (1, 300)
    warehouse.dispose()


def test_check_names_the_missing_grant(tmp_path: Path, role: Role, receiver: WebhookReceiver) -> None:
    create_accounts(role.admin.url.render_as_string(hide_password=False), 20)
    role.sql("GRANT SELECT ON accounts TO {role}")
    project = Project(tmp_path, role.url, hook_url=f"{receiver.base_url}/hooks")
    configure(project, daemon='[daemon.synclog]\nschema = "ops"\n')
    code, out, err = project.cli("check")
    assert code == 2, (out, err)
    assert "daemon.synclog" in err and "GRANT CREATE ON DATABASE" in err and "Traceback" not in err
    role.sql(f"GRANT CREATE ON DATABASE {role.admin.url.database} TO {{role}}")
    code, out, err = project.cli("check")
    assert code == 0, (out, err)
