"""A destination that refuses the credential: one line naming `connectors.<name>.<key>`, what was refused and the
fix, exit 2, no traceback, no secret, state not advanced.

Repro: a wrong HUBSPOT_TOKEN made `syncer run accounts` print `error read companies properties: HTTP 401
{...INVALID_AUTHENTICA` (the body cut mid-word; nothing said which setting was wrong or how to fix it). Every
connector walks the same table here, through its loopback emulator, `syncer run` and `syncer plan` as processes:
401 (or the vendor's "bad credential": Salesforce INVALID_LOGIN, Slack invalid_auth, SMTP 535) and 403 (or the
vendor's "not permitted": HubSpot MISSING_SCOPES, Salesforce API_DISABLED_FOR_ORG, Slack missing_scope, SMTP 530).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import trustme
from syncer_connectors.email.emulator import SmtpEmulator, SmtpFault
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.salesforce.emulator import SalesforceEmulator
from syncer_connectors.slack.emulator import SlackEmulator
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.emulator import Fault
from tests.engine.conftest import create_accounts

GOOD = "good-credential-7731"  # what the destination accepts
WRONG = "wrong-credential-5519"  # what the environment holds in a 401 case
SF_USER = "integration@example.com"

HUBSPOT_SCOPES = {
    "status": "error",
    "message": "This app hasn't been granted all required scopes to make this call. Read more about required "
    "scopes here: https://developers.hubspot.com/scopes.",
    "category": "MISSING_SCOPES",
    "errors": [{"message": "One or more of the following scopes are required.", "context": {"requiredScopes": []}}],
}
SALESFORCE_FORBIDDEN = [
    {"message": "The REST API is not enabled for this Organization.", "errorCode": "API_DISABLED_FOR_ORG"}
]


@dataclass
class World:
    """One connector `dest` of a kind on its running emulator, a sync `accounts` to it, and how to refuse."""

    section: str  # [connectors.dest] body; the credential from ${DEST_SECRET}
    mapping: str  # mappings/accounts.toml
    keys: dict[int, str]  # status -> the setting a refusal names
    refuse: dict[int, Callable[[], None]]  # status -> make the emulator refuse (401 cases also set a wrong secret)
    written: Callable[[], int]  # records the destination holds


MODEL = '[model]\ntable = "accounts"\nprimary_key = "account_id"\n'


@contextlib.contextmanager
def hubspot(tmp_path: Path) -> Iterator[World]:
    emu = HubSpotEmulator(plan="increase", token=GOOD)
    for name, kind, unique in (("domain_key", "string", True), ("name", "string", False)):
        emu.store.define("companies", name, kind, unique=unique)
    url = emu.start()
    try:
        yield World(
            f'type = "hubspot"\nbase_url = "{url}"\naccess_token = "${{DEST_SECRET}}"\nplan_tier = "increase"',
            f'connector = "dest"\nobject = "companies"\n{MODEL}[match]\nfield = "domain_key"\ncolumn = "domain"\n'
            '[fields]\nname = "name"\n',
            {401: "connectors.dest.access_token", 403: "connectors.dest.access_token"},
            {
                401: lambda: None,
                403: lambda: emu.faults.add(Fault("status", status=403, body=HUBSPOT_SCOPES, times=1000)),
            },
            lambda: len(emu.store.live("companies")),
        )
    finally:
        emu.stop()


@contextlib.contextmanager
def salesforce(tmp_path: Path) -> Iterator[World]:
    emu = SalesforceEmulator()
    emu.add_login(SF_USER, GOOD)
    url, ca = emu.start_tls(tmp_path)
    try:
        yield World(
            f'type = "salesforce"\ninstance_url = "{url}"\nlogin_url = "{url}"\nauth = "password"\n'
            f'username = "{SF_USER}"\npassword = "${{DEST_SECRET}}"\nca_bundle = "{ca}"',
            f'connector = "dest"\nobject = "Account"\n{MODEL}[match]\nfield = "External_Id__c"\n'
            'column = "domain"\n[fields]\nName = "name"\n',
            {401: "connectors.dest.password", 403: "connectors.dest.password"},
            {
                401: lambda: None,
                403: lambda: emu.faults.add(
                    Fault("status", path="/services/data/.*", status=403, body=SALESFORCE_FORBIDDEN, times=1000)
                ),
            },
            lambda: len(emu.records("Account")),
        )
    finally:
        emu.stop()


@contextlib.contextmanager
def slack(tmp_path: Path) -> Iterator[World]:
    emu = SlackEmulator(GOOD)
    url = emu.start()
    emu.add_channel("C0ALERTS", "alerts")

    def no_write_scope() -> None:
        emu.scopes = tuple(s for s in emu.scopes if s != "chat:write")

    try:
        yield World(
            f'type = "slack"\nbase_url = "{url}/api/"\nbot_token = "${{DEST_SECRET}}"',
            f'connector = "dest"\nobject = "message"\nmode = "insert"\n{MODEL}[match]\nfield = "key"\n'
            'column = "domain"\n[fields]\nchannel = { const = "C0ALERTS" }\ntext = "name"\n',
            {401: "connectors.dest.bot_token", 403: "connectors.dest.bot_token"},
            {401: lambda: None, 403: no_write_scope},
            lambda: sum(len(c.messages) for c in emu.channels.values()),
        )
    finally:
        emu.stop()


@contextlib.contextmanager
def webhook(tmp_path: Path) -> Iterator[World]:
    emu = WebhookReceiver(GOOD)
    url = emu.start()
    try:
        yield World(
            f'type = "webhook"\nurl = "{url}/hooks"\nsigning_secret = "${{DEST_SECRET}}"',
            f'connector = "dest"\nobject = "accounts"\n{MODEL}[match]\nfield = "domain"\ncolumn = "domain"\n'
            '[fields]\nname = "name"\n',
            {401: "connectors.dest.signing_secret", 403: "connectors.dest.signing_secret"},
            {401: lambda: None, 403: lambda: emu.faults.add(Fault("status", status=403, times=1000))},
            lambda: len(emu.records),
        )
    finally:
        emu.stop()


@contextlib.contextmanager
def email(tmp_path: Path) -> Iterator[World]:
    with SmtpEmulator(security="starttls", users={SF_USER: GOOD}, ca=trustme.CA()) as emu:
        yield World(
            f'type = "email"\nhost = "{emu.host}"\nport = {emu.port}\nsecurity = "starttls"\nusername = "{SF_USER}"\n'
            f'password = "${{DEST_SECRET}}"\nfrom_address = "Syncer <alerts@example.com>"\nca_bundle = "{emu.ca_path}"',
            f'connector = "dest"\nobject = "email"\nmode = "insert"\n{MODEL}[match]\nfield = "key"\n'
            'column = "domain"\n[fields]\nto = { const = "ops@example.com" }\nsubject = "name"\ntext = "name"\n',
            {401: "connectors.dest.password", 403: "connectors.dest.from_address"},  # 550 5.7.1: may not send as it
            {
                401: lambda: None,
                403: lambda: emu.faults.add(
                    SmtpFault("reply", stage="mail", code=550, text="5.7.1 Sender not permitted", times=1000)
                ),
            },
            lambda: len(emu.messages),
        )


WORLDS: dict[str, Callable[[Path], contextlib.AbstractContextManager[World]]] = {
    "hubspot": hubspot,
    "salesforce": salesforce,
    "slack": slack,
    "webhook": webhook,
    "email": email,
}


def _syncer(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncer", *args],
        env={**env, "SYNCER_CONFIG": str(root / "config.toml")},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )


def _synced(root: Path) -> int:
    state = root / "data" / "state.sqlite"
    if not state.exists():
        return 0
    engine = sa.create_engine(f"sqlite:///{state}")
    try:
        with engine.begin() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM synced_records")).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", ["run", "plan"])
@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("kind", sorted(WORLDS))
def test_a_refused_credential_names_the_setting_and_the_fix(
    tmp_path: Path, kind: str, status: int, command: str
) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    create_accounts(url, 3)
    with WORLDS[kind](tmp_path) as world:
        (tmp_path / "mappings").mkdir()
        (tmp_path / "mappings" / "accounts.toml").write_text(world.mapping)
        (tmp_path / "config.toml").write_text(
            f'[syncer]\ndata_dir = "data"\n[warehouse]\nurl = "{url}"\n[connectors.dest]\n{world.section}\n'
        )
        env: dict[str, Any] = {**os.environ, "DEST_SECRET": WRONG if status == 401 else GOOD}
        world.refuse[status]()
        done = _syncer(tmp_path, env, command, "accounts")
        shown = f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 2, shown
        assert len(lines) == 1 and "Traceback" not in done.stderr, shown
        line = lines[0]
        assert world.keys[status] in line, shown  # the setting to fix
        if status == 401:  # a bad credential: the variable to set, and that it was the credential
            assert "refused the credential" in line and "DEST_SECRET (environment variable" in line, shown
        else:  # 403: the credential was taken; a permission or scope is missing
            assert "permission" in line or "scope" in line, shown
        assert WRONG not in done.stderr + done.stdout and GOOD not in done.stderr + done.stdout, shown
        assert world.written() == 0 and _synced(tmp_path) == 0, shown  # nothing sent, state not advanced
