"""The project's identity: what keeps two projects' "already delivered?" answers apart.

Slack has no idempotency key, SMTP has none, and the CRMs find a task by a key syncer stores on it;
webhook receivers drop a repeated idempotency key. Each of those answers "was this delivered?" by an
identity syncer chose, and an identity built from an alert's key alone (`<account>:<trigger>:<window>`)
repeats in every project that shares an account id: a second project posting through the same Slack
app, mailbox, CRM or webhook receiver would be told "already posted" and its ping never sent.

So every such identity carries the project id: a random id minted once per state store (migration
0013) and kept in it (`project_identity`; `syncer state rebuild` carries it over). The same project
after a crash (same state) derives the same identities and finds what it sent; another project
(another state store, another config) never does. What this gives up: a state lost for good starts
a new project, so an episode re-opened after that is sent once more (a duplicate, never a loss),
unless `[syncer] project` names the project: then the configured name is the id (`bind_project`
writes it into the state on open) and a fresh state derives the same identities as the lost one.

Shapes: `project_id(conn) -> str` (16 hex digits), `scoped(key, project) -> str`
(`"<key>@<project>"`; `key` unchanged when `project` is None: rows frozen by a release before
0013 keep that release's identity, so a rerun after an upgrade finds its own messages).
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa

metadata = sa.MetaData()
project_identity = sa.Table(
    "project_identity",
    metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("value", sa.String(64), nullable=False),
)
NAME = "project"


def project_id(conn: sa.Connection) -> str:
    """This state's project id (16 hex digits, random). Minted by migration 0013; a row deleted by hand is
    minted again here, inside the caller's transaction (a new project: see the module docstring)."""
    found = conn.scalar(sa.select(project_identity.c.value).where(project_identity.c.name == NAME))
    if found is not None:
        return str(found)
    value = secrets.token_hex(8)
    conn.execute(project_identity.insert().values(name=NAME, value=value))
    return value


def scoped(key: str, project: str | None) -> str:
    """The identity a destination sees for `key` in `project`; the key itself for a pre-0013 row."""
    return key if project is None else f"{key}@{project}"


def bind_project(engine: sa.Engine, project: str) -> None:
    """Make the configured `project` this state's project id (rows already frozen keep theirs)."""
    with engine.begin() as conn:
        if project_id(conn) != project:
            conn.execute(project_identity.update().where(project_identity.c.name == NAME).values(value=project))


SYNC_IDENTITY_SINCE = "sync_identity_since"


def sync_identity_since(conn: sa.Connection) -> float | None:
    """When this state stopped giving sync records at Slack and email the previous identity (row key and
    content fingerprint alone), in epoch seconds: the moment migration 0017 upgraded a state that had runs.
    None for a state created at or after 0017, whose messages never carried that identity."""
    found = conn.scalar(sa.select(project_identity.c.value).where(project_identity.c.name == SYNC_IDENTITY_SINCE))
    return None if found is None else float(found)
