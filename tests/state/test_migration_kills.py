"""Atomic state migrations: kill the process right after every single DDL statement of every
migration, on SQLite and on a real PostgreSQL, then `syncer runs` (a real process) must work.

Each step commits together with its alembic version stamp, so a kill leaves the previous version
and none of the cut-off step's objects; the next start runs the step again. Before this, a kill
between CREATE TABLE and the stamp wedged syncer for good ("table synced_records already exists").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncer import state_health
from syncer.state import StateStore

KILL = "from syncer.state import StateStore; import sys; StateStore(sys.argv[1])"


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


def _run_all(
    commands: list[tuple[list[str], dict[str, str]]], at_once: int = 12
) -> list[subprocess.CompletedProcess[str]]:
    """Run processes a few at a time (the machine is shared); results in order."""
    done: list[subprocess.CompletedProcess[str]] = []
    for i in range(0, len(commands), at_once):
        procs = [
            (
                args,
                subprocess.Popen(
                    args, env={**os.environ, **env}, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
                ),
            )
            for args, env in commands[i : i + at_once]
        ]
        for args, proc in procs:
            out, err = proc.communicate(timeout=300)
            done.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return done


def kill_after_every_ddl(new_url: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    reference = new_url("reference")
    points = ddl_statements(reference, monkeypatch)
    expected = schema(reference)
    urls = {n: new_url(f"kill{n}") for n in range(1, points + 1)}
    killed = _run_all(
        [([sys.executable, "-c", KILL, url], {"SYNCER_FAILPOINT": f"migration_ddl:{n}"}) for n, url in urls.items()]
    )
    assert [k.returncode for k in killed] == [-9] * points, [k.stderr[-300:] for k in killed if k.returncode != -9]
    syncer = str(Path(sys.executable).parent / "syncer")
    folders = {n: tmp_path / f"p{n}" for n in urls}
    for folder in folders.values():
        (folder / "mappings").mkdir(parents=True)
    runs = _run_all([([syncer, "runs", "--json", "-c", str(_config(folders[n], url))], {}) for n, url in urls.items()])
    for n, result in zip(urls, runs, strict=True):
        assert result.returncode == 0, (n, result.stderr)
        assert json.loads(result.stdout) == [], (n, result.stdout)
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
