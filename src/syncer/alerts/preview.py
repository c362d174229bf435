"""`syncer alerts run --dry-run`: the real evaluation, on a throw-away copy of the alert state.

The alert tables are copied into an in-memory SQLite database and the same Lifecycle (routing,
cooldowns, quiet activation, holdout, ping budget) evaluates the rows there; nothing is delivered
and the real state is never written. The answer, per recipient:

    {"recipients": {"U123": {"ping": [...], "deferred": [...], "backlog": [...], "digest": [...],
                             "holdout": [...]}},           # each a list of "account - trigger" labels
     "totals": {"ping": n, "deferred": n, ...}, "activated": [trigger, ...]}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from syncer.alerts.lifecycle import Lifecycle
from syncer.alerts.routing import Router, UserDirectory
from syncer.alerts.store import alerts, metadata
from syncer.project import project_identity

if TYPE_CHECKING:
    from syncer.alerts.engine import AlertEngine

KINDS = ("ping", "deferred", "backlog", "digest", "holdout")


def empty_state() -> sa.Engine:
    """An in-memory SQLite database with the alert tables and the project identity (syncer.project), empty."""
    target = sa.create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    metadata.create_all(target)
    project_identity.create(target)
    return target


def copy_state(source: sa.Engine) -> sa.Engine:
    """An in-memory SQLite database holding a copy of every alert table."""
    target = empty_state()
    with source.connect() as read, target.begin() as write:
        for table in [*metadata.sorted_tables, project_identity]:
            rows = [dict(r._mapping) for r in read.execute(sa.select(table))]
            if rows:
                write.execute(table.insert(), rows)
    return target


def dry_run(engine: AlertEngine, rows: Iterable[dict[str, Any]], now: dt.datetime) -> dict[str, Any]:
    copy = copy_state(engine.engine)
    try:
        old = engine.lifecycle
        lookup = engine.users.lookup
        router = Router(engine.settings, UserDirectory(copy, lookup, engine.settings), engine.fallback)
        lifecycle = Lifecycle(
            engine.settings, copy, router, old.render_alert, None, old.build_task, old.render_email,
            old.definitions, old.priors,
        )  # fmt: skip
        daily, scope = engine.daily_lane(rows)  # the daily lane's rows and sweep, as `alerts run` evaluates
        evaluation = lifecycle.evaluate(daily, now, scope)
        plan: dict[str, dict[str, list[str]]] = {}
        keys = evaluation.opened_keys
        with copy.connect() as conn:
            found = [
                r
                for i in range(0, len(keys), 900)
                for r in conn.execute(sa.select(alerts).where(alerts.c.key.in_(keys[i : i + 900])))
            ]
            for row in sorted(found, key=lambda r: r.id):
                kind = row.delivery if row.delivery in KINDS else "digest"
                who = row.channel if row.channel != "email" else str(row.email_to)
                label = f"{row.account_id} - {row.trigger}"
                plan.setdefault(who, {k: [] for k in KINDS})[kind].append(label)
        totals = {k: sum(len(p[k]) for p in plan.values()) for k in KINDS}
        return {"recipients": plan, "totals": totals, "activated": evaluation.activated}
    finally:
        copy.dispose()
