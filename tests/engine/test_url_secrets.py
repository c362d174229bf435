"""A `${NAME}` value holding URL delimiters, substituted into a URL (trial finding F3): the user-info's is
percent-encoded, so any password connects as the environment holds it; one landing elsewhere that would end its
part early is one config error (exit 2, file and key, no traceback). Either way no fragment of it is printed.

Every command runs as a process (`python -m syncer`), against a PostgreSQL server of its own that checks passwords
(`pg_password_server`): a role is created with each password, so a command that connects proves the password
reached the server intact. Then the stdout and stderr of every command, and every crash log, are searched for the
password, its encoded forms and every piece of it (>= 4 characters) a URL parser could split off.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import MAPPING, SECRET, create_accounts

# '@', ':', '/' and '%' broke the old substitution; '#', '?', ' ' and 'ü' did not where SQLAlchemy alone reads the
# URL (its parser takes a password up to the '@'): they guard the encoding's round trip through SQLAlchemy and
# libpq (a space in the ADBC reader's libpq URI failed)
PASSWORDS = ["p@ss:w/rd%20X", "secret@host", "a#b?c", "sp ace", "ü-ñ", "%41"]
COMMANDS = [
    ("check",),
    ("plan", "accounts", "--json"),
    ("run", "accounts", "--json"),
    ("status",),
    ("runs", "--json"),
    ("audit", "accounts", "--json", "--limit", "5"),
]


def pieces(secret: str) -> set[str]:
    """What must never be printed of `secret`: itself, its percent-encoded forms, and every span between two of
    its URL delimiters that is 4 characters or more (shorter text is too common to search for)."""
    cuts = [m.start() for m in re.finditer(r"[@:/?#&=\s]", secret)]
    starts, ends = [0, *(c + 1 for c in cuts)], [*cuts, len(secret)]
    spans = {secret[s:e] for s in starts for e in ends if s < e}
    return {t for t in spans | {quote(secret, safe=""), quote_plus(secret)} if len(t) >= 4} | {secret}


def assert_nothing_of(secret: str, text: str) -> None:
    for piece in sorted(pieces(secret)):
        lines = [line for line in text.splitlines() if piece in line]
        assert not lines, f"{piece!r} of the secret printed:\n" + "\n".join(lines)


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as rx:
        yield rx


@pytest.fixture(scope="module")
def server(pg_password_server: str) -> Iterator[sa.Engine]:
    admin = sa.create_engine(f"{pg_password_server}/postgres", isolation_level="AUTOCOMMIT")
    yield admin
    admin.dispose()


def database_with_role(admin: sa.Engine, password: str) -> URL:
    """A fresh database owned by a fresh role that logs in with `password`: its URL (SQLAlchemy encodes it)."""
    name = f"u_{uuid.uuid4().hex[:10]}"
    literal = password.replace("'", "''")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {name} LOGIN PASSWORD '{literal}'"))
        conn.execute(sa.text(f"CREATE DATABASE {name} OWNER {name}"))
    return admin.url.set(username=name, password=password, database=name)


class Project:
    """config.toml + mappings/ in a folder, every command run as a process; `transcript` collects what it printed."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        (root / "mappings").mkdir()
        (root / "mappings" / "accounts.toml").write_text(MAPPING.format(mode="upsert"))
        (root / "crash").mkdir()
        self.env = {
            **os.environ,
            "HOOK_SECRET": SECRET,
            "SYNCER_CONFIG": str(root / "config.toml"),
            "SYNCER_CRASH_DIR": str(root / "crash"),
            "PYTHONPATH": "src",
            **env,
        }
        self.transcript: list[str] = []

    def configure(self, syncer: str, warehouse: str, hook: str) -> None:
        (self.root / "config.toml").write_text(
            f'[syncer]\ndata_dir = "data"\nlog_format = "json"\nlog_level = "debug"\n{syncer}\n'
            f'[warehouse]\nurl = "{warehouse}"\n'
            f'[connectors.hook]\ntype = "webhook"\nurl = "{hook}"\nsigning_secret = "${{HOOK_SECRET}}"\n'
        )

    def cli(self, *args: str) -> tuple[int, str, str]:
        result = subprocess.run(
            [sys.executable, "-m", "syncer", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).parents[2],
        )
        self.transcript.append(f"$ syncer {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result.returncode, result.stdout, result.stderr

    def everything_printed(self) -> str:
        crashes = [p.read_text() for p in sorted((self.root / "crash").iterdir())]
        return "\n".join(self.transcript + crashes)


def template(url: URL, reference: str) -> str:
    """`url` as config.toml writes it, its password the text `reference` (`${PGPASS}`)."""
    return f"postgresql+psycopg://{url.username}:{reference}@{url.host}:{url.port}/{url.database}"


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("key", ["warehouse.url", "syncer.state_url"])
def test_a_password_with_url_delimiters_connects_and_is_never_printed(
    key: str, password: str, server: sa.Engine, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    with receiver.lock:
        receiver.records.clear()
    url = database_with_role(server, password)
    project = Project(tmp_path, {"PGPASS": password})
    if key == "warehouse.url":
        create_accounts(url.render_as_string(hide_password=False), 30)
        project.configure("", template(url, "${PGPASS}"), f"{receiver.base_url}/hooks")
    else:
        warehouse = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
        create_accounts(warehouse, 30)
        project.configure(f'state_url = "{template(url, "${PGPASS}")}"', warehouse, f"{receiver.base_url}/hooks")

    outcomes = {args[0]: project.cli(*args) for args in COMMANDS}

    assert {c: code for c, (code, _, _) in outcomes.items()} == dict.fromkeys(outcomes, 0), project.transcript
    run = json.loads(outcomes["run"][1])
    assert run["succeeded"] == 30 and len(receiver.records) == 30, run
    assert json.loads(outcomes["plan"][1])["added"] == 30
    if key == "syncer.state_url":  # the runs and the audit trail are in the PostgreSQL database the role owns
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM audit")).scalar_one() >= 30
        engine.dispose()
    printed = project.everything_printed()
    assert "Traceback" not in printed
    assert_nothing_of(password, printed)


# (key, how config.toml writes it, the variable's value, the part of the URL the message names)
BROKEN = [
    ("warehouse.url", "postgresql+psycopg://u:pw@${PGHOST}:{port}/db", "s3cret@db-host", "host"),
    ("warehouse.url", "postgresql+psycopg://u:pw@${PGHOST}/db", "db.example/x?y", "host"),
    ("warehouse.url", "postgresql+psycopg://u:pw@127.0.0.1:${PGPORT}/db", "9x@127", "port"),
    ("warehouse.url", "postgresql+psycopg://u:pw@127.0.0.1:{port}/db?application_name=${APP}", "a#b?c-&", "query"),
    ("syncer.state_url", "postgresql+psycopg://u:pw@${PGHOST}:{port}/db", "tok@en:9x", "host"),
    ("syncer.state_url", "postgresql+psycopg://u:pw@127.0.0.1:${PGPORT}/db", "tok@en:9x", "port"),
    ("connectors.hook.url", "{hook}?token=${TOKEN}", "tok-en#frag&x=1", "query"),
]
# a whole URL in one variable, its password holding '@', ':' and '/' unencoded: SQLAlchemy cannot read it
WHOLE = [
    ("warehouse.url", "${URL}", "postgresql+psycopg://u:p@ss:w/rd%20X@127.0.0.1:{port}/db"),
    ("syncer.state_url", "${URL}", "postgresql+psycopg://u:tok@en:9x@127.0.0.1:{port}/db"),
]


def _broken_project(tmp_path: Path, key: str, written: str, env: dict[str, str], hook: str) -> Project:
    project = Project(tmp_path, env)
    warehouse = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    create_accounts(warehouse, 3)
    if key == "warehouse.url":
        project.configure("", written, hook)
    elif key == "syncer.state_url":
        project.configure(f'state_url = "{written}"', warehouse, hook)
    else:
        project.configure("", warehouse, written)
    return project


@pytest.mark.parametrize(("key", "written", "value", "part"), BROKEN, ids=[f"{r[0]}-{r[3]}-{r[2]}" for r in BROKEN])
def test_a_value_that_would_end_its_part_of_the_url_is_one_config_error(
    key: str, written: str, value: str, part: str, pg_password_server: str, tmp_path: Path
) -> None:
    port, hook = make_url(pg_password_server).port, "http://127.0.0.1:9/hooks"
    name = re.search(r"\$\{(\w+)\}", written).group(1)  # type: ignore[union-attr]
    written = written.replace("{port}", str(port)).replace("{hook}", hook)
    project = _broken_project(tmp_path, key, written, {name: value}, hook)

    for args in COMMANDS:
        code, _out, err = project.cli(*args)
        assert code == 2, project.transcript[-1]
        assert f"config.toml: {key}: the value of ${{{name}}} lands in the URL's {part}" in err, err
    printed = project.everything_printed()
    assert "Traceback" not in printed and not list((tmp_path / "crash").iterdir())
    assert_nothing_of(value, printed)


@pytest.mark.parametrize(("key", "written", "value"), WHOLE, ids=[r[0] for r in WHOLE])
def test_a_whole_url_variable_sqlalchemy_cannot_read_is_one_config_error(
    key: str, written: str, value: str, pg_password_server: str, tmp_path: Path
) -> None:
    value = value.replace("{port}", str(make_url(pg_password_server).port))
    project = _broken_project(tmp_path, key, written, {"URL": value}, "http://127.0.0.1:9/hooks")
    password = value.split("//u:", 1)[1].rsplit("@", 1)[0]

    for args in COMMANDS:
        code, _out, err = project.cli(*args)
        assert code == 2, project.transcript[-1]
        assert f"config.toml: {key}: not a usable SQLAlchemy URL: its port is not a number" in err, err
    printed = project.everything_printed()
    assert "Traceback" not in printed and not list((tmp_path / "crash").iterdir())
    assert_nothing_of(password, printed)
