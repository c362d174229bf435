"""A field's `tz` decides the day its `cast` and `format` take, on every value kind and warehouse (F4).

Repro: `d2 = { column = "ts", cast = "date", tz = "Asia/Kolkata" }` on a TIMESTAMPTZ 2024-03-09T21:00Z sent
"2024-03-09" (the UTC day: cast ran first and the zone was silently dropped) while `format = "%Y-%m-%d"` with the
same zone sent 2024-03-10; `check` said nothing. Every combination of field options where an option was ignored
or ran in an order the docs did not say is a row of OPTIONS (values sent) or of CONFLICTS (a configuration
error naming the field and the fix), run through `plan --show` and `check` as processes on DuckDB, SQLite and
PostgreSQL (SQLite hands every date over as text).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import SECRET

KOLKATA = "Asia/Kolkata"  # +05:30: 2024-03-09T21:00Z is 2024-03-10 02:30 there
INSTANT = "2024-03-09 21:00:00"  # UTC
KINDS = ("ts", "tsn", "d", "t")  # TIMESTAMPTZ, naive TIMESTAMP (UTC), DATE, ISO text

# combination of options -> the value sent for each value kind (ts, tsn, d, t)
OPTIONS: dict[str, tuple[dict[str, Any], tuple[str, str, str, str]]] = {
    # the zone decides the day a cast takes (was the UTC day); a date keeps its day
    "cast-date-tz": ({"cast": "date", "tz": KOLKATA}, ("2024-03-10", "2024-03-10", "2024-03-09", "2024-03-10")),
    # format in the zone, on ISO text too (text was rejected)
    "tz-format": ({"tz": KOLKATA, "format": "%Y-%m-%d"}, ("2024-03-10", "2024-03-10", "2024-03-09", "2024-03-10")),
    # a date cast to a datetime is midnight in the zone, not midnight UTC moved to 05:30
    "cast-datetime-tz-format": (
        {"cast": "datetime", "tz": KOLKATA, "format": "%Y-%m-%d %H:%M %z"},
        ("2024-03-10 02:30 +0530", "2024-03-10 02:30 +0530", "2024-03-09 00:00 +0530", "2024-03-10 02:30 +0530"),
    ),
    # case runs last, on the formatted text (it ran first, and format then rejected every row)
    "tz-format-case": ({"tz": KOLKATA, "format": "%b %d", "case": "upper"}, ("MAR 10", "MAR 10", "MAR 09", "MAR 10")),
    # cast, zone, format and case together: every step, in the documented order
    "cast-datetime-tz-format-case": (
        {"tz": KOLKATA, "case": "lower", "cast": "datetime", "format": "%Y-%m-%dT%H:%M%z"},
        ("2024-03-10t02:30+0530", "2024-03-10t02:30+0530", "2024-03-09t00:00+0530", "2024-03-10t02:30+0530"),
    ),
    # case on a timestamp in a zone, no format: ISO text in the zone (case made it UTC text, dropping the zone)
    "tz-case": (
        {"tz": KOLKATA, "case": "upper"},
        ("2024-03-10T02:30:00+05:30", "2024-03-10T02:30:00+05:30", "2024-03-09", "2024-03-10T02:30:00+05:30"),
    ),
    # control, unchanged: without tz the UTC day, whatever zone the warehouse session hands a TIMESTAMPTZ over in
    "cast-date": ({"cast": "date"}, ("2024-03-09", "2024-03-09", "2024-03-09", "2024-03-09")),
}

# a combination where an option could never apply -> what `check` names
CONFLICTS: dict[str, tuple[dict[str, Any], str]] = {
    "tz-cast-int": ({"cast": "int", "tz": KOLKATA}, "`tz` never applies: cast = 'int'"),
    "tz-cast-str": ({"cast": "str", "tz": KOLKATA}, "`tz` never applies: cast = 'str'"),
    "tz-cast-bool": ({"cast": "bool", "tz": KOLKATA}, "`tz` never applies: cast = 'bool'"),
    "format-cast-float": ({"cast": "float", "format": "%Y"}, "`format` never applies: cast = 'float'"),
    "tz-round": ({"round": 1, "tz": KOLKATA}, "`tz` never applies: `round` makes a number"),
    "format-round": ({"round": 0, "format": "%Y"}, "`format` never applies: `round` makes a number"),
    "round-cast-date": ({"round": 0, "cast": "date"}, "`round` never applies: cast = 'date'"),
}

TABLES = {  # warehouse -> DDL (column types as each warehouse spells them) and the row
    "duckdb": "CREATE TABLE acc (id INTEGER, ext TEXT, ts TIMESTAMPTZ, tsn TIMESTAMP, d DATE, t TEXT, n INTEGER)",
    "sqlite": "CREATE TABLE acc (id INTEGER, ext TEXT, ts TIMESTAMP, tsn DATETIME, d DATE, t TEXT, n INTEGER)",
    "postgresql": "CREATE TABLE acc (id INTEGER, ext TEXT, ts TIMESTAMPTZ, tsn TIMESTAMP, d DATE, t TEXT, n INTEGER)",
}
ROW = f"INSERT INTO acc VALUES (1, 'e1', '{INSTANT}+00:00', '{INSTANT}', '2024-03-09', '2024-03-09T21:00:00Z', 7)"


def _toml(spec: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in {"column": "COL", **spec}.items()) + " }"


def _mapping(fields: dict[str, str]) -> str:
    lines = "\n".join(f"{name} = {spec}" for name, spec in fields.items())
    head = 'connector = "hook"\nobject = "acc"\n[model]\ntable = "acc"\nprimary_key = "id"\n'
    return head + f'[match]\nfield = "ext"\ncolumn = "ext"\n[fields]\n{lines}\n'


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as rx:
        yield rx


@pytest.fixture(params=sorted(TABLES))
def project(request: pytest.FixtureRequest, tmp_path: Path, receiver: WebhookReceiver) -> Path:
    kind = request.param
    url = {
        "duckdb": f"duckdb:///{tmp_path / 'wh.duckdb'}",
        "sqlite": f"sqlite:///{tmp_path / 'wh.sqlite'}",
        "postgresql": request.getfixturevalue("pg_url") if kind == "postgresql" else "",
    }[kind]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(TABLES[kind]))
        conn.execute(sa.text(ROW))
    engine.dispose()
    (tmp_path / "config.toml").write_text(
        textwrap.dedent(f"""
        [syncer]
        data_dir = "data"
        [warehouse]
        url = "{url}"
        [connectors.hook]
        type = "webhook"
        url = "{receiver.base_url}/hooks"
        signing_secret = "${{HOOK_SECRET}}"
        """)
    )
    (tmp_path / "mappings").mkdir()
    return tmp_path


def _syncer(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # the session zone a TIMESTAMPTZ is handed over in must not matter
    env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(root / "config.toml"), "TZ": "America/Denver"}
    return subprocess.run([sys.executable, "-m", "syncer", *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_zone_decides_the_day_on_every_value_kind(project: Path) -> None:
    fields = {
        f"{name}__{kind}": _toml(spec).replace("COL", kind) for name, (spec, _) in OPTIONS.items() for kind in KINDS
    }
    (project / "mappings" / "acc.toml").write_text(_mapping(fields))
    done = _syncer(project, "plan", "acc", "--show", "1", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["bad_row_samples"] == []
    sent = plan["samples"][0]["fields"]
    got = {name: tuple(sent[f"{name}__{kind}"] for kind in KINDS) for name in OPTIONS}
    assert got == {name: expected for name, (_, expected) in OPTIONS.items()}


def test_an_option_that_could_never_apply_is_a_config_error(project: Path) -> None:
    fields = {name: _toml(spec).replace("COL", "ts") for name, (spec, _) in CONFLICTS.items()}
    (project / "mappings" / "acc.toml").write_text(_mapping(fields))
    done = _syncer(project, "check")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    for name, (_, reason) in CONFLICTS.items():
        line = next((ln for ln in done.stderr.splitlines() if f"fields.{name}:" in ln), "")
        assert "mappings/acc.toml" in line and reason in line and "remove" in line, (name, done.stderr)


def test_a_zone_on_a_number_rejects_the_row_naming_the_field(project: Path) -> None:
    (project / "mappings" / "acc.toml").write_text(_mapping({"n_in_zone": _toml({"tz": KOLKATA}).replace("COL", "n")}))
    done = _syncer(project, "plan", "acc", "--json")
    assert done.returncode == 0, done.stderr
    [sample] = json.loads(done.stdout)["bad_row_samples"]
    assert sample["reason"] == "field 'n_in_zone': tz 'Asia/Kolkata' applies to a date or timestamp, not int 7"
