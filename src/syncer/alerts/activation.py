"""Quiet first activation: accounts already above a threshold when a trigger starts are a backlog, not news.

A trigger *activates* when the alert engine sees it with a definition fingerprint it has not
recorded (`alert_trigger_activations`): a new trigger, an edited one (threshold, expression,
priority...), the first run of the alert model, or the first run after `state rebuild` (the table
is empty). In that evaluation every alert it opens is a *backlog* alert: no ping, no email, no
webhook; one digest section per recipient ("already above the threshold when this trigger
started"), and a CRM task only when `[alerts.activation] backlog_tasks = true`. Only crossings in
later evaluations ping.

An activation is recorded only by an evaluation that saw the trigger (at least one of its rows, firing
or not): an empty model (scoring has not run yet), a lane that does not evaluate the trigger, or a
model that has no row of it yet would otherwise use the activation up, and the book would arrive later
as new crossings (adv6 #10). The cost: a trigger whose model lists only firing rows, and which fires
for nobody when it starts, treats its first firing accounts as the backlog (digest, no ping).

The fingerprint is sha256 over the trigger's definition from `[scoring.triggers]` when the engine
knows it (`definitions`), else over what the fired-trigger row says about it (trigger, threshold,
priority): an edit that changes neither is not visible to a model that reports only those.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from syncer.alerts.store import activations


class ActivationConfig(BaseModel):
    """`[alerts.activation]`: what happens to the backlog when a trigger starts or changes."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    quiet: bool = True
    """Accounts already above the threshold when a trigger starts go to one digest section, not pings."""
    backlog_tasks: bool = False
    """Backlog alerts still get their CRM task (default: only crossings after activation do)."""


def fingerprint(definition: Any) -> str:
    """sha256 of a JSON-able definition (a TriggerDef's model_dump, or the row's trigger fields)."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()


def row_fingerprint(row: dict[str, Any]) -> str:
    return fingerprint({k: row.get(k) for k in ("trigger", "threshold", "priority")})


class Activations:
    """Which triggers activate in the current evaluation; `commit` records them when it is done."""

    def __init__(self, engine: sa.Engine, definitions: dict[str, str] | None = None, quiet: bool = True) -> None:
        self.engine = engine
        self.definitions = dict(definitions or {})
        self.quiet = quiet
        with engine.connect() as conn:
            self.known = {r.trigger: r.fingerprint for r in conn.execute(sa.select(activations))}
        self.pending: dict[str, str] = {name: fp for name, fp in self.definitions.items() if self.known.get(name) != fp}
        self.seen: set[str] = set()  # triggers this evaluation has rows of: only these activations are recorded

    def see(self, row: dict[str, Any]) -> None:
        """Register a fired row's trigger: a fingerprint not recorded yet makes it activate now."""
        trigger = str(row["trigger"])
        if str(row.get("variant") or ""):  # a canary's rows: its own definition, its own fingerprint
            return
        self.seen.add(trigger)
        if trigger in self.pending:
            return
        fp = self.definitions.get(trigger) or row_fingerprint(row)
        if self.known.get(trigger) != fp:
            self.pending[trigger] = fp

    def is_backlog(self, trigger: str) -> bool:
        """True when this trigger activates in this evaluation (and activation is quiet)."""
        return self.quiet and trigger in self.pending

    def commit(self, seq: int, now: dt.datetime) -> list[str]:
        """Record the activations of the triggers this evaluation saw; returns their names. A pending trigger
        without rows stays pending: its activation is for the first evaluation that has its rows."""
        done = {t: fp for t, fp in self.pending.items() if t in self.seen}
        if not done:
            return []
        with self.engine.begin() as conn:
            conn.execute(activations.delete().where(activations.c.trigger.in_(sorted(done))))
            conn.execute(
                activations.insert(),
                [{"trigger": t, "fingerprint": fp, "activated_at": now, "evaluation": seq} for t, fp in done.items()],
            )
        self.known.update(done)
        self.pending = {t: fp for t, fp in self.pending.items() if t not in done}
        self.seen = set()
        return sorted(done)
