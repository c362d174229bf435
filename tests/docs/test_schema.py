"""The JSON Schemas in schema/ accept every shipped example and refuse what `syncer check` refuses."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.engine.conftest import SECRET, Project

ROOT = Path(__file__).resolve().parents[2]
CONFIG_SCHEMA = json.loads((ROOT / "schema/config.schema.json").read_text())
MAPPING_SCHEMA = json.loads((ROOT / "schema/mapping.schema.json").read_text())
EXAMPLE_CONFIGS = [ROOT / "config.example.toml", ROOT / "src/syncer/examples/config.example.toml"]
EXAMPLE_MAPPINGS = sorted([*ROOT.glob("mappings/*.toml"), *ROOT.glob("src/syncer/examples/mappings/*.toml")])


def errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_schemas_are_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(CONFIG_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(MAPPING_SCHEMA)


@pytest.mark.parametrize("path", EXAMPLE_CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_config_validates(path: Path) -> None:
    assert errors(CONFIG_SCHEMA, tomllib.loads(path.read_text())) == []


@pytest.mark.parametrize("path", EXAMPLE_MAPPINGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_mapping_validates(path: Path) -> None:
    assert errors(MAPPING_SCHEMA, tomllib.loads(path.read_text())) == []


def test_taplo_associates_the_schemas() -> None:
    taplo = tomllib.loads((ROOT / ".taplo.toml").read_text())
    by_schema = {rule["schema"]["path"]: rule["include"] for rule in taplo["rule"]}
    assert "config.example.toml" in by_schema["./schema/config.schema.json"]
    assert "mappings/*.toml" in by_schema["./schema/mapping.schema.json"]


Edit = Callable[[str], str]


def sub(old: str, new: str) -> Edit:
    def edit(text: str) -> str:
        assert old in text, f"{old!r} not in the fixture"  # else the case would test nothing
        return text.replace(old, new, 1)

    return edit


def add(extra: str) -> Edit:
    return lambda text: text + extra


# (file, edit, the key `syncer check` blames): each must be refused by the schema AND by check
BROKEN: list[tuple[str, Edit, str]] = [
    ("config", sub('data_dir = "data"', 'data_dir = "data"\ncolour = "red"'), "syncer.colour"),
    ("config", sub('data_dir = "data"', 'data_dir = "data"\nlog_level = "loud"'), "syncer.log_level"),
    ("config", sub('signing_secret = "${HOOK_SECRET}"', 'signing_secret = "whsec-literal"'), "signing_secret"),
    ("config", sub("batch_size = 100", "batch_size = 0"), "connectors.hook.batch_size"),
    ("config", sub("batch_size = 100", 'batch_size = 100\ncolour = "red"'), "connectors.hook.colour"),
    ("config", add("\n[alrets]\nslack = 'slack'\n"), "alrets"),
    ("config", sub("[warehouse]", "[warehous]"), "warehouse"),
    ("config", add('\n[scoring]\nseat_basis = "users"\n'), "scoring.seat_basis"),
    ("config", add("\n[scoring.health]\nseat_weight = 'heavy'\n"), "scoring.health.seat_weight"),
    ("mapping", sub('mode = "upsert"', 'mode = "sideways"'), "mode"),
    ("mapping", add("max_delete_share = 1.5\n"), "max_delete_share"),
    ("mapping", sub('case = "upper"', 'case = "title"'), "fields.tier.case"),
    ("mapping", sub("round = 0", 'round = "two"'), "fields.pql_score.round"),
    ("mapping", sub('name = "name"', 'name = { column = "name", colour = "red" }'), "fields.name.colour"),
    ("mapping", sub('[match]\nfield = "domain"\ncolumn = "domain"', ""), "match"),
    ("mapping", sub('table = "accounts"', 'tabel = "accounts"'), "model.tabel"),
]


@pytest.mark.parametrize(("file", "edit", "key"), BROKEN, ids=[key for _, _, key in BROKEN])
def test_broken_config_is_refused_by_schema_and_check(tmp_path: Path, file: str, edit: Edit, key: str) -> None:
    project = Project(tmp_path, f"sqlite:///{tmp_path / 'wh.sqlite'}")
    project.write(mode="upsert")
    path = project.config if file == "config" else tmp_path / "mappings/accounts.toml"
    schema = CONFIG_SCHEMA if file == "config" else MAPPING_SCHEMA
    assert errors(schema, tomllib.loads(path.read_text())) == [], "the unbroken fixture must validate"
    path.write_text(edit(path.read_text()))

    assert errors(schema, tomllib.loads(path.read_text())) != []
    code, out, err = project.cli("check")
    assert code == 2, (out, err)
    assert key in err, err
    assert "Traceback" not in err


# Sections the daemon validates at start-up (syncer.daemon.load_settings): the schema refuses what it refuses.
SECTION_BROKEN: list[tuple[str, str]] = [
    ("[alerts]\ncooldown_days = -1\n", "alerts.cooldown_days"),
    ('[alerts]\nescalation_channel = "#sales"\n', "alerts.escalation_channel"),
    ('[routing]\nrules = [{ to = "sales" }]\n', "routing.rules.0.to"),
    ("[routing]\nimmediate = ['urgent']\n", "routing.immediate.0"),
    ('[digest]\ntime = "9 o\'clock"\n', "digest.time"),
    ('[actions.monitor]\nnotify = "shout"\n', "actions.monitor.notify"),
    ("[daemon]\nport = 70000\n", "daemon.port"),
    ('[daemon]\ncolour = "red"\n', "daemon.colour"),
    ('[daemon.synclog]\nruns_table = "bad name"\n', "daemon.synclog.runs_table"),
    ("[report]\ntrend_days = 1\n", "report.trend_days"),
    ("[outcomes]\nwindow_days = 0\n", "outcomes.window_days"),
]


@pytest.mark.parametrize(("extra", "key"), SECTION_BROKEN, ids=[key for _, key in SECTION_BROKEN])
def test_broken_section_is_refused_by_schema_and_start_up(tmp_path: Path, extra: str, key: str) -> None:
    from syncer.config import load_config
    from syncer.daemon import load_settings
    from syncer.errors import ConfigError

    project = Project(tmp_path, f"sqlite:///{tmp_path / 'wh.sqlite'}")
    project.write(mode="upsert")
    text = project.config.read_text() + '\n[connectors.slack]\nbot_token = "${HOOK_SECRET}"\n'
    assert errors(CONFIG_SCHEMA, tomllib.loads(text)) == [], "the unbroken fixture must validate"
    project.config.write_text(text + extra)

    assert errors(CONFIG_SCHEMA, tomllib.loads(project.config.read_text())) != []
    os.environ.setdefault("HOOK_SECRET", SECRET)
    with pytest.raises(ConfigError) as caught:
        load_settings(load_config(project.config))
    assert key in [issue.key for issue in caught.value.issues], caught.value.issues
