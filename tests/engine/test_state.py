"""The state store on SQLite and on a real PostgreSQL: migrations, lookups, batch writes, erasure."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncer.state import Outcome, StateStore, audit


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    return StateStore(url)


def ok(key: str, fp: str = "f1", dest: str | None = None) -> Outcome:
    return Outcome(key, "upsert", "ok", fp, f"m-{key}", dest, None, {"v": key})


def test_lookup_record_and_forget(store: StateStore) -> None:
    run = store.start_run("s", full=False)
    keys = [f"k{i}" for i in range(3000)] + ["quote'and\"comma,", "ünïcode"]
    store.record("s", run, [ok(k, dest=f"D{k}") for k in keys])
    store.record("s", run, [Outcome("bad", "upsert", "rejected", "f9", None, None, "too long", None)])
    found = store.lookup("s", [*keys[::7], "missing"])
    assert set(found) == set(keys[::7]) and found["k7"].dest_id == "Dk7" and found["k7"].match_value == "m-k7"
    assert store.lookup("other", keys[:5]) == {}
    assert store.count_synced("s") == len(keys)
    assert store.rejected_fingerprints("s") == {"bad": "f9"}

    store.record("s", run, [ok("bad", fp="f10")])  # fixed and accepted: the reject is cleared
    assert store.rejected_fingerprints("s") == {}
    store.record("s", run, [Outcome("k1", "delete", "ok", "f1", None, "Dk1", None, None)])
    assert "k1" not in store.lookup("s", ["k1"])

    removed = store.forget("k2")
    assert removed == {"state": 1, "rejected": 0, "audit": 1}
    assert store.audit_rows("s", key="k2") == []


def test_interrupted_runs_and_retention(store: StateStore) -> None:
    first = store.start_run("s", full=False)
    second = store.start_run("s", full=True)  # the first was killed while running
    runs = {r["id"]: r for r in store.recent_runs("s")}
    assert runs[first]["status"] == "interrupted" and runs[second]["status"] == "running"
    store.record("s", second, [ok("a")])
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=100)
    with store.engine.begin() as conn:
        conn.execute(audit.update().values(at=old))
    store.record("s", second, [ok("b")])
    assert store.prune_audit(90) == 1
    assert [r["key"] for r in store.audit_rows("s")] == ["b"]


def test_migrations_are_idempotent(store: StateStore) -> None:
    store.migrate()  # a second start finds the schema current
    with store.engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version
