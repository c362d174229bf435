"""The columnar sidecar is trusted only while it is current (syncer.columnar.sidecar).

- every writer of synced_records replaces the sync's generation token (the trigger of migration
  0010), on SQLite and PostgreSQL; another sync's writes leave it alone;
- a stale, missing, corrupt or truncated sidecar never makes `plan` or `run` call a changed row
  unchanged (the rows below are reverted to values an older sidecar knew as current);
- a run killed between its state commit and the sidecar write converges: the next run re-sends
  nothing and misses nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.state import Outcome, StateStore
from syncer.state_repair import rebuild_state
from syncer.suppression import suppress
from tests.diffmodes.test_modes_cli import ROWS, duckdb_project, sql
from tests.engine.conftest import Project


def _outcome(key: str, op: str = "upsert", fp: str = "f") -> Outcome:
    return Outcome(key, op, "ok", fp, f"m{key}", f"d{key}", None, {"x": key}, "1.2")


WRITERS: dict[str, Callable[[StateStore], None]] = {
    "acknowledged upsert": lambda s: s.record("m", 1, [_outcome("new")]),
    "acknowledged update": lambda s: s.record("m", 1, [_outcome("k1", fp="g")]),
    "acknowledged delete": lambda s: s.record("m", 1, [_outcome("k1", op="delete")]),
    "refreshed source fingerprint": lambda s: s.refresh_source_fps("m", [("k1", "3.4")]),
    "removed record departed (upsert mode)": lambda s: s.depart("m", 1, ["k1"], "left the model"),
    "departed record restored (mirror)": lambda s: (s.depart("m", 1, ["k1"], "left"), s.restore_departed("m")),
    "forget (erasure)": lambda s: s.forget("k1"),
    "forget --sync m --suppress": lambda s: _forget_suppressed(s, "k1"),
    "hand-written SQL": lambda s: _execute(s, "UPDATE synced_records SET source_fp = NULL WHERE key = 'k2'"),
    "hand-written bulk delete": lambda s: _execute(s, "DELETE FROM synced_records WHERE sync = 'm'"),
}


def _forget_suppressed(state: StateStore, key: str) -> None:
    """What `syncer forget KEY --sync m --suppress` does to state."""
    state.forget(key, "m")
    suppress(state.engine, ["m"], key)


def _execute(state: StateStore, statement: str) -> None:
    with state.engine.begin() as conn:
        conn.execute(sa.text(statement))


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_writer_replaces_the_generation_token(state_url: str, writer: str) -> None:
    state = StateStore(state_url)
    try:
        assert state.generation("m") is None  # nothing recorded yet: nothing can be trusted
        state.record("m", 1, [_outcome("k1"), _outcome("k2")])
        state.record("other", 1, [_outcome("k1")])
        before, other = state.generation("m"), state.generation("other")
        assert before is not None and other is not None
        WRITERS[writer](state)
        assert state.generation("m") != before, writer
        assert state.generation("other") == other or writer == "forget (erasure)"  # erases it from every sync
    finally:
        state.close()


def test_a_rebuilt_state_file_has_new_tokens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    state = StateStore(url)
    state.record("m", 1, [_outcome("k1")])
    before = state.generation("m")
    state.close()
    rebuilt = rebuild_state(url)
    assert rebuilt.copied["synced_records"] == 1 and "synced_generations" not in rebuilt.copied
    state = StateStore(url)
    try:
        assert state.generation("m") not in (None, before)
    finally:
        state.close()


def _sidecar(project: Project) -> Path:
    [found] = (project.root / "data" / "sidecars").glob("*.arrow")
    return found


SIDECARS: dict[str, Callable[[Path, Path], None]] = {
    "current": lambda path, old: None,
    "stale (an older run's file)": lambda path, old: shutil.copy(old, path),
    "missing": lambda path, old: path.unlink(),
    "corrupt": lambda path, old: path.write_bytes(b"\x00not arrow" * 100),
    "truncated": lambda path, old: path.write_bytes(old.read_bytes()[: old.stat().st_size // 2]),
    "empty": lambda path, old: path.write_bytes(b""),
}


def test_a_sidecar_that_is_not_current_never_hides_a_change(
    tmp_path: Path, receiver: WebhookReceiver, state_url: str
) -> None:
    project = duckdb_project(tmp_path, receiver, "columnar")
    if state_url.startswith("postgresql"):  # the sidecar is built through SQLAlchemy in one REPEATABLE READ
        project.config.write_text(
            project.config.read_text().replace("[syncer]\n", f'[syncer]\nstate_url = "{state_url}"\n')
        )
        assert state_url in project.config.read_text()
    assert project.cli("run", "accounts", "--json")[0] == 0
    old = tmp_path / "old.arrow"
    shutil.copy(_sidecar(project), old)  # knows rows 1-7 with their first values
    sql(project, "UPDATE accounts SET pql_score = pql_score + 1 WHERE account_id <= 7")
    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 0 and run["changed"] == 7, err
    sql(project, "UPDATE accounts SET pql_score = pql_score - 1 WHERE account_id <= 7")  # back to the old values
    current = tmp_path / "current.arrow"
    shutil.copy(_sidecar(project), current)
    path = _sidecar(project)
    for name, damage in SIDECARS.items():
        shutil.copy(current, path)
        damage(path, old)
        left = path.read_bytes() if path.exists() else None
        code, plan, err = project.cli("plan", "accounts", "--json")
        assert code == 0 and (plan["changed"], plan["unchanged"]) == (7, ROWS - 7), (name, err)
        assert (path.read_bytes() if path.exists() else None) == left  # a plan writes nothing
    shutil.copy(old, path)
    calls = receiver.write_calls
    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 0 and run["changed"] == 7 and receiver.write_calls == calls + 1, err
    code, plan, _ = project.cli("plan", "accounts", "--json")
    assert (plan["changed"], plan["unchanged"]) == (0, ROWS)  # the run left the sidecar current


def test_a_crash_between_state_commit_and_sidecar_write_converges(tmp_path: Path, receiver: WebhookReceiver) -> None:
    project = duckdb_project(tmp_path, receiver, "columnar")
    assert project.cli("run", "accounts", "--json")[0] == 0
    sql(project, "UPDATE accounts SET tier = 'x' WHERE account_id <= 5")
    assert project.cli("run", "accounts", "--json")[1]["changed"] == 5
    before = _sidecar(project).read_bytes()  # knows rows 1-5 with tier 'x'
    sql(project, "UPDATE accounts SET tier = 'y' WHERE account_id <= 5")
    proc = project.subprocess("run", "accounts", "--json", env={"SYNCER_FAILPOINT": "before_sidecar_write"})
    proc.communicate(timeout=120)
    assert proc.returncode == -9  # killed after state recorded 'y', before the sidecar had it
    assert _sidecar(project).read_bytes() == before
    sent = receiver.write_calls
    code, plan, err = project.cli("plan", "accounts", "--json")
    assert code == 0 and (plan["changed"], plan["unchanged"]) == (0, ROWS), err  # nothing to re-send
    sql(project, "UPDATE accounts SET tier = 'x' WHERE account_id <= 5")  # what the stale file knew
    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 0 and (run["changed"], run["unchanged"]) == (5, ROWS - 5), err  # none missed
    assert receiver.write_calls == sent + 1
    code, run, _ = project.cli("run", "accounts", "--json")
    assert (run["changed"], run["unchanged"]) == (0, ROWS) and receiver.write_calls == sent + 1


@pytest.mark.parametrize("keys", [True, False])
def test_a_sidecar_loads_with_or_without_its_key_hashes(tmp_path: Path, keys: bool) -> None:
    """A plan outside the `updated_at` window leaves the key hashes on disk (8 bytes a record); the
    checks it reads are the same, and a truncated file is still refused."""
    import numpy as np

    from syncer.columnar.sidecar import Sidecar, load

    check1 = np.array([3, 5, 9], dtype=np.uint64)
    written = Sidecar("m", 7, check1, check1 + np.uint64(1), np.array([1, 2, 4, 8], dtype=np.uint64), 4)
    path = tmp_path / "m.arrow"
    written.write(path)
    found = load(path, "m", 7, keys=keys)
    assert found is not None and found.records == 4
    assert (found.check1.tolist(), found.check2.tolist()) == ([3, 5, 9], [4, 6, 10])
    assert (found.keys.tolist() if found.keys is not None else None) == ([1, 2, 4, 8] if keys else None)
    assert load(path, "m", 8, keys=keys) is None  # another token
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert load(path, "m", 7, keys=keys) is None


def _probe_cases() -> dict[str, tuple[list[int], list[int], list[tuple[int, int]]]]:
    """(check1 sorted, check2, probes (check1, check2)) with WINDOW = 3 checks."""
    c1 = [2, 4, 6, 6, 6, 9, 11, 11, 15, 20]  # 6 straddles windows 0|1, 11 fills window 2's start
    c2 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    pairs = list(zip(c1, c2, strict=True))
    return {
        "every stored pair": (c1, c2, pairs),
        "below, between and above every check": (c1, c2, [(0, 1), (5, 2), (21, 10), (2**64 - 1, 10)]),
        "a check1 that straddles a window edge: only its first check2 counts": (c1, c2, [(6, 3), (6, 4), (6, 5)]),
        "the right check1 with another check2": (c1, c2, [(9, 7), (15, 10), (20, 9)]),
        "a window's last and the next one's first": (c1, c2, [(6, 3), (9, 6), (11, 7), (15, 9)]),
        "one check": ([7], [1], [(7, 1), (7, 2), (6, 1), (8, 1)]),
        "a multiple of the window": (c1[:9], c2[:9], [*pairs[:9], (16, 9), (0, 0)]),
    }


@pytest.mark.parametrize("fence", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("name", list(_probe_cases()))
def test_mapped_checks_answer_as_the_checks_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, fence: int
) -> None:
    """A sidecar over RESIDENT_BYTES is probed from a mapped copy, a window at a time (mapped_checks),
    or, for a few probes, a fenced block at a time (`fence` checks a fence entry, 0: windows): every
    probe gets the answer one search over the whole array in memory gives."""
    import numpy as np
    import polars as pl

    from syncer.columnar import mapped_checks
    from syncer.columnar.sidecar import Sidecar, load

    c1, c2, probes = _probe_cases()[name]
    keys = np.arange(len(c1), dtype=np.uint64)
    memory = Sidecar("m", 1, np.array(c1, dtype=np.uint64), np.array(c2, dtype=np.uint64), keys, len(c1))
    path = tmp_path / "m.arrow"
    memory.write(path)
    monkeypatch.setattr(mapped_checks, "RESIDENT_BYTES", 0)
    monkeypatch.setattr(mapped_checks, "WINDOW", 3)
    monkeypatch.setattr(mapped_checks, "KEEP", 3)  # window 0 stays mapped, the others are dropped after use
    monkeypatch.setattr(mapped_checks, "FENCE", max(fence, 1))
    monkeypatch.setattr(mapped_checks, "FEW", 0 if fence else 10**9)  # every call few, or none
    mapped = load(path, "m", 1, keys=False)
    assert mapped is not None and mapped.mapped is not None
    assert load(path, "m", 1, keys=True).mapped is None  # type: ignore[union-attr]  # the window reads it
    wanted1 = pl.Series([p[0] for p in probes], dtype=pl.UInt64)
    wanted2 = pl.Series([p[1] for p in probes], dtype=pl.UInt64)
    expected = memory.unchanged(wanted1, wanted2).tolist()
    assert mapped.unchanged(wanted1, wanted2).tolist() == expected
    assert mapped.unchanged(wanted1, wanted2).tolist() == expected  # again, over dropped pages
    first = {c: c2[c1.index(c)] for c in c1}  # a check1 stored twice: its first check2 is the one asked
    assert expected == [first.get(p[0]) == p[1] for p in probes]
