"""The demo's emulators: HubSpot, Salesforce (HTTPS), Slack and the in-app webhook, each on a free loopback
port and seeded like a real org (owners, Accounts that Sales created, Slack users and channels); and the
environment that points the example config at them."""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncer.emulator import Emulator

DEMO_SECRETS = {
    "HUBSPOT_TOKEN": "demo-hubspot-token",
    "SALESFORCE_USERNAME": "integration@demo.example",
    "SALESFORCE_PASSWORD": "demo-password",
    "SALESFORCE_SECURITY_TOKEN": "demo-security-token",
    "SLACK_BOT_TOKEN": "xoxb-demo-token",
    "INAPP_SIGNING_SECRET": "demo-inapp-signing-secret",
    "SMTP_USERNAME": "demo-smtp",
    "SMTP_PASSWORD": "demo-smtp-password",
}
HUBSPOT_PROPERTIES = {
    "product_account_id": ("string", True),
    "pql_score": ("number", False),
    "pql_tier": ("string", False),
    "usage_health_score": ("number", False),
    "usage_health_band": ("string", False),
    "top_usage_signal": ("string", False),
}
FALLBACK, ENTERPRISE = "C0SYNCERALERTS", "C0EXPANSIONDESK"


FIRST = ("Dana", "Luis", "Priya", "Tom", "Mei", "Omar", "Grace", "Ivan", "Sara", "Kofi", "Lena", "Raj", "Ana")
LAST = ("Reyes", "Okafor", "Chen", "Novak", "Haddad", "Silva", "Kim", "Larsen", "Patel", "Moreau", "Brooks")
COMPANY = (
    "Northwind",
    "Bluefin",
    "Cedar",
    "Lumen",
    "Harbor",
    "Quartz",
    "Summit",
    "Atlas",
    "Juniper",
    "Beacon",
    "Kestrel",
    "Meridian",
    "Orchard",
    "Pioneer",
    "Redwood",
    "Sable",
    "Tidewater",
    "Vantage",
    "Willow",
    "Zenith",
)
KIND = ("Analytics", "Labs", "Logistics", "Health", "Robotics", "Foods", "Media", "Energy", "Studios", "Systems",
        "Outfitters", "Capital", "Bio", "Networks")  # fmt: skip


def person_name(email: str) -> tuple[str, str]:
    """A stable made-up (first, last) name for a synthetic owner address such as owner7@example.com."""
    n = sum(ord(c) * (i + 1) for i, c in enumerate(email.split("@")[0]))
    return FIRST[n % len(FIRST)], LAST[(n // len(FIRST)) % len(LAST)]


def name_accounts(warehouse: sa.Engine) -> None:
    """Give the synthetic accounts company-like names ("Account 12" -> "Cedar Robotics 12") and an
    `owner_name` column ("owner7@example.com" -> "Grace Kim", as the CRM emulators know them), demo only."""
    with warehouse.begin() as conn:
        ids = [str(r[0]) for r in conn.execute(sa.text("SELECT account_id FROM accounts"))]
        names = [
            {"i": i, "n": f"{COMPANY[k % len(COMPANY)]} {KIND[(k // len(COMPANY)) % len(KIND)]} {k}"}
            for i in ids
            if (k := int(i.rsplit("_", 1)[-1]) if i.rsplit("_", 1)[-1].isdigit() else 0) >= 0
        ]
        conn.execute(sa.text("UPDATE accounts SET name = :n WHERE account_id = :i"), names)
        # the owners' names, as the CRMs know them (start_services seeds the same): the dashboard shows them
        conn.execute(sa.text("ALTER TABLE accounts ADD COLUMN owner_name VARCHAR"))
        owners = [str(r[0]) for r in conn.execute(sa.text("SELECT DISTINCT owner_email FROM accounts")) if r[0]]
        conn.execute(
            sa.text("UPDATE accounts SET owner_name = :n WHERE owner_email = :e"),
            [{"e": e, "n": " ".join(person_name(e))} for e in owners],
        )


@dataclass
class Services:
    """The running emulators and the environment that points the example config at them."""

    hubspot: Any
    salesforce: Any
    slack: Any
    inapp: Any
    env: dict[str, str] = field(default_factory=dict)
    email: Any = None  # the SMTP emulator (STARTTLS + AUTH, like a submission server); .messages is what arrived

    def all(self) -> list[Emulator]:
        return [self.hubspot, self.salesforce, self.slack, self.inapp]

    def stop(self) -> None:
        for emulator in self.all():
            emulator.stop()
        if self.email is not None:
            self.email.stop()


def start_services(folder: Path, warehouse: sa.Engine) -> Services:
    """Start every emulator on a free loopback port, seeded like a real org would be."""
    from syncer_connectors.email.emulator import SmtpEmulator
    from syncer_connectors.hubspot.emulator import HubSpotEmulator
    from syncer_connectors.salesforce.emulator import SalesforceEmulator
    from syncer_connectors.salesforce.emulator_writes import create_one
    from syncer_connectors.slack.emulator import SlackEmulator
    from syncer_connectors.webhook.emulator import WebhookReceiver

    with warehouse.connect() as conn:
        accounts = conn.execute(sa.text("SELECT account_id, name, sf_account_id, owner_email FROM accounts")).all()

    hubspot = HubSpotEmulator(plan="pro", token=DEMO_SECRETS["HUBSPOT_TOKEN"])
    for name, (kind, unique) in HUBSPOT_PROPERTIES.items():
        hubspot.store.define("companies", name, kind, unique=unique)
    salesforce = SalesforceEmulator()
    salesforce.add_login(
        DEMO_SECRETS["SALESFORCE_USERNAME"],
        DEMO_SECRETS["SALESFORCE_PASSWORD"],
        DEMO_SECRETS["SALESFORCE_SECURITY_TOKEN"],
    )
    for owner in sorted({a.owner_email for a in accounts if a.owner_email}):
        first, last = person_name(owner)
        salesforce.add_user(owner, name=f"{first} {last}")
        hubspot.add_owner(owner, first=first, last=last)
    for account in accounts:  # Sales owns Accounts: they exist before syncer updates them
        create_one(salesforce.store, "Account", {"Name": account.name, "External_Id__c": account.sf_account_id})
    slack = SlackEmulator(DEMO_SECRETS["SLACK_BOT_TOKEN"], channel_burst=1000, channel_rate=1000.0)
    slack.add_channel(FALLBACK, "syncer-alerts")
    slack.add_channel(ENTERPRISE, "expansion-desk")
    owners = sorted({a.owner_email for a in accounts if a.owner_email})
    for n, owner in enumerate(owners):
        if n % 7 != 6:  # a few owners are not in Slack: their alerts go to the fallback channel, with the reason
            slack.add_user(f"U0OWNER{n:03d}", owner, name=" ".join(person_name(owner)))
    inapp = WebhookReceiver(DEMO_SECRETS["INAPP_SIGNING_SECRET"])
    email = SmtpEmulator(security="starttls", users={DEMO_SECRETS["SMTP_USERNAME"]: DEMO_SECRETS["SMTP_PASSWORD"]})
    email.start()
    smtp_ca = folder / "smtp-emulator-ca.pem"  # kept with the demo (the emulator's own copy goes when it stops),
    shutil.copy(str(email.ca_path), smtp_ca)  # so the printed commands still load the config afterwards

    sf_url, ca_bundle = salesforce.start_tls(folder)
    env = {
        "HUBSPOT_BASE_URL": hubspot.start(),
        "SALESFORCE_INSTANCE_URL": sf_url,
        "SALESFORCE_LOGIN_URL": sf_url,
        "SALESFORCE_CA_BUNDLE": ca_bundle,
        "SLACK_BASE_URL": slack.start() + "/api/",
        "SLACK_FALLBACK_CHANNEL": FALLBACK,
        "SLACK_ENTERPRISE_CHANNEL": ENTERPRISE,
        # the local emulator takes messages faster than Slack's ~1/s per channel and ~100 calls/min
        "SLACK_CHANNEL_RATE": "1000",
        "SLACK_WORKSPACE_CALLS_PER_MINUTE": "1000000",
        "INAPP_WEBHOOK_URL": inapp.start() + "/hooks",
        "SMTP_HOST": email.host,
        "SMTP_PORT": str(email.port),
        "SMTP_CA_BUNDLE": str(smtp_ca),
        **DEMO_SECRETS,
    }
    return Services(hubspot, salesforce, slack, inapp, env, email)


def work_some_tasks(salesforce: Any, share: float, seed: int, day: date) -> int:
    """Account owners complete a share of the open tasks during `day` (UTC): those alerts are worked,
    the rest escalate once their SLA passes."""
    import random

    rng = random.Random(seed)
    open_tasks = [t for t in salesforce.records("Task") if not t.get("IsClosed")]
    done = [t for t in open_tasks if rng.random() < share]
    for task in done:
        when = dt.datetime.combine(day, dt.time(13 + rng.randrange(9), rng.randrange(60)), dt.UTC)
        salesforce.complete_task(task["Id"], when=when.strftime("%Y-%m-%dT%H:%M:%S.000+0000"))
    return len(done)


EMAIL_CONFIG = """
[connectors.email]
type = "email"                                # SMTP; the demo's is a local emulator (STARTTLS + AUTH)
host = "${SMTP_HOST}"
port = "${SMTP_PORT}"
security = "starttls"
username = "${SMTP_USERNAME}"
password = "${SMTP_PASSWORD}"                 # secret
ca_bundle = "${SMTP_CA_BUNDLE}"               # only for the emulator's throwaway CA; omit in production
from_address = "Syncer alerts <alerts@demo.example>"
rate = 1000                                   # the emulator takes mail as fast as it comes

[alerts.recipients]
# a CSM who reads alerts and the daily digest by email rather than Slack
"{owner}" = {{ prefer = "email" }}

[alerts.email_delivery]
not_in_slack = false                          # owners not in Slack keep the #syncer-alerts fallback in the demo
"""


def email_csm(plan: dict[str, dict[str, list[str]]], slack: Any) -> str:
    """The owner who gets the most alerts today by the engine's own dry run (`AlertEngine.dry_run` recipients:
    Slack user id -> kind -> alerts; held-out ones are not sent), among the owners in Slack; '' if none."""
    emails = {uid: str(u["profile"]["email"]) for uid, u in slack.users.items()}
    sent = Counter({who: sum(len(v) for k, v in kinds.items() if k != "holdout") for who, kinds in plan.items()})
    ranked = [emails[who] for who, n in sent.most_common() if who in emails and n > 0]
    return ranked[0] if ranked else min(emails.values(), default="")


def enable_email(config_path: Path, owner: str) -> None:
    """Give the demo's config an email connector and `owner` as a recipient who prefers email.
    Raises ValueError if the copied config lost its `[alerts] slack` line or there is no owner."""
    text = config_path.read_text(encoding="utf-8")
    marker = '\nslack = "slack"\n'  # the [alerts] table's Slack connector line
    if marker not in text or not owner:
        raise ValueError(f"{config_path}: cannot add the demo's email settings (no [alerts] slack line or owner)")
    text = text.replace(marker, marker + 'email = "email"                               # the email channel\n', 1)
    config_path.write_text(text + EMAIL_CONFIG.replace("{owner}", owner).replace("{{", "{").replace("}}", "}"))
