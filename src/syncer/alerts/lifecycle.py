"""The alert lifecycle: a model of fired triggers diffed against state, one evaluation at a time.

    row appears (no open alert)   -> new alert, unless cooldown / worked cooldown / open task says no
    row stays                     -> still firing: the open alert is updated, nothing is sent again
    row absent N evaluations      -> cleared (hysteresis: one quiet evaluation is not enough)
    row below threshold*(1-margin)-> cleared at once (models that also emit rows below threshold)
    row in [threshold*(1-margin), threshold) -> held: neither fires nor counts as quiet

A new alert, its ping or digest entry and its CRM task are written in one transaction, so the
outbox holds exactly what must be delivered; delivery happens afterwards (outbox.py). Rows are
processed in chunks of CHUNK_ROWS with their pair state loaded per chunk: memory stays bounded.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import sqlalchemy as sa

from syncer.alerts.actions import plan_for, webhook_payload
from syncer.alerts.activation import Activations
from syncer.alerts.budget import ConversionRates, apply_budget
from syncer.alerts.canary import CANARY, keep_row, statuses
from syncer.alerts.holdout import is_held_out
from syncer.alerts.model import AlertSettings
from syncer.alerts.outbox import enqueue, task_keys
from syncer.alerts.routing import Router
from syncer.alerts.store import CHUNK, alerts, aware, digest_queue, dumps, email_queue, evaluations, pairs
from syncer.alerts.tasks import TaskState, sdr_title
from syncer.identity import identity_text

CHUNK_ROWS = 500
StatusReader = Callable[[Sequence[str]], dict[str, TaskState]]
AlertRenderer = Callable[[dict[str, Any]], tuple[str, list[dict[str, Any]]]]
TaskBuilder = Callable[[dict[str, Any], dt.date], dict[str, Any]]
EmailRenderer = Callable[[dict[str, Any]], tuple[str, str, str]]  # subject, text, html
KNOWN = ("account_id", "account_name", "trigger", "priority", "value", "threshold", "owner_email", "segment", "tier")


@dataclass
class Evaluation:
    """What one evaluation did; `suppressed` counts firing rows kept quiet, by reason."""

    seq: int
    rows: int = 0
    opened: int = 0
    still_firing: int = 0
    held: int = 0
    cleared: int = 0
    duplicates: int = 0
    suppressed: dict[str, int] = field(default_factory=dict)
    opened_keys: list[str] = field(default_factory=list)
    backlog: int = 0  # opened while their trigger activated: summarised in the digest, not pinged
    holdout: int = 0  # opened in the holdout group: recorded, nobody pinged or tasked
    deferred: dict[str, int] = field(default_factory=dict)  # recipient -> pings past the day's budget
    released: dict[str, int] = field(default_factory=dict)  # recipient -> pings within the budget
    activated: list[str] = field(default_factory=list)  # triggers that (re)started this evaluation

    def suppress(self, reason: str) -> None:
        self.suppressed[reason] = self.suppressed.get(reason, 0) + 1


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def is_firing(row: dict[str, Any]) -> bool:
    """A row fires when it says so (`fired` column), else when value >= threshold, else by being there."""
    if "fired" in row and row["fired"] is not None:
        return bool(row["fired"])
    value, threshold = _number(row.get("value")), _number(row.get("threshold"))
    return value is None or threshold is None or value >= threshold


def _instant(value: Any) -> dt.datetime | None:
    """A row's `signal_at` (datetime or ISO string) as an aware UTC instant; None when absent or unreadable."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _link(template: str, alert: dict[str, Any]) -> str | None:
    """`[alerts] crm_url` over the alert's columns (model extras included); a missing column: no link."""
    values = {**(alert.get("context") or {}), **alert}
    try:
        return template.format(**{k: v for k, v in values.items() if isinstance(v, str | int | float)})
    except (KeyError, IndexError, ValueError):
        return None


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


@dataclass(frozen=True)
class SweepScope:
    """Which open alerts an evaluation's "absent N evaluations -> cleared" sweep may count: only these triggers
    (None: all), never `exclude`, only these accounts (None: all). A lane evaluates part of the triggers (and the
    intraday lane part of the accounts); alerts it did not look at are not "absent"."""

    triggers: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    accounts: frozenset[str] | None = None

    def clauses(self) -> list[Any]:
        """One SQL condition on alert_pairs per chunk of accounts."""
        base: list[Any] = []
        if self.triggers is not None:
            base.append(pairs.c.trigger.in_(sorted(self.triggers)))
        if self.exclude:
            base.append(pairs.c.trigger.not_in(sorted(self.exclude)))
        if self.accounts is None:
            return [sa.and_(sa.true(), *base)]
        ordered = sorted(self.accounts)
        return [sa.and_(pairs.c.account_id.in_(ordered[i : i + CHUNK]), *base) for i in range(0, len(ordered), CHUNK)]


def alert_key(account_id: str, trigger: str, opened: dt.datetime, cooldown: dt.timedelta) -> str:
    """The idempotency key of an alert episode: "<account>:<trigger>:<episode start, UTC>".

    It names the alert's ping, CRM task (property / field the connectors look up before creating),
    email Message-ID and webhook, so it must not depend on local state: after the state is lost, the
    same episode must get the same key, or the connectors cannot find what was already sent. The
    episode start is the opening time floored to a window of `cooldown` (since the Unix epoch): two
    alerts of one pair open at least `cooldown` apart, so they never share a window (distinct keys),
    and a re-open after a state loss inside the same window finds the first one's key. A zero
    cooldown keeps the opening second. Limit: a state loss whose re-open falls in the next window
    sends once more (with a 30-day cooldown: only across a window edge).
    """
    at = opened.astimezone(dt.UTC)
    width = int(cooldown.total_seconds())
    if width >= 1:
        seconds = int(at.timestamp())
        at = dt.datetime.fromtimestamp(seconds - seconds % width, dt.UTC)
    return f"{account_id}:{trigger}:{at:%Y%m%dT%H%M%SZ}"


class Lifecycle:
    def __init__(
        self,
        settings: AlertSettings,
        engine: sa.Engine,
        router: Router,
        render_alert: AlertRenderer,
        read_tasks: StatusReader | None = None,
        build_task: TaskBuilder | None = None,
        render_email: EmailRenderer | None = None,
        definitions: dict[str, str] | None = None,
        priors: dict[str, float] | None = None,
    ) -> None:
        self.render_email = render_email
        self.definitions = dict(definitions or {})  # trigger -> definition fingerprint ([scoring.triggers])
        self.priors = dict(priors or {})  # trigger -> seed conversion prior
        self.canaried: set[str] = set()  # triggers with a canary definition ([scoring.triggers] canary = {...})
        self.settings = settings
        self.engine = engine
        self.router = router
        self.render_alert = render_alert
        self.read_tasks = read_tasks
        self.build_task = build_task

    def evaluate(self, rows: Iterable[dict[str, Any]], now: dt.datetime, scope: SweepScope | None = None) -> Evaluation:
        with self.engine.begin() as conn:
            inserted = conn.execute(evaluations.insert().values(at=now)).inserted_primary_key
        assert inserted is not None
        ev = Evaluation(seq=int(inserted[0]))
        cfg = self.settings.alerts
        self.activations = Activations(self.engine, self.definitions, cfg.activation.quiet)
        self.rates = ConversionRates(self.engine, cfg.budget, self.priors)
        status, share = statuses(self.engine), cfg.canary.share
        rows = (r for r in rows if keep_row(r, status, self.canaried, share))  # one variant per account
        for chunk in _chunks(rows, CHUNK_ROWS):
            self._chunk(chunk, now, ev)
        self._sweep(now, ev, scope or SweepScope())
        budget = apply_budget(self.engine, self.settings, now)
        ev.released, ev.deferred = budget.released, budget.deferred
        ev.activated = self.activations.commit(ev.seq, now)
        with self.engine.begin() as conn:
            conn.execute(
                evaluations.update()
                .where(evaluations.c.id == ev.seq)
                .values(rows=ev.rows, opened=ev.opened, cleared=ev.cleared, suppressed=sum(ev.suppressed.values()))
            )
        return ev

    # -- one chunk of rows --------------------------------------------------------------------

    def _chunk(self, rows: list[dict[str, Any]], now: dt.datetime, ev: Evaluation) -> None:
        known = self._pairs({identity_text(r["account_id"]) for r in rows})
        last = self._alerts([p.last_alert_id for p in known.values() if p.last_alert_id is not None])
        cfg = self.settings.alerts
        cooldown, worked_cooldown = dt.timedelta(days=cfg.cooldown_days), dt.timedelta(days=cfg.worked_cooldown_days)
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            pk = (identity_text(row["account_id"]), str(row["trigger"]))
            pair = known.get(pk)
            if pk in seen or (pair is not None and pair.seen_seq == ev.seq):
                ev.duplicates += 1
                continue
            seen[pk] = row
            self.activations.see(row)
        ev.rows += len(seen)
        # task status is read (one call per 100 keys) only for pairs whose cooldown has passed
        refresh = []
        for pk, row in seen.items():
            pair = known.get(pk)
            prev = last.get(pair.last_alert_id) if pair is not None and pair.last_alert_id is not None else None
            waiting = pair is not None and pair.open_alert_id is None and prev is not None and is_firing(row)
            opened = aware(prev.opened_at) if waiting and prev is not None else None
            if prev is not None and opened is not None and prev.task_state == "open" and now >= opened + cooldown:
                refresh.append(prev)
        self._refresh(refresh, now)
        if refresh:
            last = self._alerts([p.last_alert_id for p in known.values() if p.last_alert_id is not None])

        updates: list[dict[str, Any]] = []
        fresh: list[tuple[tuple[str, str], dict[str, Any]]] = []
        clears: list[int] = []
        for pk, row in seen.items():
            pair = known.get(pk)
            value = _number(row.get("value"))
            firing = is_firing(row)
            state = {
                "account_id": pk[0],
                "trigger": pk[1],
                "seen_seq": ev.seq,
                "last_value": value,
                "last_seen_at": now,
            }
            if pair is not None and pair.open_alert_id is not None:
                threshold = _number(row.get("threshold"))
                if firing:
                    ev.still_firing += 1
                    state["quiet_evals"] = 0
                elif value is not None and threshold is not None and value < threshold * (1 - cfg.margin_for(pk[1])):
                    clears.append(pair.open_alert_id)
                    state.update(open_alert_id=None, quiet_evals=0)
                else:
                    ev.held += 1
                    state["quiet_evals"] = 0
                updates.append(state)
                continue
            if not firing:
                updates.append(state)
                continue
            prev = last.get(pair.last_alert_id) if pair is not None and pair.last_alert_id is not None else None
            reason = None
            if prev is not None:
                worked = aware(prev.worked_at)
                if now < (aware(prev.opened_at) or now) + cooldown:
                    reason = "cooldown"
                elif prev.task_state == "open":
                    reason = "task_open"
                elif worked is not None and now < worked + worked_cooldown:
                    reason = "worked_cooldown"
            if reason:
                ev.suppress(reason)
                updates.append(state)
                continue
            fresh.append((pk, {**row, "previous_value": pair.last_value if pair is not None else None}))
            updates.append(state)
        routed = [(pk, row, self.router.route(self._alert_dict(row), now)) for pk, row in fresh]
        with self.engine.begin() as conn:
            opened_ids: dict[tuple[str, str], int] = {}
            for pk, row, route in routed:
                opened_ids[pk] = self._open(conn, row, route, now, ev)
            for state in updates:
                pk = (str(state["account_id"]), str(state["trigger"]))
                if pk in opened_ids:
                    state.update(open_alert_id=opened_ids[pk], last_alert_id=opened_ids[pk], quiet_evals=0)
            self._write_pairs(conn, updates, known)
            if clears:
                conn.execute(alerts.update().where(alerts.c.id.in_(clears)).values(status="cleared", cleared_at=now))
                ev.cleared += len(clears)
            open_ids = [i for i in (p.open_alert_id for p in known.values()) if i is not None and i not in clears]
            for start in range(0, len(open_ids), CHUNK):
                conn.execute(
                    alerts.update()
                    .where(alerts.c.id.in_(open_ids[start : start + CHUNK]), alerts.c.status == "open")
                    .values(last_seen_at=now)
                )

    def _alert_dict(self, row: dict[str, Any]) -> dict[str, Any]:
        alert = {k: row.get(k) for k in KNOWN}
        alert["account_id"] = identity_text(row["account_id"])
        alert["priority"] = str(row.get("priority") or "low").lower()
        alert["context"] = {k: v for k, v in row.items() if k not in KNOWN and k != "previous_value"}
        alert["previous_value"] = row.get("previous_value")
        return alert

    def _open(self, conn: sa.Connection, row: dict[str, Any], route: Any, now: dt.datetime, ev: Evaluation) -> int:
        alert = self._alert_dict(row)
        cooldown = dt.timedelta(days=self.settings.alerts.cooldown_days)
        key = alert_key(alert["account_id"], str(row["trigger"]), now, cooldown)
        crm_url = self.settings.alerts.crm_url
        signal_at = _instant(row.get("signal_at")) or now
        alert.update(
            alert_id=key,
            owner_slack_id=route.owner_slack_id,
            fired_at=now.isoformat(timespec="seconds"),
            crm_url=_link(crm_url, alert) if crm_url else None,
        )
        if route.channel_name:  # what people read names the channel (#syncer-alerts), not its id (people.py)
            alert["channel_name"] = route.channel_name
        plan = plan_for(self.settings.actions, alert, self.settings.alerts.sla_hours)
        delivery = plan.delivery(route.delivery)
        wants_task = plan.wants_task(delivery, self.build_task is not None)
        cfg = self.settings.alerts
        holdout = is_held_out(cfg.holdout, str(row["trigger"]), alert["account_id"])
        if holdout:  # the control group: recorded with its plan, nothing sent
            delivery, wants_task, ev.holdout = "holdout", False, ev.holdout + 1
        elif self.activations.is_backlog(str(row["trigger"])):
            delivery, ev.backlog = "backlog", ev.backlog + 1
            wants_task = wants_task and cfg.activation.backlog_tasks
        email_to = list(route.email_to) if self.render_email is not None else []
        actions = plan.actions(delivery, wants_task) if not holdout else []
        alert["expected_value"] = self.rates.expected_value(str(row["trigger"]), row)
        inserted = conn.execute(
            alerts.insert(),
            dict(
                key=key,
                account_id=alert["account_id"],
                trigger=str(row["trigger"]),
                priority=alert["priority"],
                status="open",
                delivery=delivery,
                owner_email=alert.get("owner_email"),
                owner_slack_id=route.owner_slack_id,
                channel=route.channel,
                rule=route.rule,
                fallback_reason=route.fallback_reason,
                payload=dumps(alert),
                value=_number(row.get("value")),
                opened_at=now,
                last_seen_at=now,
                task_state="pending" if wants_task else "none",
                tier=plan.tier,
                actions=dumps(actions),
                sla_hours=plan.sla_hours if actions else None,
                signal_at=signal_at,
                email_to=", ".join(email_to) or None,
                expected_value=alert["expected_value"],
                holdout=int(holdout),
                canary=CANARY if str(row.get("variant") or "") == CANARY else "",
            ),
        ).inserted_primary_key
        assert inserted is not None
        alert_id = int(inserted[0])
        zones = self.settings.digest  # each reader's zone for the times shown (never stored in the payload)
        if delivery == "ping" and route.slack:
            dm = [alert.get("owner_email")] if route.channel == route.owner_slack_id else []  # the owner reads it
            text, blocks = self.render_alert({**alert, "time_zone": zones.zone_for(route.channel, *dm).key})
            payload = {"channel": route.channel, "text": text, "blocks": blocks}
            enqueue(conn, key, "ping", alert_id, route.channel, payload, now, status="held")  # budget.py
        if delivery == "ping" and email_to and self.render_email is not None:
            zone = zones.zone_for(*email_to, route.owner_slack_id)
            subject, text, html = self.render_email({**alert, "time_zone": zone.key})
            payload = {"to": email_to, "subject": subject, "text": text, "html": html}
            enqueue(conn, key, "email", alert_id, email_to[0][:100], payload, now, status="held")
        reason = "backlog" if delivery == "backlog" else None
        if delivery in ("digest", "backlog") and route.slack:
            queued = {"alert_id": alert_id, "recipient": route.channel, "queued_at": now, "reason": reason}
            conn.execute(digest_queue.insert(), queued)
        if delivery in ("digest", "backlog") and email_to:
            address = ", ".join(email_to)
            conn.execute(email_queue.insert(), {"alert_id": alert_id, "address": address, "queued_at": now})
        if wants_task and self.build_task is not None:
            due = (
                now + dt.timedelta(days=self.settings.alerts.tasks.due_days if self.settings.alerts.tasks else 1)
            ).date()
            enqueue(conn, key, "task", alert_id, alert["account_id"], self.build_task(alert, due), now)
        tier = plan.config if delivery not in ("holdout", "backlog") else None
        if tier is not None and tier.sdr_task is not None and self.build_task is not None:
            sdr = {**alert, "owner_email": tier.sdr_task.owner, "priority": tier.sdr_task.priority}
            sdr["task_priority"] = tier.sdr_task.priority
            sdr["trigger_title"] = sdr_title(plan.tier, row["trigger"])
            due = (signal_at + dt.timedelta(hours=tier.sdr_task.due_hours)).date()
            enqueue(conn, f"sdr:{key}", "sdr_task", alert_id, alert["account_id"], self.build_task(sdr, due), now)
        if tier is not None and tier.webhook is not None:
            body = webhook_payload(alert, plan, signal_at)
            enqueue(conn, key, "webhook", alert_id, tier.webhook, body, now)
        ev.opened += 1
        ev.opened_keys.append(key)
        return alert_id

    # -- state helpers ------------------------------------------------------------------------

    def _pairs(self, accounts: set[str]) -> dict[tuple[str, str], sa.Row[Any]]:
        found: dict[tuple[str, str], sa.Row[Any]] = {}
        ordered = sorted(accounts)
        with self.engine.connect() as conn:
            for start in range(0, len(ordered), CHUNK):
                query = sa.select(pairs).where(pairs.c.account_id.in_(ordered[start : start + CHUNK]))
                for row in conn.execute(query):
                    found[(row.account_id, row.trigger)] = row
        return found

    def _alerts(self, ids: list[int]) -> dict[int, sa.Row[Any]]:
        found: dict[int, sa.Row[Any]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), CHUNK):
                for row in conn.execute(sa.select(alerts).where(alerts.c.id.in_(ids[start : start + CHUNK]))):
                    found[row.id] = row
        return found

    @staticmethod
    def _write_pairs(conn: sa.Connection, states: list[dict[str, Any]], known: dict[tuple[str, str], Any]) -> None:
        """Inserts and updates as executemany, grouped by the columns they set (one compiled statement each)."""
        inserts = [
            {"quiet_evals": 0, "open_alert_id": None, "last_alert_id": None, **s}
            for s in states
            if (s["account_id"], s["trigger"]) not in known
        ]
        if inserts:
            names = sorted({k for s in inserts for k in s})
            conn.execute(pairs.insert(), [{c: s.get(c) for c in names} for s in inserts])
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for state in states:
            if (state["account_id"], state["trigger"]) in known:
                columns = tuple(sorted(k for k in state if k not in ("account_id", "trigger")))
                groups.setdefault(columns, []).append(state)
        for columns, group in groups.items():
            statement = (
                pairs.update()
                .where(pairs.c.account_id == sa.bindparam("b_account"), pairs.c.trigger == sa.bindparam("b_trigger"))
                .values({c: sa.bindparam(f"b_{c}") for c in columns})
            )
            params = [
                {"b_account": s["account_id"], "b_trigger": s["trigger"], **{f"b_{c}": s[c] for c in columns}}
                for s in group
            ]
            conn.execute(statement, params)

    def _refresh(self, rows: list[sa.Row[Any]], now: dt.datetime) -> None:
        if rows and self.read_tasks is not None:
            refresh_tasks(self.engine, self.read_tasks, rows, now)

    def _sweep(self, now: dt.datetime, ev: Evaluation, scope: SweepScope) -> None:
        """Open alerts (within the scope) whose row did not come this evaluation get one quiet count; N clear it."""
        for clause in scope.clauses():
            self._sweep_part(now, ev, clause)

    def _sweep_part(self, now: dt.datetime, ev: Evaluation, clause: Any) -> None:
        n = self.settings.alerts.clear_after_quiet
        with self.engine.begin() as conn:
            absent = sa.and_(
                clause,
                pairs.c.open_alert_id.is_not(None),
                sa.or_(pairs.c.seen_seq.is_(None), pairs.c.seen_seq != ev.seq),
            )
            conn.execute(pairs.update().where(absent).values(quiet_evals=pairs.c.quiet_evals + 1))
            done = sa.and_(clause, pairs.c.open_alert_id.is_not(None), pairs.c.quiet_evals >= n)
            ids = [r.open_alert_id for r in conn.execute(sa.select(pairs.c.open_alert_id).where(done))]
            for start in range(0, len(ids), CHUNK):
                part = ids[start : start + CHUNK]
                conn.execute(alerts.update().where(alerts.c.id.in_(part)).values(status="cleared", cleared_at=now))
            conn.execute(pairs.update().where(done).values(open_alert_id=None, quiet_evals=0))
            ev.cleared += len(ids)


def refresh_tasks(engine: sa.Engine, read: StatusReader, rows: Sequence[sa.Row[Any]], now: dt.datetime) -> None:
    """Read task status back from the CRM; a completed task marks its alert worked (when completed)."""
    crm_keys = task_keys(engine, [str(r.key) for r in rows])
    states = read(list(dict.fromkeys(crm_keys.values())))
    with engine.begin() as conn:
        for row in rows:
            state = states.get(crm_keys[str(row.key)])
            if state is None:
                continue
            values: dict[str, Any] = {"task_state": state.state, "task_checked_at": now}
            if state.state == "completed" and row.worked_at is None:
                values["worked_at"] = state.completed_at or now
            conn.execute(alerts.update().where(alerts.c.id == row.id).values(**values))


def payload_of(row: sa.Row[Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(row.payload)
    return data
