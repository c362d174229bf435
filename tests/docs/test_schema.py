"""The JSON Schemas in schema/ accept every shipped example, and so does `syncer check`; the broken configs
both refuse are in test_broken_config.py."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

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


# What the examples' ${NAME} references resolve to: shaped like the real values (URLs, channel IDs, tokens)
EXAMPLE_ENV = {
    "HUBSPOT_BASE_URL": "http://127.0.0.1:9",
    "HUBSPOT_TOKEN": "pat-na1-example",
    "INAPP_WEBHOOK_URL": "http://127.0.0.1:9/hooks",
    "INAPP_SIGNING_SECRET": "whsec-example",
    "SALESFORCE_INSTANCE_URL": "https://127.0.0.1:9",
    "SALESFORCE_LOGIN_URL": "https://127.0.0.1:9",
    "SALESFORCE_USERNAME": "integration@example.com",
    "SALESFORCE_PASSWORD": "password-example",
    "SALESFORCE_SECURITY_TOKEN": "token-example",
    "SALESFORCE_CA_BUNDLE": str(ROOT / "config.example.toml"),  # a file that exists; check never reads it
    "SLACK_BASE_URL": "http://127.0.0.1:9/api/",
    "SLACK_BOT_TOKEN": "xoxb-example",
    "SLACK_FALLBACK_CHANNEL": "C0FALLBACK1",
    "SLACK_ENTERPRISE_CHANNEL": "C0ENTERPRS1",
}


def demo_config(folder: Path) -> Path:
    """The config.toml `syncer demo` writes and runs (syncer.demo.prepare_folder)."""
    from syncer.demo import prepare_folder

    return prepare_folder(folder, "duckdb:///unused.duckdb")


@pytest.mark.parametrize("which", ["config.example.toml", "src/syncer/examples/config.example.toml", "demo"])
def test_examples_pass_schema_and_checks_static_validation(
    which: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every shipped config and the mappings it loads: the schema accepts them and so does `syncer check`
    up to the point where it reaches the warehouse (load_config, then every other section)."""
    from syncer.config import load_config
    from syncer.config_check import section_issues

    path = demo_config(tmp_path / "demo") if which == "demo" else ROOT / which
    for name, value in {**EXAMPLE_ENV, "SYNCER_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'wh.sqlite'}"}.items():
        monkeypatch.setenv(name, value)
    assert errors(CONFIG_SCHEMA, tomllib.loads(path.read_text())) == []
    config = load_config(path)
    assert sorted(config.syncs) == ["hubspot_companies", "inapp_low_tier", "salesforce_accounts"]
    for name in config.syncs:
        assert errors(MAPPING_SCHEMA, tomllib.loads(Path(config.sync_files[name]).read_text())) == []
    assert [str(issue) for issue in section_issues(config)] == []


def test_taplo_associates_the_schemas() -> None:
    taplo = tomllib.loads((ROOT / ".taplo.toml").read_text())
    by_schema = {rule["schema"]["path"]: rule["include"] for rule in taplo["rule"]}
    assert "config.example.toml" in by_schema["./schema/config.schema.json"]
    assert "mappings/*.toml" in by_schema["./schema/mapping.schema.json"]
