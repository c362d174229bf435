"""The configuration reference and the JSON Schemas are generated from the models: the committed
files must be what `make docs` writes today, and every key must say what it does."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from syncer.config import SyncConfig
from syncer.config_reference import generated_files, pages, rows, write
from syncer.config_schema import SECTIONS, connector_entry, connector_types

ROOT = Path(__file__).resolve().parents[2]
generated = functools.cache(generated_files)


@pytest.mark.parametrize("rel", sorted(generated_files()))
def test_committed_file_is_up_to_date(rel: str) -> None:
    path = ROOT / rel
    assert path.is_file(), f"{rel} is missing: run `make docs` and commit it"
    assert path.read_text(encoding="utf-8") == generated()[rel], f"{rel} is stale: run `make docs` and commit it"


def test_write_reports_only_changed_files(tmp_path: Path) -> None:
    assert sorted(write(tmp_path)) == sorted(generated())
    assert write(tmp_path) == []
    (tmp_path / "docs/reference/syncer.md").write_text("edited by hand")
    assert write(tmp_path) == ["docs/reference/syncer.md"]


def _all_rows() -> list[tuple[str, str]]:
    found = [(r.key, r.description) for section, model in SECTIONS.items() for r in rows(model, section + ".")]
    found += [(r.key, r.description) for r in rows(SyncConfig, "")]
    for kind, settings in connector_types().items():
        found += [(f"{kind}:{r.key}", r.description) for r in rows(connector_entry(kind, settings), "connectors.")]
    return found


def test_every_key_has_a_description() -> None:
    keys = _all_rows()
    assert len(keys) > 200  # every section, nested tables and every connector are walked
    assert [key for key, text in keys if len(text) < 8] == []


@pytest.mark.parametrize(
    ("page", "needle"),
    [
        ("mapping.md", "`max_delete_share`"),  # once only in the CHANGELOG
        ("mapping.md", "`fields.<name>.default`"),  # once only in one example mapping
        ("mapping.md", "42.25 -> 42.3"),  # `round` is half away from zero, as the code does
        ("mapping.md", "all-upper-case"),  # identifier case handling
        ("connectors.md", "| yes |"),  # secrets are marked
        ("connectors.md", '`type = "salesforce"`'),
        ("daemon.md", "`daemon.synclog.schema`"),  # the alias, as written in TOML
        ("actions.md", "`actions.<tier>.crm_task`"),  # [actions.<tier>] tables, not `tiers`
        ("scoring.md", "`scoring.triggers[].threshold`"),
    ],
)
def test_pages_document(page: str, needle: str) -> None:
    assert needle in pages()[page]
