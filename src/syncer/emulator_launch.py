"""Start one bundled emulator on its own, for a local trial: `syncer emulator NAME [--port P]`.

Each emulator is seeded the way `syncer demo` seeds it (the same demo credentials, HubSpot's
company properties, Slack's fallback channel), so `config.example.toml` and the example mappings
work against it once the printed environment lines are set. One table, name -> starter; each
starter returns the running service, its URL and the environment that points a config at it.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncer.demo import DEMO_SECRETS, FALLBACK, HUBSPOT_PROPERTIES

DEMO_OWNER = "owner@demo.example"
SMTP_FROM = "syncer@demo.example"


@dataclass
class Launched:
    """A running emulator: what to show the user, and how to stop it."""

    name: str
    url: str
    env: dict[str, str]
    stop: Callable[[], None]
    notes: list[str] = field(default_factory=list)


def _hubspot(port: int, folder: Path) -> Launched:
    from syncer_connectors.hubspot.emulator import HubSpotEmulator

    emu = HubSpotEmulator(plan="starter", token=DEMO_SECRETS["HUBSPOT_TOKEN"])
    for name, (kind, unique) in HUBSPOT_PROPERTIES.items():
        emu.store.define("companies", name, kind, unique=unique)
    emu.add_owner(DEMO_OWNER)
    url = emu.start(port=port)
    env = {"HUBSPOT_BASE_URL": url, "HUBSPOT_TOKEN": DEMO_SECRETS["HUBSPOT_TOKEN"]}
    notes = [f"company properties: {', '.join(HUBSPOT_PROPERTIES)} (product_account_id is unique)"]
    return Launched("hubspot", url, env, emu.stop, notes)


def _salesforce(port: int, folder: Path) -> Launched:
    import trustme
    from syncer_connectors.salesforce.emulator import SalesforceEmulator

    emu = SalesforceEmulator()
    keys = ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN")
    emu.add_login(*(DEMO_SECRETS[k] for k in keys))
    emu.add_user(DEMO_OWNER, name="owner")
    ca = trustme.CA()  # simple-salesforce only speaks https: a throwaway CA the config trusts
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    bundle = folder / "salesforce-emulator-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    url = emu.start(port=port, tls=context)
    env = {
        "SALESFORCE_INSTANCE_URL": url,
        "SALESFORCE_LOGIN_URL": url,
        "SALESFORCE_CA_BUNDLE": str(bundle),
        **{k: DEMO_SECRETS[k] for k in keys},
    }
    return Launched("salesforce", url, env, emu.stop, ["Account and Task exist; Account has External_Id__c"])


def _slack(port: int, folder: Path) -> Launched:
    from syncer_connectors.slack.emulator import SlackEmulator

    emu = SlackEmulator(DEMO_SECRETS["SLACK_BOT_TOKEN"])
    emu.add_channel(FALLBACK, "syncer-alerts")
    emu.add_user("U0OWNER001", DEMO_OWNER)
    emu.start(port=port)
    env = {"SLACK_BASE_URL": emu.api_url, "SLACK_BOT_TOKEN": DEMO_SECRETS["SLACK_BOT_TOKEN"]}
    env["SLACK_FALLBACK_CHANNEL"] = FALLBACK
    return Launched("slack", emu.api_url, env, emu.stop, [f"channel {FALLBACK}; user {DEMO_OWNER} is U0OWNER001"])


def _webhook(port: int, folder: Path) -> Launched:
    from syncer_connectors.webhook.emulator import WebhookReceiver

    emu = WebhookReceiver(DEMO_SECRETS["INAPP_SIGNING_SECRET"])
    url = emu.start(port=port) + "/hooks"
    env = {"INAPP_WEBHOOK_URL": url, "INAPP_SIGNING_SECRET": DEMO_SECRETS["INAPP_SIGNING_SECRET"]}
    return Launched("webhook", url, env, emu.stop, ["checks the signature, timestamp and idempotency key"])


def _smtp(port: int, folder: Path) -> Launched:
    from syncer_connectors.email.emulator import SmtpEmulator

    emu = SmtpEmulator(security="none", maildir=folder / "maildir").start(port)
    env = {"SMTP_HOST": emu.host, "SMTP_PORT": str(emu.port), "SMTP_FROM": SMTP_FROM}
    notes = [
        'config: [connectors.email] host = "${SMTP_HOST}", port = "${SMTP_PORT}", security = "none", '
        'from_address = "${SMTP_FROM}"',
        f"messages are kept in {folder / 'maildir'}",
    ]
    return Launched("smtp", f"smtp://{emu.host}:{emu.port}", env, emu.stop, notes)


STARTERS: dict[str, Callable[[int, Path], Launched]] = {
    "hubspot": _hubspot,
    "salesforce": _salesforce,
    "slack": _slack,
    "webhook": _webhook,
    "smtp": _smtp,
    "email": _smtp,
}


def launch(name: str, port: int, folder: Path) -> Launched:
    """Start emulator `name` on 127.0.0.1:`port` (0: a free port); files it needs go in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return STARTERS[name](port, folder)


def describe(launched: Launched) -> list[str]:
    """The lines printed for the user: URL, then `export NAME=value` lines (demo credentials only)."""
    lines: list[str] = [f"{launched.name} emulator listening on {launched.url}"]
    lines += [f"  {note}" for note in launched.notes]
    lines.append("environment for config.example.toml:")
    lines += [f"export {key}={_shell_quote(value)}" for key, value in launched.env.items()]
    lines.append("Ctrl-C stops it.")
    return lines


def _shell_quote(value: Any) -> str:
    import shlex

    return shlex.quote(str(value))
