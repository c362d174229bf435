"""Fixtures for engine tests: a project folder (warehouse, config.toml, mappings) and a receiver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver
from typer.testing import CliRunner

from syncer.cli import app
from syncer.secrets import mask

SECRET = "whsec-test-3f9a7c21e8"


def create_accounts(url: str, n: int, start: int = 1, score_offset: int = 0, extra_rows: str = "") -> None:
    """(Re)create an `accounts` table with n rows in any SQLAlchemy warehouse."""
    engine = sa.create_engine(url)
    rows = [
        {
            "account_id": i,
            "name": f"Account {i}",
            "domain": f"acct{i}.example.com",
            "pql_score": float((i * 7 + score_offset) % 101),
            "tier": ("monitor", "nurture", "escalate")[i % 3],
        }
        for i in range(start, start + n)
    ]
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS accounts"))
        conn.execute(
            sa.text(
                "CREATE TABLE accounts (account_id INTEGER, name VARCHAR(200), domain VARCHAR(200), "
                "pql_score FLOAT, tier VARCHAR(20))"
            )
        )
        for i in range(0, len(rows), 5000):
            conn.execute(
                sa.text("INSERT INTO accounts VALUES (:account_id, :name, :domain, :pql_score, :tier)"),
                rows[i : i + 5000],
            )
        if extra_rows:
            conn.execute(sa.text(f"INSERT INTO accounts VALUES {extra_rows}"))
    engine.dispose()


def replace_table(url: str, columns: dict[str, str], rows: list[tuple[Any, ...]], table: str = "accounts") -> None:
    """(Re)create `table` with `columns` (name -> SQL type, in order) holding `rows`, in any SQLAlchemy warehouse."""
    names = list(columns)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(sa.text(f"CREATE TABLE {table} ({', '.join(f'{n} {t}' for n, t in columns.items())})"))
        values = ", ".join(f":{n}" for n in names)
        conn.execute(
            sa.text(f"INSERT INTO {table} VALUES ({values})"), [dict(zip(names, r, strict=True)) for r in rows]
        )
    engine.dispose()


MAPPING = """
connector = "hook"
object = "accounts"
mode = "{mode}"

[model]
table = "accounts"
primary_key = "account_id"

[match]
field = "domain"
column = "domain"

[fields]
name = "name"
pql_score = {{ column = "pql_score", round = 0 }}
tier = {{ column = "tier", case = "upper" }}
"""


# a Salesforce Account sync of warehouse table `t` (id, ext, name): Name from `name`, matched on External_Id__c
SF_ACCOUNTS_T = """
connector = "salesforce"
object = "Account"
[model]
table = "t"
primary_key = "id"
[match]
field = "External_Id__c"
column = "ext"
[fields]
Name = "name"
"""


@dataclass
class Project:
    """A syncer project on disk: config.toml + mappings/ + a warehouse, driven through the CLI."""

    root: Path
    warehouse_url: str
    hook_url: str = "http://127.0.0.1:9/hooks"
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    def write(
        self, mode: str = "upsert", mapping: str | None = None, batch_size: int = 100, extra_connector: str = ""
    ) -> None:
        (self.root / "mappings").mkdir(exist_ok=True)
        self.config.write_text(
            textwrap.dedent(f"""
            [syncer]
            data_dir = "data"

            [warehouse]
            url = "{self.warehouse_url}"

            [connectors.hook]
            type = "webhook"
            url = "{self.hook_url}"
            signing_secret = "${{HOOK_SECRET}}"
            batch_size = {batch_size}
            {extra_connector}
        """)
        )
        (self.root / "mappings" / "accounts.toml").write_text(mapping or MAPPING.format(mode=mode))

    def cli(self, *args: str) -> tuple[int, Any, str]:
        """Run the CLI in-process; returns (exit code, parsed JSON stdout or raw text, stderr)."""
        runner = CliRunner()
        env = {"HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(self.config), **self.env}
        result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        stdout = result.stdout
        try:
            parsed: Any = json.loads(stdout)
        except ValueError:
            parsed = stdout
        return result.exit_code, parsed, result.stderr

    def subprocess(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start `python -m syncer ARGS` as its own process (the crash tests kill it)."""
        full_env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(self.config), **self.env, **(env or {})}
        return subprocess.Popen(
            [sys.executable, "-m", "syncer", *args],
            env=full_env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as rx:
        yield rx


@pytest.fixture
def project(tmp_path: Path, receiver: WebhookReceiver) -> Project:
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    proj = Project(tmp_path, url, hook_url=f"{receiver.base_url}/hooks")
    create_accounts(url, 300)
    proj.write()
    mask.clear()
    return proj


def hubspot_config(warehouse_url: str, base_url: str) -> str:
    """config.toml text for one warehouse and one HubSpot connector (token from ${HS_TOKEN}, no rate margin)."""
    return textwrap.dedent(f"""
        [syncer]
        data_dir = "data"
        [warehouse]
        url = "{warehouse_url}"
        [connectors.hubspot]
        base_url = "{base_url}"
        access_token = "${{HS_TOKEN}}"
        plan_tier = "increase"
        rate_limit_margin = 0.0
        """)


def crm_config(
    warehouse_url: str, hubspot_url: str, salesforce_url: str, ca_bundle: str, salesforce_extra: str = ""
) -> str:
    """`hubspot_config` plus a Salesforce connector on the emulator's TLS URL (password login from
    ${SF_USER}, ${SF_PASS}, ${SF_TOKEN}); `salesforce_extra`: more lines for its section."""
    return (
        hubspot_config(warehouse_url, hubspot_url)
        + textwrap.dedent(f"""
        [connectors.salesforce]
        instance_url = "{salesforce_url}"
        login_url = "{salesforce_url}"
        auth = "password"
        username = "${{SF_USER}}"
        password = "${{SF_PASS}}"
        security_token = "${{SF_TOKEN}}"
        ca_bundle = "{ca_bundle}"
        """)
        + textwrap.dedent(salesforce_extra)
    )
