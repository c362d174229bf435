"""Atomic state migrations: kill the process right after every single DDL statement of every
migration, on SQLite and on a real PostgreSQL, then `syncer runs` (a real process) must work.

Each kill and each `syncer runs` is its own process, forked from one that imported syncer once
(about 45 kill points a database: importing anew for each cost most of this test's minutes).

Each step commits together with its alembic version stamp, so a kill leaves the previous version
and none of the cut-off step's objects; the next start runs the step again. Before this, a kill
between CREATE TABLE and the stamp wedged syncer for good ("table synced_records already exists").
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncer import state_health
from syncer.state import StateStore

# One process imports syncer once, then forks a child per kill point: each child is a real process
# that opens the state store (running the migrations) and SIGKILLs itself at its failpoint.
FORKED_KILLS = """
import importlib, os, sys
import alembic.command, alembic.config  # what every child runs: loaded once, before the forks
from syncer import failpoints
from syncer.state import StateStore
for n, url in enumerate(sys.argv[1:], 1):
    pid = os.fork()
    if pid == 0:
        os.environ["SYNCER_FAILPOINT"] = f"migration_ddl:{n}"
        importlib.reload(failpoints)  # failpoints reads SYNCER_FAILPOINT when it is loaded
        StateStore(url)
        os._exit(0)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


def ddl_statements(url: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many DDL statements a migration from empty to head runs (each one is a kill point)."""
    seen: list[str] = []
    monkeypatch.setattr(state_health.failpoints, "hit", seen.append)
    StateStore(url).close()
    monkeypatch.undo()
    assert set(seen) == {"migration_ddl"}
    return len(seen)


def schema(url: str) -> dict[str, list[str]]:
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        tables = {t: sorted(c["name"] for c in inspector.get_columns(t)) for t in inspector.get_table_names()}
        with engine.connect() as conn:
            tables["alembic_version"] = [
                str(v) for (v,) in conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            ]
        return tables
    finally:
        engine.dispose()


def _config(folder: Path, state_url: str) -> Path:
    config = folder / "config.toml"
    config.write_text(f'[syncer]\nstate_url = "{state_url}"\n\n[warehouse]\nurl = "sqlite:///{folder / "wh.sqlite"}"\n')
    return config


# Then `syncer runs` on each: again one process that imports the command line once and forks a
# child per state store; the child runs the command's own entry point with its output in a file.
FORKED_RUNS = """
import json, os, sys
import alembic.command, alembic.config
from syncer.cli import main
for config, out in json.loads(sys.argv[1]):
    pid = os.fork()
    if pid == 0:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        try:
            main(["runs", "--json", "-c", config])
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


def kill_after_every_ddl(new_url: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    reference = new_url("reference")
    points = ddl_statements(reference, monkeypatch)
    expected = schema(reference)
    urls = {n: new_url(f"kill{n}") for n in range(1, points + 1)}
    assert list(urls) == list(range(1, points + 1))  # the child for url n dies at DDL statement n
    forks = subprocess.run(
        [sys.executable, "-c", FORKED_KILLS, *urls.values()], capture_output=True, text=True, timeout=600
    )
    assert forks.returncode == 0, forks.stderr[-2000:]
    assert forks.stdout.split() == ["-9"] * points, forks.stderr[-2000:]
    folders = {n: tmp_path / f"p{n}" for n in urls}
    for folder in folders.values():
        (folder / "mappings").mkdir(parents=True)
    jobs = [(str(_config(folders[n], url)), str(folders[n] / "out.txt")) for n, url in urls.items()]
    runs = subprocess.run(
        [sys.executable, "-c", FORKED_RUNS, json.dumps(jobs)], capture_output=True, text=True, timeout=600
    )
    assert runs.returncode == 0, runs.stderr[-2000:]
    for n, code in zip(urls, runs.stdout.split(), strict=True):
        output = (folders[n] / "out.txt").read_text()
        assert code == "0", (n, output[-2000:])
        assert json.loads(output) == [], (n, output)
        assert schema(urls[n]) == expected, n  # finished: the same schema as a migration never cut off
    print(f"{points} DDL kill points, each followed by `syncer runs`: all recovered")
    return points


@pytest.mark.slow
def test_sqlite_survives_a_kill_after_every_ddl_statement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    points = kill_after_every_ddl(lambda name: f"sqlite:///{tmp_path / name}.sqlite", tmp_path, monkeypatch)
    assert points >= 30  # every migration's DDL, 0001 to head


@pytest.fixture
def pg_databases(pg_server: str) -> Iterator[Callable[[str], str]]:
    admin = sa.create_engine(f"{pg_server}/postgres", isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def new(_name: str) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return f"{pg_server}/{name}"

    yield new
    with admin.connect() as conn:
        for name in made:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.slow
def test_postgresql_survives_a_kill_after_every_ddl_statement(
    pg_databases: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    points = kill_after_every_ddl(pg_databases, tmp_path, monkeypatch)
    assert points >= 30
