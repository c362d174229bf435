"""A name or filter value that names nothing exits 2 naming the valid ones (it exited 0 with "no runs of
nope yet"), and a missing config.toml says how to point syncer at one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.conftest import Project

# argv -> what the one error line must contain
CASES = {
    "runs-sync": (["runs", "--sync", "acounts"], ["no sync 'acounts'", "did you mean 'accounts'?", "syncs: accounts"]),
    "audit-sync": (["audit", "nope"], ["no sync 'nope'", "syncs: accounts"]),
    "audit-status": (["audit", "accounts", "--status", "bogus"], ["--status 'bogus'", "ok, rejected, failed"]),
    "alerts-status": (["alerts", "--status", "bogus"], ["--status 'bogus'", "ping, digest", "fallback"]),
    "alerts-list-status": (["alerts", "list", "--status", "escalatd"], ["did you mean 'escalated'?"]),
}


@pytest.mark.parametrize(("argv", "expected"), CASES.values(), ids=list(CASES))
def test_a_value_that_names_nothing_exits_2_naming_the_valid_ones(
    project: Project, argv: list[str], expected: list[str]
) -> None:
    code, _out, err = project.cli(*argv)
    assert code == 2, (code, err)
    assert all(part in err for part in expected), err


@pytest.mark.parametrize("argv", [["runs"], ["runs", "--sync", "accounts"], ["audit", "accounts", "--status", "OK"]])
def test_valid_values_still_exit_0(project: Project, argv: list[str]) -> None:
    code, _out, err = project.cli(*argv)
    assert code == 0, err


@pytest.mark.parametrize("demo", [False, True], ids=["bare", "demo-here"])
def test_a_missing_config_says_how_to_point_at_one(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo: bool
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    if demo:
        (work / "syncer-demo").mkdir()
        (work / "syncer-demo" / "config.toml").write_text("")
    monkeypatch.chdir(work)
    project.env["SYNCER_CONFIG"] = ""
    code, _out, err = project.cli("alerts")
    assert code == 2, err
    assert "config.toml: file not found (pass -c PATH or set SYNCER_CONFIG" in err, err
    assert ("-c syncer-demo/config.toml" in err) is demo, err
