"""A destination that refuses connections: one line per sync naming the connector and the URL, exit 2, fast.

Repro (after `make demo`, whose emulators stop with it): `plan hubspot_companies` exited 1 with
`error read companies properties: ConnectError: [Errno 111] Connection refused`, `plan
salesforce_accounts` exited 1 with 342 characters of urllib3 text and the host masked as ***, the
webhook sync exited 2, and `check` took 28.8 s of retries. Every connector walks the same table here.
"""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

import pytest

from syncer.secrets import MASK, mask
from tests.conftest import free_port
from tests.engine.conftest import MAPPING, Project, create_accounts

# connector section (the URL from ${DEST_URL}, as the demo writes it), scheme of the URL shown
CONNECTORS = {
    "hubspot": (
        'type = "hubspot"\nbase_url = "${DEST_URL}"\naccess_token = "${TOKEN}"\nplan_tier = "increase"',
        "http",
    ),
    "salesforce": (
        'type = "salesforce"\ninstance_url = "${DEST_URL}"\nlogin_url = "${DEST_URL}"\nauth = "password"\n'
        'username = "${SF_USER}"\npassword = "${TOKEN}"\nsecurity_token = "${SF_TOKEN}"',
        "https",
    ),
    "webhook": ('type = "webhook"\nurl = "${DEST_URL}/hooks?token=q1"\nsigning_secret = "${TOKEN}"', "http"),
    # SMTP has a host and a port, not a URL: the line names it as smtp://host:port all the same
    "email": (
        'type = "email"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "starttls"\nusername = "${SF_USER}"\n'
        'password = "${TOKEN}"\nfrom_address = "Syncer <alerts@example.com>"',
        "smtp",
    ),
}
OBJECT = {"hubspot": "companies", "salesforce": "Account", "webhook": "accounts", "email": "email"}
EMAIL_FIELDS = '[fields]\nto = "domain"\nsubject = "name"\ntext = "name"\n'


def _project(tmp_path: Path, kind: str, demo: bool) -> tuple[Project, str]:
    section, scheme = CONNECTORS[kind]
    port = free_port()
    origin = f"{scheme}://127.0.0.1:{port}"
    section = section.replace("{port}", str(port))
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    create_accounts(url, 3)
    env = {"DEST_URL": origin, "TOKEN": "dest-secret-8842", "SF_USER": "u@example.com", "SF_TOKEN": "sf-tok-5521"}
    project = Project(tmp_path, url, env=env)
    project.config.write_text(
        textwrap.dedent(f"""
        [syncer]
        data_dir = "data"
        [warehouse]
        url = "{url}"
        [connectors.dest]
        """)
        + section
        + "\n"
    )
    (tmp_path / "mappings").mkdir()
    mapping = MAPPING.format(mode="upsert").replace('connector = "hook"', 'connector = "dest"')
    mapping = mapping.replace('object = "accounts"', f'object = "{OBJECT[kind]}"')
    if kind == "email":  # an email sync maps to / subject / text
        mapping = mapping[: mapping.index("[fields]")] + EMAIL_FIELDS
    (tmp_path / "mappings" / "accounts.toml").write_text(mapping)
    if demo:
        (tmp_path / "demo.env").write_text("DEST_URL=x\n")
    mask.clear()
    return project, origin


@pytest.mark.parametrize("demo", [False, True], ids=["project", "demo-folder"])
@pytest.mark.parametrize("command", [["plan", "accounts"], ["plan", "accounts", "--json"], ["check"]])
@pytest.mark.parametrize("kind", sorted(CONNECTORS))
def test_a_refused_connection_is_one_line_naming_sync_connector_and_url(
    tmp_path: Path, kind: str, command: list[str], demo: bool
) -> None:
    project, origin = _project(tmp_path, kind, demo)
    code, _out, stderr = project.cli(*command)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, (code, stderr)  # README: environment to fix
    assert len(lines) == 1, stderr
    line = lines[0]
    # plan names the sync it plans; check reports per connector, naming the syncs that use it
    who = "connector 'dest' (sync accounts)" if command == ["check"] else "sync accounts (connector 'dest')"
    assert who in line and f"not reachable at {origin} " in line, line
    assert "connection refused" in line and MASK not in line and "token=" not in line, line
    assert ("syncer demo --serve" in line) is demo, line
    assert "dest-secret-8842" not in stderr


def test_a_refused_connection_is_not_retried_by_check(tmp_path: Path) -> None:
    """One connection attempt per check (was 4 rounds of backoff: 28.8 s in the demo)."""
    project, _origin = _project(tmp_path, "webhook", demo=False)
    attempts = 0
    real = socket.socket.connect

    def counting(self: socket.socket, address: object) -> None:
        nonlocal attempts
        if isinstance(address, tuple) and address[1] == int(_origin.rsplit(":", 1)[1]):
            attempts += 1
        real(self, address)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", counting)
        code, _out, _err = project.cli("check")
    assert code == 2
    assert attempts == 1, attempts


@pytest.mark.parametrize("demo", [True, False], ids=["demo folder", "elsewhere"])
def test_every_command_gives_the_demo_hint_in_the_demo_folder(
    tmp_path: Path, demo: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """Commands that meet a stopped destination without naming a sync (`report` reading Salesforce
    outcomes after a plain `make demo`, digests, alert commands) end the same way as `plan`: the
    one line, exit 2, and in the demo's folder how to bring the emulators back."""

    from syncer.cli import base
    from syncer.errors import DestinationUnreachable

    if demo:
        (tmp_path / "demo.env").write_text("DEST_URL=x\n")
    base._OPENED[:] = [tmp_path]
    try:
        with pytest.raises(base.Exit) as ended, base._errors():
            raise DestinationUnreachable("Salesforce login (password)", "https://127.0.0.1:9")
    finally:
        base._OPENED.clear()
    line = capsys.readouterr().err.strip()
    assert ended.value.code == 2
    assert line.startswith("error Salesforce login (password): destination not reachable at https://127.0.0.1:9"), line
    assert ("run `syncer demo --serve`" in line) is demo, line
