"""One typo is one issue with a did-you-mean, and every file is named as the user can open it.

Repro: a mapping's `primary_keys` gave two messages (`model.primary_key: required key is missing` and
`model.primary_keys: unknown key`), unknown keys of config.toml had no hint, and a mapping was named
`mappings/x.toml` (relative to the config's folder) while the user ran syncer from the project root.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from syncer.config import load_config
from syncer.errors import ConfigError

CONFIG = """
[syncer]
data_dir = "data"
audit_retention_days = 30
[warehouse]
url = "sqlite:///w.sqlite"
[connectors.hs]
type = "hubspot"
base_url = "http://127.0.0.1:9"
access_token = "${HS_TOKEN}"
plan_tier = "starter"
"""
MAPPING = """
connector = "hs"
object = "companies"
[model]
table = "accounts"
primary_key = "account_id"
[match]
field = "syncer_account_id"
column = "account_id"
[fields]
name = "name"
"""
MAP = "mappings/accounts.toml"

# (file, old, new) -> the one issue expected, as "key: message"
CASES = {
    "mapping-required-key": (
        MAP,
        "primary_key =",
        "primary_keys =",
        "model.primary_keys: unknown key (did you mean 'primary_key'?)",
    ),
    "config-optional-key": (
        "config.toml",
        "audit_retention_days",
        "audit_retension_days",
        "syncer.audit_retension_days: unknown key (did you mean 'audit_retention_days'?)",
    ),
    "connector-required-key": (
        "config.toml",
        "base_url",
        "base_ur",
        "connectors.hs.base_ur: unknown key (did you mean 'base_url'?)",
    ),
    "connector-optional-key": (
        "config.toml",
        "plan_tier",
        "plan_teir",
        "connectors.hs.plan_teir: unknown key (did you mean 'plan_tier'?)",
    ),
    "warehouse-required-key": ("config.toml", "url =", "ur1 =", "warehouse.ur1: unknown key (did you mean 'url'?)"),
    "mapping-nested-optional": (
        MAP,
        'column = "account_id"',
        'colum = "account_id"',
        "match.colum: unknown key (did you mean 'column'?)",
    ),
    "field-spec-key": (  # a key of a table of models (fields: dict[str, FieldSpec])
        MAP,
        'name = "name"',
        'name = { column = "name", cst = "str" }',
        "fields.name.cst: unknown key (did you mean 'cast'?)",
    ),
    "field-spec-number": (
        MAP,
        'name = "name"',
        "name = 5",
        'fields.name: a field is a column name or a table, not 5: write name = "name_column" or name = { const = 5 }'
        " for a constant",
    ),
    "field-spec-boolean": (
        MAP,
        'name = "name"',
        "name = true",
        'fields.name: a field is a column name or a table, not true: write name = "name_column" or '
        "name = { const = true } for a constant",
    ),
}


def _project(root: Path) -> Path:
    (root / "mappings").mkdir(parents=True)
    (root / "config.toml").write_text(textwrap.dedent(CONFIG))
    (root / MAP).write_text(textwrap.dedent(MAPPING))
    return root / "config.toml"


@pytest.mark.parametrize(("file", "old", "new", "expected"), CASES.values(), ids=list(CASES))
def test_one_typo_is_one_issue_with_did_you_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file: str, old: str, new: str, expected: str
) -> None:
    monkeypatch.setenv("HS_TOKEN", "pat-typo-test-0001")
    monkeypatch.chdir(tmp_path)
    config = _project(tmp_path / "proj")
    path = config.parent / file
    assert old in path.read_text()  # the fixture changed: the case would test nothing
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(ConfigError) as raised:
        load_config(Path("proj") / "config.toml")  # named as given (an absolute path: absolute)
    issues = [f"{i.key}: {i.message}" for i in raised.value.issues]
    assert issues == [expected], issues
    assert raised.value.issues[0].file == str(Path("proj") / file), raised.value.issues[0].file


@pytest.mark.parametrize("cwd", ["parent", "elsewhere"])
def test_a_mapping_is_named_as_the_user_can_open_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cwd: str) -> None:
    """From the project root a mapping is `proj/mappings/x.toml`; from outside it, its absolute path."""
    monkeypatch.setenv("HS_TOKEN", "pat-typo-test-0001")
    config = _project(tmp_path / "proj")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / cwd if cwd == "elsewhere" else tmp_path)
    path = config.parent / MAP
    path.write_text(path.read_text().replace('connector = "hs"', 'connector = "hx"'))
    with pytest.raises(ConfigError) as raised:
        load_config(Path("proj/config.toml") if cwd == "parent" else config)
    (issue,) = raised.value.issues
    shown = Path(issue.file)
    assert (Path.cwd() / shown).resolve() == path.resolve(), issue.file  # it opens from here
    assert shown.is_absolute() is (cwd == "elsewhere"), issue.file
