"""Run the corpus through one target end to end: a PostgreSQL table with one row per case (the
sample's value in the case's own column), one mapping field per case, `syncer run` twice (the
second must be quiet), then what the service stored and what `syncer audit` shows as rejected.
"""

from __future__ import annotations

import textwrap
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncer.values import plain
from tests.engine.conftest import Project

from .samples import BY_ID, SAMPLES
from .targets import ENV, Case, Target

FILLERS = 210  # rows every target gets, so the Bulk target's one batch is over the 200 collections cap
CONNECTOR_TYPE = {"hubspot": "hubspot", "salesforce_collections": "salesforce", "salesforce_bulk": "salesforce"}


def cases_of(target: type[Target]) -> list[Case]:
    return [Case(target.name, t, family, s.id) for t, family in target.types.items() for s in SAMPLES]


@dataclass
class Observed:
    cases: list[Case]
    fields: dict[str, str]  # case key -> destination field
    first: dict[str, Any]  # `syncer run --json` of the first run
    second: dict[str, Any]  # ... of the second run (nothing changed)
    stored: dict[str, dict[str, Any]]  # match value -> record
    rejects: dict[str, str] = field(default_factory=dict)  # case key -> reason
    codes: tuple[int, int] = (0, 0)


def match_value(key: str) -> str:
    return f"X-{key}"


def same(expected: str, stored: Any) -> bool:
    """Does the service hold `expected`? Numbers compare as exact decimals; "" = cleared."""
    if stored is None or stored == "":
        return expected == ""
    if isinstance(stored, bool):
        return expected == ("true" if stored else "false")
    if isinstance(stored, int | float | Decimal):
        return plain(Decimal(repr(stored)) if isinstance(stored, float) else Decimal(stored)) == expected
    return str(stored) == expected


def _database(server: str) -> str:
    name = f"corpus_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


def _warehouse(url: str, cases: list[Case]) -> None:
    columns = ", ".join(f"{c.column} {BY_ID[c.sample].pg_type}" for c in cases)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE corpus (id text, ext text, {columns})"))
        for c in cases:
            sample = BY_ID[c.sample]
            value = f"CAST({sample.pg_literal} AS {sample.pg_type})"
            conn.execute(
                sa.text(f"INSERT INTO corpus (id, ext, {c.column}) VALUES (:k, :m, {value})"),
                {
                    "k": c.key,
                    "m": match_value(c.key),
                },
            )
        conn.execute(
            sa.text("INSERT INTO corpus (id, ext) VALUES (:k, :m)"),
            [{"k": f"fill-{i}", "m": f"F-{i}"} for i in range(FILLERS)],
        )
    engine.dispose()


def run_corpus(target: Target, root: Path, pg_server: str) -> Observed:
    """Build, run twice, observe. The target's emulator is stopped before returning."""
    cases = cases_of(type(target))
    settings = target.start(root)
    try:
        fields = {c.key: target.field(c.type_id, c.sample) for c in cases}
        url = _database(pg_server)
        _warehouse(url, cases)
        kind = CONNECTOR_TYPE.get(target.name, target.name)
        (root / "mappings").mkdir(exist_ok=True)
        mapped = "\n".join(f'{fields[c.key]} = "{c.column}"' for c in cases)
        (root / "mappings" / "corpus.toml").write_text(
            textwrap.dedent(f"""
            connector = "{target.name}"
            object = "{target.obj}"
            [model]
            table = "corpus"
            primary_key = "id"
            [match]
            field = "{target.match_field}"
            column = "ext"
            [fields]
            """)
            + mapped
            + "\n"
        )
        project = Project(root, url, env=ENV)
        project.config.write_text(
            f'[syncer]\ndata_dir = "data"\n[warehouse]\nurl = "{url}"\n'
            f'[connectors.{target.name}]\ntype = "{kind}"\n{settings}\n'
        )
        code1, first, err1 = project.cli("run", "corpus", "--json")
        assert isinstance(first, dict), (first, err1)
        code2, second, err2 = project.cli("run", "corpus", "--json")
        assert isinstance(second, dict), (second, err2)
        code, audit, err = project.cli("audit", "corpus", "--status", "rejected", "--json", "--limit", "5000")
        assert code == 0 and isinstance(audit, list), err
        return Observed(
            cases,
            fields,
            first,
            second,
            target.stored(),
            {str(r["key"]): str(r["reason"]) for r in audit},
            (code1, code2),
        )
    finally:
        target.stop()
