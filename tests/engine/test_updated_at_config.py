"""`model.updated_at` is never silently ignored, and an unset warehouse URL is one issue.

Repro (a newcomer's first hour): `updated_at` on a sync diffing "rows" (before the columnar window,
"columnar" too) was accepted and ignored, so the sync was never incremental and nothing said so; `updated_at` naming
a missing column passed `syncer check` and failed at `run` naming `model.table`; an unset `${NAME}`
in the URL of a warehouse with `diff = "warehouse"` gave a second error calling the placeholder the
warehouse. Ignoring `updated_at` is a warning (`check`, and every plan and run log it), not an
error: every mode plans the same changes, so a sync switched to another mode stays correct.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from syncer.config import Config, ignored_updated_at, load_config, unknown_column_issues
from syncer.errors import ConfigError

CONFIG = """
[syncer]
data_dir = "data"
[warehouse]
url = "{url}"
{warehouse_diff}
[connectors.hook]
type = "webhook"
url = "https://hooks.example.com/in"
signing_secret = "${{HOOK_SECRET_UA}}"
"""
MAPPING = """
connector = "hook"
object = "accounts"
{diff}
[model]
table = "accounts"
primary_key = "account_id"
updated_at = "updated_at"
[match]
field = "domain"
column = "domain"
[fields]
name = "name"
"""
MAP = "mappings/accounts.toml"
IGNORED = (
    'model.updated_at: read by diff = "columnar" (the default) and "warehouse" only; this sync diffs "{mode}" '
    "({where}) and reads the whole model"
)

# name: ([warehouse] diff line, mapping diff line, the warning expected, or None)
CASES = {
    "columnar by default": ("", "", None),
    "rows for every sync": ('diff = "rows"', "", IGNORED.format(mode="rows", where="[warehouse] diff in config.toml")),
    "rows in the mapping": (
        'diff = "warehouse"',
        'diff = "rows"',
        IGNORED.format(mode="rows", where="this mapping's diff"),
    ),
    "warehouse in the mapping": ("", 'diff = "warehouse"', None),
    "warehouse for every sync": ('diff = "warehouse"', "", None),
}


def _load(root: Path, monkeypatch: pytest.MonkeyPatch, url: str, warehouse_diff: str, diff: str) -> Config:
    monkeypatch.setenv("HOOK_SECRET_UA", "whsec-updated-at-config-0001")
    monkeypatch.chdir(root)
    (root / "mappings").mkdir()
    (root / "config.toml").write_text(textwrap.dedent(CONFIG.format(url=url, warehouse_diff=warehouse_diff)))
    (root / MAP).write_text(textwrap.dedent(MAPPING.format(diff=diff)))
    return load_config(root / "config.toml")


@pytest.mark.parametrize(("warehouse_diff", "diff", "expected"), CASES.values(), ids=list(CASES))
def test_an_ignored_updated_at_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse_diff: str, diff: str, expected: str | None
) -> None:
    cfg = _load(tmp_path, monkeypatch, "duckdb:///w.duckdb", warehouse_diff, diff)
    said = ignored_updated_at(cfg.syncs["accounts"], cfg.warehouse)
    assert (said if expected is None else (said or "").split(": add")[0]) == expected


def test_an_unset_url_is_one_issue_with_a_warehouse_diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WH_URL_NOT_SET", raising=False)
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, monkeypatch, "${WH_URL_NOT_SET}", 'diff = "warehouse"', "")
    assert [(i.key, i.message.split(" (")[0]) for i in raised.value.issues] == [
        ("warehouse.url", "${WH_URL_NOT_SET} is not set")
    ], raised.value.issues


def test_a_missing_updated_at_column_is_an_unknown_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `check`, `plan` and `run` report before reading a row (`SyncJob.validate_columns`)."""
    monkeypatch.setenv("HOOK_SECRET_UA", "whsec-updated-at-config-0001")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "config.toml").write_text(textwrap.dedent(CONFIG.format(url="duckdb:///w.duckdb", warehouse_diff="")))
    (tmp_path / MAP).write_text(
        textwrap.dedent(MAPPING.format(diff='diff = "warehouse"')).replace(
            'updated_at = "updated_at"', 'updated_at = "update_at"'
        )
    )
    sync = load_config(tmp_path / "config.toml").syncs["accounts"]
    issues = unknown_column_issues(MAP, sync, ["account_id", "domain", "name", "updated_at"])
    assert [f"{i.key}: {i.message}" for i in issues] == [
        "model.updated_at: unknown column 'update_at' (did you mean 'updated_at'?)"
    ]


# key = value in [model]: the ConfigIssue expected (key, start of the message), or None when accepted
ZERO_DURATIONS = {
    'full_diff_every = "0s"': ("model.full_diff_every", "a zero duration would make every diff a full one"),
    'full_diff_every = "0h0m"': ("model.full_diff_every", "a zero duration would make every diff a full one"),
    'full_diff_every = "-1h"': ("model.full_diff_every", "'-1h' is not a duration"),
    'full_diff_every = "1s"': None,
    # lookback 0: the window starts at the highest value read, inclusive -- right for rows written in order
    'updated_at_lookback = "0s"': None,
    'updated_at_lookback = "-5m"': ("model.updated_at_lookback", "'-5m' is not a duration"),
}


@pytest.mark.parametrize("line", list(ZERO_DURATIONS))
def test_a_zero_duration_is_refused_where_it_means_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str
) -> None:
    """Repro: `full_diff_every = "0s"` was accepted and made every diff a full one, the window never used."""
    expected = ZERO_DURATIONS[line]
    monkeypatch.setenv("HOOK_SECRET_UA", "whsec-updated-at-config-0001")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "config.toml").write_text(textwrap.dedent(CONFIG.format(url="duckdb:///w.duckdb", warehouse_diff="")))
    mapping = textwrap.dedent(MAPPING.format(diff='diff = "warehouse"'))
    (tmp_path / MAP).write_text(mapping.replace('updated_at = "updated_at"', f'updated_at = "updated_at"\n{line}'))
    if expected is None:
        load_config(tmp_path / "config.toml")
        return
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "config.toml")
    found = [(i.file, i.key, i.message) for i in raised.value.issues]
    assert len(found) == 1 and found[0][0].endswith(MAP) and found[0][1] == expected[0], found
    assert found[0][2].startswith(expected[1]), found
    if expected[0] == "model.full_diff_every" and "zero" in expected[1]:  # the fix is named
        assert "such as '24h'" in found[0][2] and "remove model.updated_at" in found[0][2], found
