"""Two syncs of one project writing the same destination records (trial finding F10, data loss).

Sync a's model holds OV-1..OV-8, sync b's OV-5..OV-12: both write HubSpot companies matched by
product_account_id, so OV-5..OV-8 are the same records. The old code let `check` say ok; a's mirror then deleted
OV-6/OV-7 at HubSpot when they left a's model although b's model still had them, and b's plan said "unchanged".
Each case runs the CLI as processes: check, run a, run b, drop OV-6/OV-7 from a, run a, run b; a refused pair
must be refused by check, plan and run with exit 2 before anything is written, and an allowed pair must leave
HubSpot holding what the models say, nothing deleted that a model still has.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator

import syncer
from tests.engine.conftest import SECRET, hubspot_config

TOKEN = "hs-shared-records-token-7712"
A_KEYS = [f"OV-{i}" for i in range(1, 9)]
B_KEYS = [f"OV-{i}" for i in range(5, 13)]
LEAVING = ["OV-6", "OV-7"]


@dataclass(frozen=True)
class Pair:
    """Two mappings' mode and fields (destination field -> column) and whether the pair is refused."""

    id: str
    mode_a: str
    fields_a: dict[str, str]
    mode_b: str
    fields_b: dict[str, str]
    refused: bool
    shares: bool = False  # a declares `shares_records_with = ["b"]`
    b_keys: tuple[str, ...] = tuple(B_KEYS)


PAIRS = [
    Pair("F10-overlapping-mirrors", "mirror", {"name": "name"}, "mirror", {"name": "name"}, refused=True),
    Pair("mirror-and-upsert", "mirror", {"name": "name"}, "upsert", {"description": "note"}, refused=True),
    Pair("upserts-same-field", "upsert", {"name": "name"}, "upsert", {"name": "name"}, refused=True),
    Pair("insert-and-upsert", "insert", {"name": "name"}, "upsert", {"description": "note"}, refused=True),
    Pair("upserts-disjoint-fields", "upsert", {"name": "name"}, "upsert", {"description": "note"}, refused=False),
    Pair(
        "declared-mirrors-disjoint-keys",
        "mirror",
        {"name": "name"},
        "mirror",
        {"name": "name"},
        refused=False,
        shares=True,
        b_keys=tuple(f"OV-{i}" for i in range(9, 13)),
    ),
]


def _mapping(mode: str, table: str, fields: dict[str, str], shares: str = "") -> str:
    lines = [
        'connector = "hubspot"',
        'object = "companies"',
        f'mode = "{mode}"',
        f"shares_records_with = [{shares!r}]".replace("'", '"') if shares else "",
        "max_delete_share = 1.0",
        "[model]",
        f'table = "{table}"',
        'primary_key = "id"',
        "[match]",
        'field = "product_account_id"',
        'column = "id"',
        "[fields]",
        *(f'{field} = "{column}"' for field, column in fields.items()),
    ]
    return "\n".join(lines) + "\n"


@dataclass
class World:
    root: Path
    emu: HubSpotEmulator
    url: str

    def syncer(self, *args: str) -> subprocess.CompletedProcess[str]:
        src = str(Path(syncer.__file__).resolve().parents[1])  # this checkout's engine, whatever the cwd
        path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "HS_TOKEN": TOKEN, "HOOK_SECRET": SECRET, "PYTHONPATH": path}
        return subprocess.run(
            [sys.executable, "-m", "syncer", *args, "-c", str(self.root / "config.toml")],
            env=env,
            text=True,
            capture_output=True,
            cwd=self.root,
            check=False,
        )

    def companies(self) -> dict[str, dict[str, str]]:
        with self.emu.lock:
            return {o.properties["product_account_id"]: dict(o.properties) for o in self.emu.store.live("companies")}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    emu = HubSpotEmulator(plan="increase", token=TOKEN)
    emu.store.define("companies", "product_account_id", "string", unique=True)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in ("a", "b"):
            conn.execute(sa.text(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, name TEXT, note TEXT)"))
    engine.dispose()
    (tmp_path / "mappings").mkdir()
    (tmp_path / "config.toml").write_text(hubspot_config(url, emu.start()))
    yield World(tmp_path, emu, url)
    emu.stop()


def _fill(url: str, table: str, keys: list[str] | tuple[str, ...]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        rows = [{"i": k, "n": f"{k} from {table}", "o": f"note {k} from {table}"} for k in keys]
        conn.execute(sa.text(f"INSERT INTO {table} VALUES (:i, :n, :o)"), rows)
    engine.dispose()


def _drop(url: str, table: str, keys: list[str]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for key in keys:
            conn.execute(sa.text(f"DELETE FROM {table} WHERE id = :k"), {"k": key})
    engine.dispose()


@pytest.mark.parametrize("pair", PAIRS, ids=[p.id for p in PAIRS])
def test_two_syncs_writing_the_same_records(world: World, pair: Pair) -> None:
    (world.root / "mappings" / "a.toml").write_text(
        _mapping(pair.mode_a, "a", pair.fields_a, "b" if pair.shares else "")
    )
    (world.root / "mappings" / "b.toml").write_text(_mapping(pair.mode_b, "b", pair.fields_b))
    _fill(world.url, "a", A_KEYS)
    _fill(world.url, "b", pair.b_keys)

    check = world.syncer("check")
    if pair.refused:
        assert check.returncode == 2, (check.stdout, check.stderr)
        message = check.stderr
        for text in ("mappings/a.toml", "mappings/b.toml", "match.field", "shares_records_with"):
            assert text in message, message
        assert "Traceback" not in message and TOKEN not in message + check.stdout
        for command in (("plan", "b"), ("run", "a")):
            done = world.syncer(*command)
            assert done.returncode == 2 and "mappings/b.toml" in done.stderr, (command, done.stderr)
        assert world.companies() == {}  # refused before anything was written
        return

    assert check.returncode == 0, (check.stdout, check.stderr)
    for sync in ("a", "b"):
        assert world.syncer("run", sync).returncode == 0
    _drop(world.url, "a", LEAVING)
    for sync in ("a", "b"):
        done = world.syncer("run", sync)
        assert done.returncode == 0, done.stderr
    a_now = [k for k in A_KEYS if k not in LEAVING]
    expected: dict[str, dict[str, str]] = {}
    for table, keys, fields in (("a", a_now, pair.fields_a), ("b", pair.b_keys, pair.fields_b)):
        for key in keys:
            for field, column in fields.items():
                expected.setdefault(key, {})[field] = (
                    f"{key} from {table}" if column == "name" else f"note {key} from {table}"
                )
    if pair.mode_a != "mirror":  # an upsert leaves a record whose row left its model at the destination
        for key in LEAVING:
            expected.setdefault(key, {})["name"] = f"{key} from a"
    held = world.companies()
    assert set(held) == set(expected)  # nothing deleted that a model still has, nothing extra
    for key, fields in expected.items():
        assert {f: held[key].get(f) for f in fields} == fields, key
