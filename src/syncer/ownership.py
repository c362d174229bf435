"""Which project runs each sync of a state store: one state store per project (README).

Two configs pointed at one state store, each with a sync of the same name, read and write the same
records: project B's mirror run deletes A's records (they are not in B's model) and A's next run
sends them again, for ever. The state store had no idea of a project, so nothing stopped it.

Each sync now has an owner in `sync_owners` (migration 0015): the project whose run first wrote it.
A project is identified by what stays the same across container restarts and moves of its folder
and differs between two projects: `[syncer] project` when it is set (the explicit name), else the
warehouse it reads (its URL without the password; a file warehouse as the config names it). Not the
config's path (moves, containers), not the host, not the config's text (every edit would change it).
A plan or run of a sync another project owns is refused with exit 2 (StateError) naming the state
store, the sync, the owner and the two fixes: a state store per project, or `syncer state takeover
SYNC` when it is the same project under a new warehouse URL or name. `check` reports it too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from syncer.config import Config
from syncer.errors import StateError
from syncer.secrets import mask
from syncer.state import StateStore, sync_owners, utcnow


@dataclass(frozen=True)
class Project:
    """`identity`: 16 hex digits; `described`: what it was derived from, for people (never a password)."""

    identity: str
    described: str


def project_of(cfg: Config) -> Project:
    """This config's project (see the module docstring)."""
    if cfg.app.project:
        basis = f"[syncer] project = {cfg.app.project!r}"
    else:
        try:
            url = sa.make_url(cfg.warehouse.url).set(password=None).render_as_string(hide_password=False)
        except (
            sa.exc.ArgumentError,
            ValueError,
        ):  # not a URL SQLAlchemy reads (ValueError: its port): the text, masked
            url = mask(cfg.warehouse.url)
        basis = f"warehouse {url}"
    return Project(hashlib.sha256(basis.encode()).hexdigest()[:16], basis)


def verify_owner(state: StateStore, sync: str, cfg: Config, claim: bool) -> None:
    """Raise StateError when another project owns `sync` in this state store; `claim` (a run): a sync nobody
    owns yet becomes this project's (a state store written before 0015 is claimed by its first run)."""
    mine = project_of(cfg)
    row = _owner(state, sync)
    if row is None and claim:
        try:
            with state.engine.begin() as conn:
                conn.execute(sync_owners.insert().values(sync=sync, **_values(mine)))
            return
        except sa.exc.IntegrityError:  # another process claimed it first: it decides
            row = _owner(state, sync)
    if row is None or row.project == mine.identity:
        return
    claimed = row.claimed_at.strftime("%Y-%m-%d %H:%M UTC") if isinstance(row.claimed_at, dt.datetime) else "?"
    raise StateError(
        state.location,
        f"sync {sync!r} belongs to another project ({row.described}, since {claimed}); this config is "
        f"{mine.described} ({cfg.path}). Two projects sharing one state store delete and re-send each other's "
        "records",
        'Give each project its own state store (`[syncer] state_url`, or its own `data_dir`: README, "One state '
        'store per project"), or, when this is the same project under a new warehouse URL or `[syncer] project`, '
        f"`syncer state takeover {sync}`",
    )


def take_over(state: StateStore, sync: str, cfg: Config) -> str | None:
    """Make this project the owner of `sync`; returns the previous owner's description (None: nobody's)."""
    row = _owner(state, sync)
    with state.engine.begin() as conn:
        conn.execute(sync_owners.delete().where(sync_owners.c.sync == sync))
        conn.execute(sync_owners.insert().values(sync=sync, **_values(project_of(cfg))))
    return None if row is None else str(row.described)


def _owner(state: StateStore, sync: str) -> sa.Row[Any] | None:
    with state.engine.connect() as conn:
        return conn.execute(sa.select(sync_owners).where(sync_owners.c.sync == sync)).first()


def _values(project: Project) -> dict[str, object]:
    return {"project": project.identity, "described": mask(project.described)[:500], "claimed_at": utcnow()}
