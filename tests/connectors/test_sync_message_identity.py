"""A sync record's "already delivered?" identity at Slack and email carries the project and the sync ("ident2").

Before: a Slack message of a sync carried `{key, fingerprint}` = the row key and its content hash, and an email's
Message-ID was made of the same two. Two projects (own config, state, warehouse) with the same mapping through one
Slack app, or two syncs of one project with the same mapping, found each other's messages: the second reported
`succeeded: 2`, posted nothing and its audit showed the first's message ids; its emails went out under the first's
Message-ID, which receivers drop as a duplicate. Now the identity is the record's idempotency key (project, sync,
key, content: syncer.runner.idempotency_key). A crash between the destination's acknowledgement and the state write
still converges (Slack finds its own message; email re-sends under the same Message-ID), and a message the previous
release posted for the same sync still counts as posted after the upgrade (migration 0017, Record.previous).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from syncer_connectors.email.emulator import SmtpEmulator
from syncer_connectors.slack.emulator import SlackEmulator
from typer.testing import CliRunner

from syncer.cli import app
from syncer.state import MIGRATIONS

PUBLIC, USER = "C0PUBLIC", "U0ADA"
SYNCS = ("notify", "notify2")  # the same mapping twice
ROWS = {"slack": [("n1", PUBLIC, "hello all"), ("n2", USER, "hi ada")], "email": []}
ROWS["email"] = [("n1", "ann@example.com", "your renewal is due"), ("n2", "bob@example.com", "welcome")]
FIELDS = {
    "slack": "channel = { column = 'who' }\ntext = { column = 'msg' }\n",
    "email": "to = { column = 'who' }\nsubject = { column = 'msg' }\ntext = { column = 'msg' }\n",
}
CONNECTOR = {  # no real waits: the channel burst and the email rate are far above what a test sends
    "slack": "type = 'slack'\nbase_url = '{slack}'\nbot_token = '${{IDENT2_TOKEN}}'\n"
    "fallback_channel = 'C0PUBLIC'\nchannel_burst = 100\n",
    "email": "type = 'email'\nhost = '127.0.0.1'\nport = {port}\nsecurity = 'none'\n"
    "from_address = 'a@example.com'\nrate = 1e6\n",
}


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator(channel_burst=1000) as emulator:
        emulator.add_channel(PUBLIC, "public")
        emulator.add_user(USER, "ada@example.com")
        yield emulator


@pytest.fixture
def smtp() -> Iterator[SmtpEmulator]:
    with SmtpEmulator() as emulator:
        yield emulator


class World:
    """One Slack workspace and one SMTP relay, shared by every project made here."""

    def __init__(self, tmp: Path, kind: str, slack: SlackEmulator, smtp: SmtpEmulator) -> None:
        self.tmp, self.kind, self.slack, self.smtp = tmp, kind, slack, smtp

    def project(self, name: str, syncs: tuple[str, ...] = SYNCS) -> dict[str, str]:
        """A project (own config, warehouse, state) with `syncs`, each the same mapping; the CLI's environment."""
        root = self.tmp / name
        (root / "mappings").mkdir(parents=True, exist_ok=True)
        if not (root / "w.sqlite").exists():
            with sqlite3.connect(root / "w.sqlite") as conn:
                conn.execute("CREATE TABLE notes (id TEXT, who TEXT, msg TEXT)")
                conn.executemany("INSERT INTO notes VALUES (?, ?, ?)", ROWS[self.kind])
        connector = CONNECTOR[self.kind].format(slack=self.slack.api_url, port=self.smtp.port)
        (root / "config.toml").write_text(
            f"[syncer]\ndata_dir = 'data'\nmappings = 'mappings'\n[warehouse]\nurl = 'sqlite:///{root / 'w.sqlite'}'\n"
            f"[connectors.out]\n{connector}"
        )
        for sync in syncs:
            (root / "mappings" / f"{sync}.toml").write_text(
                f"connector = 'out'\nobject = '{'message' if self.kind == 'slack' else 'email'}'\nmode = 'insert'\n"
                "[model]\nquery = 'SELECT id, who, msg FROM notes'\nprimary_key = 'id'\n"
                f"[match]\nfield = 'key'\ncolumn = 'id'\n[fields]\n{FIELDS[self.kind]}"
            )
        return {"IDENT2_TOKEN": self.slack.token, "SYNCER_CONFIG": str(root / "config.toml")}

    def run(self, env: dict[str, str], sync: str) -> dict[str, object]:
        result = CliRunner().invoke(app, ["run", sync, "--json"], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        summary: dict[str, object] = json.loads(result.stdout)
        return summary

    def delivered(self) -> list[tuple[str, str]]:
        """(key, identity) of every message the destination holds: Slack metadata, email Message-ID."""
        if self.kind == "email":
            return [(m.key, m.message_id) for m in self.smtp.messages]
        channels = [c for c in (PUBLIC, self.slack.dm_channel(USER)) if c in self.slack.channels]
        found = [m["metadata"]["event_payload"] for c in channels for m in self.slack.messages(c)]
        return [(p["key"], p["fingerprint"]) for p in found]


def state_path(env: dict[str, str]) -> Path:
    return Path(env["SYNCER_CONFIG"]).parent / "data" / "state.sqlite"


def dest_ids(env: dict[str, str], sync: str) -> dict[str, str]:
    with sqlite3.connect(state_path(env)) as conn:
        query = "SELECT key, dest_id FROM synced_records WHERE sync = ?"
        return dict(conn.execute(query, (sync,)).fetchall())


def lose_acknowledgements(env: dict[str, str], sync: str) -> dict[str, str]:
    """A crash between the destination's acknowledgement and the state write: the records are not in state.
    Returns their content fingerprints (what the previous release used as their identity)."""
    with sqlite3.connect(state_path(env)) as conn:
        fingerprints = dict(conn.execute("SELECT key, fingerprint FROM synced_records WHERE sync = ?", (sync,)))
        conn.execute("DELETE FROM synced_records WHERE sync = ?", (sync,))
    return fingerprints


# (project, sync) in the order they run, every one through the same Slack app / SMTP relay
CELLS = [("A", "notify"), ("A", "notify2"), ("B", "notify"), ("B", "notify2")]


@pytest.mark.parametrize("kind", ["slack", "email"])
def test_every_project_and_sync_delivers_its_own_messages(
    tmp_path: Path, kind: str, slack: SlackEmulator, smtp: SmtpEmulator
) -> None:
    """Two projects x two syncs with the same mapping: each (project, sync) delivers its 2 messages under its own
    identity and records its own message ids; before, every cell after the first posted nothing (Slack) or reused
    the first cell's Message-IDs (email)."""
    world = World(tmp_path, kind, slack, smtp)
    envs = {name: world.project(name) for name in "AB"}
    seen_ids: set[str] = set()
    for count, (name, sync) in enumerate(CELLS, start=1):
        summary = world.run(envs[name], sync)
        delivered = world.delivered()
        assert summary["succeeded"] == 2, (name, sync, summary)
        assert len(delivered) == 2 * count, (name, sync, delivered)  # two new messages, nothing taken as posted
        assert len(set(delivered)) == 2 * count, (name, sync, delivered)  # each under its own identity
        ids = set(dest_ids(envs[name], sync).values())
        assert len(ids) == 2 and not ids & seen_ids, (name, sync, ids, seen_ids)  # its own messages in its audit
        seen_ids |= ids


@pytest.mark.parametrize("kind", ["slack", "email"])
def test_a_crash_before_the_state_write_converges(
    tmp_path: Path, kind: str, slack: SlackEmulator, smtp: SmtpEmulator
) -> None:
    """The same project and sync after a lost acknowledgement: Slack finds its own messages (nothing re-posted),
    email re-sends under the same Message-IDs (receivers drop them as duplicates); the state ends the same."""
    world = World(tmp_path, kind, slack, smtp)
    env = world.project("A")
    world.run(env, "notify")
    first, before = dest_ids(env, "notify"), world.delivered()
    lose_acknowledgements(env, "notify")
    summary = world.run(env, "notify")
    assert summary["succeeded"] == 2 and dest_ids(env, "notify") == first, summary
    if kind == "slack":
        assert world.delivered() == before  # found, not posted again
    else:
        assert sorted(set(world.delivered())) == sorted(before) and smtp.by_message_id() == {i: 2 for _, i in before}


def as_the_previous_release_left_it(world: World, env: dict[str, str], sync: str) -> None:
    """The previous release posted `sync`'s messages (metadata: key and content fingerprint) and crashed before
    the state write; the state is then upgraded to this release (schema 0016 -> head: migration 0017)."""
    fingerprints = lose_acknowledgements(env, sync)
    for channel in (PUBLIC, world.slack.dm_channel(USER)):
        for message in world.slack.messages(channel):
            payload = message["metadata"]["event_payload"]
            payload["fingerprint"] = fingerprints[payload["key"]]
    engine = sa.create_engine(f"sqlite:///{state_path(env)}")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0016")
    engine.dispose()


def test_a_message_the_previous_release_posted_counts_for_its_sync_only(
    tmp_path: Path, slack: SlackEmulator, smtp: SmtpEmulator
) -> None:
    """After the upgrade the sync that posted them finds the previous release's messages (no re-post); a sync
    added after the upgrade and a new project with the same mapping do not take them as theirs and post."""
    world = World(tmp_path, "slack", slack, smtp)
    env = world.project("A", syncs=("notify",))
    world.run(env, "notify")
    posted = dest_ids(env, "notify")
    as_the_previous_release_left_it(world, env, "notify")
    summary = world.run(env, "notify")  # opens the state: upgraded by 0017
    assert summary["succeeded"] == 2 and dest_ids(env, "notify") == posted and len(world.delivered()) == 2, summary
    env = world.project("A")  # notify2 added after the upgrade
    world.run(env, "notify2")
    assert len(world.delivered()) == 4 and not set(dest_ids(env, "notify2").values()) & set(posted.values())
    other = world.project("B")
    world.run(other, "notify")
    assert len(world.delivered()) == 6 and not set(dest_ids(other, "notify").values()) & set(posted.values())
