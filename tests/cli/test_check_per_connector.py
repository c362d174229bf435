"""`syncer check` reports per connector, then per sync for what is the sync's own: two syncs on one connector that
refuses connections read one problem naming both (it printed the same connector problem once per sync), and a
connector that answered says so (a user could not tell which connector was fine)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from syncer.secrets import mask
from tests.conftest import free_port
from tests.engine.conftest import MAPPING, Project, create_accounts


def _project(tmp_path: Path, hook_url: str, syncs: dict[str, str]) -> Project:
    """Connectors `live` (the webhook receiver) and `down` (nothing listens); `syncs`: sync name -> connector."""
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    create_accounts(url, 5)
    project = Project(tmp_path, url, hook_url=hook_url)
    down = f'[connectors.down]\ntype = "webhook"\nurl = "http://127.0.0.1:{free_port()}/h"\n'
    down += 'signing_secret = "${HOOK_SECRET}"'
    project.write(extra_connector=down)
    project.config.write_text(project.config.read_text().replace("[connectors.hook]", "[connectors.live]"))
    (tmp_path / "mappings" / "accounts.toml").unlink()
    for sync, connector in syncs.items():
        mapping = MAPPING.format(mode="upsert").replace('connector = "hook"', f'connector = "{connector}"')
        mapping = mapping.replace('object = "accounts"', f'object = "{sync}"')  # its own records (shared_records)
        (tmp_path / "mappings" / f"{sync}.toml").write_text(mapping)
    mask.clear()
    return project


# syncs (name -> connector) -> the problem lines (connector, its syncs) and the connectors that answered
CASES = {
    "two syncs on a refused connector": ({"a": "down", "b": "down"}, {"down": ["a", "b"]}, {}),
    "one sync each": ({"a": "down", "c": "live"}, {"down": ["a"]}, {"live": ["c"]}),
    "two on each": ({"a": "down", "b": "down", "c": "live", "d": "live"}, {"down": ["a", "b"]}, {"live": ["c", "d"]}),
    "every connector answers": ({"c": "live", "d": "live"}, {}, {"live": ["c", "d"]}),
}


def _named(syncs: list[str]) -> str:
    return f"{'sync' if len(syncs) == 1 else 'syncs'} {', '.join(syncs)}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_reports_each_connector_once(tmp_path: Path, receiver: object, case: str) -> None:
    syncs, refused, answered = CASES[case]
    project = _project(tmp_path, f"{receiver.base_url}/hooks", syncs)  # type: ignore[attr-defined]
    code, stdout, stderr = project.cli("check")
    problems = [line for line in stderr.splitlines() if line.startswith("problem")]
    print(stdout, stderr)
    assert code == (2 if refused else 0), (code, stderr)
    assert len(problems) == len(refused), problems  # one line per connector, however many syncs use it
    for connector, names in refused.items():
        [line] = [p for p in problems if f"connector {connector!r}" in p]
        assert f"connector {connector!r} ({_named(names)}): destination not reachable at http://127.0.0.1:" in line
        assert "(connection refused)" in line
    for connector, names in answered.items():
        assert f"connector {connector!r} answered ({_named(names)})" in str(stdout), stdout
    assert not re.search(r"connector 'down' answered", str(stdout))
