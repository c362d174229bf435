"""`syncer check` reports every section's problems at once: one unknown key in each of two sections, for
every pair of sections, and the process exits 2 naming both `file: section.key` (ENGINEERING.md: validate
the whole config at start-up, report every error at once with file and key).

A section failing validation used to hide the sections checked after it: a bad [daemon] key hid [digest],
a bad mapping or [warehouse] key hid every [alerts]/[daemon]/[outcomes] section.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.engine.conftest import Project


@dataclass(frozen=True)
class Typo:
    """One unknown key planted in one section; `says` is the `file: key` check must print."""

    section: str
    plant: Callable[[Project], None]
    says: Callable[[Project], str]


def _in_table(header: str, line: str) -> Callable[[Project], None]:
    """Put `line` as the first key of the existing `header` table of config.toml."""

    def plant(p: Project) -> None:
        text = p.config.read_text()
        assert header in text, header
        p.config.write_text(text.replace(header + "\n", f"{header}\n{line}\n", 1))

    return plant


def _appended(body: str) -> Callable[[Project], None]:
    def plant(p: Project) -> None:
        p.config.write_text(p.config.read_text() + "\n" + body + "\n")

    return plant


def _in_mapping(p: Project) -> None:
    mapping = p.root / "mappings" / "accounts.toml"
    mapping.write_text("bogus_sync = 1\n" + mapping.read_text())


def _config_key(key: str) -> Callable[[Project], str]:
    return lambda p: f"{p.config}: {key}"


TYPOS = [
    Typo("syncs", _in_mapping, lambda p: "accounts.toml: bogus_sync"),
    Typo("syncer", _in_table("[syncer]", "bogus_syncer = 1"), _config_key("syncer.bogus_syncer")),
    Typo("warehouse", _in_table("[warehouse]", "bogus_warehouse = 1"), _config_key("warehouse.bogus_warehouse")),
    Typo(
        "connectors",
        _in_table("[connectors.hook]", "bogus_connector = 1"),
        _config_key("connectors.hook.bogus_connector"),
    ),
    Typo("alerts", _appended("[alerts]\nbogus_alerts = 1"), _config_key("alerts.bogus_alerts")),
    Typo("routing", _appended("[routing]\nbogus_routing = 1"), _config_key("routing.bogus_routing")),
    Typo(
        "digest",
        _appended('[digest]\ntimezone = "America/New_York"\nbogus_digest = 1'),
        _config_key("digest.bogus_digest"),
    ),
    Typo("actions", _appended("[actions]\nbogus_actions = 1"), _config_key("actions.bogus_actions")),
    Typo("tiers", _appended("[actions.high]\nbogus_tier = true"), _config_key("actions.high.bogus_tier")),
    Typo("daemon", _appended("[daemon]\nbogus_daemon = 2"), _config_key("daemon.bogus_daemon")),
    Typo(
        "daemon schedule",
        _appended("[daemon.report]\nbogus_schedule = 1"),
        _config_key("daemon.report.bogus_schedule"),
    ),
    Typo("scoring", _appended("[scoring]\nbogus_scoring = 1"), _config_key("scoring.bogus_scoring")),
    Typo("report", _appended("[report]\nbogus_report = 1"), _config_key("report.bogus_report")),
    Typo("outcomes", _appended("[outcomes]\nbogus_outcomes = 1"), _config_key("outcomes.bogus_outcomes")),
    Typo(
        "email",
        _appended('[connectors.mail]\ntype = "email"\nbogus_email = 1'),
        _config_key("connectors.mail.bogus_email"),
    ),
]
PAIRS = list(itertools.combinations(TYPOS, 2))


def _check(project: Project) -> tuple[int, str]:
    proc = project.subprocess("check")
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr


@pytest.mark.parametrize("typo", TYPOS, ids=[t.section for t in TYPOS])
def test_each_typo_alone_is_reported(project: Project, typo: Typo) -> None:
    """The table's own premise: each planted key is found on its own (in-process, fast)."""
    typo.plant(project)
    code, _, stderr = project.cli("check")
    assert code == 2, stderr
    assert typo.says(project) in " ".join(stderr.split()), stderr


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a.section}+{b.section}" for a, b in PAIRS])
def test_check_reports_both_sections_of_every_pair(project: Project, first: Typo, second: Typo) -> None:
    """Every pair through the real CLI app (in-process: 105 processes take minutes on a shared machine)."""
    first.plant(project)
    second.plant(project)
    code, _, stderr = project.cli("check")
    flat = " ".join(stderr.split())  # the terminal wraps long lines
    assert code == 2, stderr
    assert first.says(project) in flat and second.says(project) in flat, stderr


AS_PROCESS = [("daemon", "digest"), ("syncs", "daemon schedule"), ("warehouse", "outcomes")]


@pytest.mark.parametrize("names", AS_PROCESS, ids=["+".join(n) for n in AS_PROCESS])
def test_check_as_a_process_reports_both(project: Project, names: tuple[str, str]) -> None:
    """The QA report's pair ([daemon] hid [digest]) and a core+extension pair, as `syncer check` processes."""
    typos = [t for t in TYPOS if t.section in names]
    for typo in typos:
        typo.plant(project)
    code, stderr = _check(project)
    flat = " ".join(stderr.split())
    assert code == 2, stderr
    assert all(t.says(project) in flat for t in typos), stderr
    assert "Traceback" not in stderr
