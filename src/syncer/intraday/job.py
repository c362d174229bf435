"""One intraday evaluation: changed current-state rows -> the alert lifecycle -> the outbox.

watermark = read_watermark(state)                        (state DB)
changed   = SELECT ... WHERE updated_at > watermark      (one warehouse query; none changed: stop here)
rows      = firing rows, plus not-firing rows of pairs with an open alert (clear / hold by the margin rule)
evaluate  = lifecycle over rows; its sweep counts only (changed accounts x intraday triggers)
advance the watermark to max(updated_at)                 (after the alerts are committed)
deliver   = the same outbox as every alert (ping, email, CRM task, webhook); skipped when nothing is due
record_actions -> action times and syncer_event_to_action_seconds{lane="intraday", trigger}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from syncer.alerts.lifecycle import SweepScope
from syncer.alerts.store import alerts, outbox, pairs
from syncer.identity import identity_text
from syncer.intraday.latency import record_actions
from syncer.intraday.query import WarehouseMeter, fired_rows, lane_select, utc
from syncer.intraday.settings import LANE, IntradaySettings
from syncer.intraday.watermark import advance_watermark, read_watermark
from syncer.scoring.triggers import TriggerDef

if TYPE_CHECKING:
    from syncer.alerts import AlertEngine
    from syncer.alerts.outbox import Delivered


@dataclass
class LaneRun:
    """What one intraday evaluation did: accounts changed, warehouse queries and rows read, alerts opened."""

    accounts: int = 0
    queries: int = 0
    rows_read: int = 0
    opened: int = 0
    cleared: int = 0
    completed: int = 0  # alerts whose every action is now done (observed into the histogram)
    watermark: dt.datetime | None = None
    delivered: list[Delivered] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # alerts opened

    def as_dict(self) -> dict[str, Any]:
        sent = sum(sum(d.sent.values()) for d in self.delivered)
        mark = self.watermark.isoformat() if self.watermark else None
        return {k: v for k, v in vars(self).items() if k not in ("delivered", "keys")} | {
            "sent": sent,
            "watermark": mark,
        }


def run_lane(
    engine: AlertEngine,
    warehouse: sa.Engine,
    settings: IntradaySettings,
    triggers: Sequence[TriggerDef],
    now: dt.datetime,
    histogram: Any = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> LaneRun:
    """Evaluate the intraday lane once (see the module docstring). `now` is the evaluation's time; delivery is
    stamped with `clock()` when given (the daemon's clock: the time the actions really happen)."""
    run = LaneRun(watermark=read_watermark(engine.engine, LANE))
    since = run.watermark.astimezone(dt.UTC).replace(tzinfo=None) if run.watermark else None
    with WarehouseMeter().attach(warehouse) as meter, warehouse.connect() as conn:
        params = {"watermark": since} if since is not None else {}
        changed = list(conn.execute(lane_select(settings, triggers, since is not None), params))
    run.queries, run.rows_read, run.accounts = meter.queries, len(changed), len(changed)
    if changed:
        rows = [r for row in changed for r in fired_rows(row, triggers)]
        accounts = frozenset(identity_text(r["account_id"]) for r in rows)
        names = frozenset(t.name for t in triggers)
        rows = _relevant(engine.engine, rows, accounts, names)
        evaluation = engine.evaluate(rows, now, SweepScope(triggers=names, accounts=accounts))
        run.opened, run.cleared, run.keys = evaluation.opened, evaluation.cleared, evaluation.opened_keys
        _mark_lane(engine.engine, evaluation.opened_keys)
        newest = max((utc(r._mapping["_updated"]) for r in changed), default=None, key=lambda t: t or now)
        if newest is not None:
            advance_watermark(engine.engine, LANE, newest, now, len(changed))
            run.watermark = newest
    if run.opened or _due(engine.engine):
        sent_at = clock() if clock is not None else now
        pings, tasks, emails, hooks = engine.deliver_all(sent_at)
        run.delivered = [pings, tasks, emails, hooks]
        run.completed = record_actions(engine.engine, sent_at, histogram)
    return run


def _relevant(
    state: sa.Engine, rows: list[dict[str, Any]], accounts: frozenset[str], triggers: frozenset[str]
) -> list[dict[str, Any]]:
    """Firing rows, and not-firing rows only where the pair has an open alert (so pairs are not written for every
    account that changed without firing)."""
    open_pairs: set[tuple[str, str]] = set()
    ordered = sorted(accounts)
    with state.connect() as conn:
        for start in range(0, len(ordered), 900):
            query = sa.select(pairs.c.account_id, pairs.c.trigger).where(
                pairs.c.account_id.in_(ordered[start : start + 900]),
                pairs.c.trigger.in_(sorted(triggers)),
                pairs.c.open_alert_id.is_not(None),
            )
            open_pairs.update((a, t) for a, t in conn.execute(query))
    return [r for r in rows if r["fired"] or (identity_text(r["account_id"]), r["trigger"]) in open_pairs]


def _mark_lane(state: sa.Engine, keys: list[str]) -> None:
    with state.begin() as conn:
        for start in range(0, len(keys), 900):
            conn.execute(alerts.update().where(alerts.c.key.in_(keys[start : start + 900])).values(lane=LANE))


def _due(state: sa.Engine) -> bool:
    """Something in the outbox waits for delivery (a retry, a ping the budget released)."""
    with state.connect() as conn:
        return conn.scalar(sa.select(outbox.c.key).where(outbox.c.status == "pending").limit(1)) is not None
