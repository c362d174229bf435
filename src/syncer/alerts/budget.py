"""The ping budget: at most N immediate pings per recipient per local day; the rest wait for the digest.

Seed 002: "Don't overwhelm reps with alerts." A rep who gets 33 "high priority" DMs on one morning
mutes the bot, so every recipient has a daily budget (`[alerts.budget]`: 5 per person, 20 per shared
channel; a routing rule's `budget` overrides both for the alerts it routes).

How it works (one transaction, after the evaluation opened its alerts):

    _open enqueues each ping (Slack `ping`, alert `email`) as status "held", never "pending"
    -> `apply_budget` groups the held alerts by recipient, counts the pings that recipient already
       got this local day (their digest zone), ranks the held ones by expected value and releases the
       top `budget - used` (status "pending": the outbox delivers them); the others are *deferred*:
       their outbox rows become "deferred", the alert's delivery "deferred", and the alert is queued
       for the recipient's next digest with reason "deferred" - never dropped.

A crash between opening and `apply_budget` leaves rows "held" (the outbox never sends those); the
next evaluation's pass picks them up. Ranking rule (`RANKING_RULE`): expected value = the trigger's
conversion rate (measured over >= `min_sample` matured alerts from `alert_trigger_rates`, else the
seed prior: the midpoint of its "35-45%" expected conversion) x the account's expansion potential
(`expansion_potential` column, else `mrr`, else 1); ties by priority, then the earlier signal.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from syncer.alerts.people import reader_zone
from syncer.alerts.store import alerts, digest_queue, email_queue, outbox, trigger_rates

if TYPE_CHECKING:
    from syncer.alerts.model import AlertSettings

RANKING_RULE = (
    "expected value = trigger conversion (measured when >= min_sample matured alerts, else the seed prior) "
    "x account expansion potential (expansion_potential, else mrr, else 1); ties: priority, then earlier alert"
)
PING_KINDS = ("ping", "email")
_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*%\s*$")
_PRIORITY = {"high": 0, "medium": 1, "low": 2}


class PingBudget(BaseModel):
    """`[alerts.budget]`: immediate pings per recipient per local day (their digest time zone)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    per_recipient: int = Field(default=5, ge=0)
    """Immediate pings (Slack DMs, alert emails) one person gets per local day (seed 002: don't overwhelm reps)."""
    per_channel: int = Field(default=20, ge=0)
    """Immediate pings one shared Slack channel (C.../G...) gets per local day."""
    min_sample: int = Field(default=30, ge=1)
    """Matured alerts a trigger needs before its measured conversion replaces the seed prior in the ranking."""
    default_conversion: float = Field(default=0.2, gt=0, le=1)
    """Conversion prior of a trigger without a seed range ("35-45%") or confidence."""


def prior_rate(expected_conversion: Any, confidence: Any, default: float) -> float:
    """'35-45%' -> 0.40 (midpoint); else the trigger's confidence; else `default`."""
    match = _RANGE.match(str(expected_conversion or ""))
    if match:
        low = float(match.group(1))
        high = float(match.group(2)) if match.group(2) else low
        return (low + high) / 200
    try:
        return float(confidence) if confidence not in (None, "") else default
    except (TypeError, ValueError):
        return default


def expansion_potential(row: dict[str, Any]) -> float:
    """The account's expansion potential: `expansion_potential`, else `mrr`, else 1 (all equal)."""
    for column in ("expansion_potential", "mrr"):
        value = row.get(column)
        if value is None and isinstance(row.get("context"), dict):
            value = row["context"].get(column)
        try:
            if value is not None and float(value) > 0:
                return float(value)
        except (TypeError, ValueError):
            continue
    return 1.0


class ConversionRates:
    """Per-trigger conversion: measured (outcomes report) when there is enough data, else the prior."""

    def __init__(self, engine: sa.Engine, budget: PingBudget, priors: dict[str, float] | None = None) -> None:
        self.budget = budget
        self.priors = dict(priors or {})
        with engine.connect() as conn:
            self.measured = {
                r.trigger: r.converted / r.matured
                for r in conn.execute(sa.select(trigger_rates))
                if r.matured >= budget.min_sample and r.matured > 0
            }

    def rate(self, trigger: str, row: dict[str, Any]) -> float:
        if trigger in self.measured:
            return float(self.measured[trigger])
        if trigger in self.priors:
            return self.priors[trigger]
        found = row.get("context")
        context: dict[str, Any] = found if isinstance(found, dict) else {}
        expected = row.get("expected_conversion") or context.get("expected_conversion")
        confidence = row.get("confidence") or context.get("confidence")
        return prior_rate(expected, confidence, self.budget.default_conversion)

    def expected_value(self, trigger: str, row: dict[str, Any]) -> float:
        return round(self.rate(trigger, row) * expansion_potential(row), 6)


@dataclass
class BudgetResult:
    """What one budget pass did: pings released and deferred, per recipient."""

    released: dict[str, int] = field(default_factory=dict)
    deferred: dict[str, int] = field(default_factory=dict)
    deferred_keys: list[str] = field(default_factory=list)


def recipient_budget(settings: AlertSettings, recipient: str, rule: str | None) -> int:
    """A rule's own `budget` wins; else per_channel for C.../G... channels, per_recipient otherwise."""
    for index, r in enumerate(settings.routing.rules):
        if (r.name or f"rules[{index}]") == rule and r.budget is not None:
            return r.budget
    cfg = settings.alerts.budget
    return cfg.per_channel if recipient[:1] in ("C", "G") else cfg.per_recipient


def day_start(conn: sa.Connection, settings: AlertSettings, recipient: str, now: dt.datetime) -> dt.datetime:
    """Midnight of the recipient's local day (their digest zone, people.reader_zone), as a UTC instant."""
    zone = reader_zone(conn, settings.digest, recipient)
    local = now.astimezone(zone)
    return dt.datetime.combine(local.date(), dt.time(0), zone).astimezone(dt.UTC)


def budget_recipient(row: Any) -> str:
    """Whose budget an alert uses: its Slack target, else its email address(es)."""
    return str(row.channel if row.channel != "email" else (row.email_to or "email"))


def used_today(conn: sa.Connection, settings: AlertSettings, recipient: str, now: dt.datetime) -> int:
    """Pings this recipient already got (released) since their local midnight."""
    start = day_start(conn, settings, recipient, now)
    column = alerts.c.email_to if recipient.count("@") else alerts.c.channel
    query = sa.select(sa.func.count()).where(
        column == recipient, alerts.c.delivery == "ping", alerts.c.opened_at >= start, alerts.c.id.in_(_released())
    )
    return int(conn.execute(query).scalar_one())


def _released() -> sa.Select[Any]:
    return sa.select(outbox.c.alert_id).where(outbox.c.kind.in_(PING_KINDS), outbox.c.status != "held")


def apply_budget(engine: sa.Engine, settings: AlertSettings, now: dt.datetime) -> BudgetResult:
    """Release or defer every held ping (see the module docstring). Idempotent; one transaction."""
    result = BudgetResult()
    with engine.begin() as conn:
        held_ids = sa.select(outbox.c.alert_id).where(outbox.c.kind.in_(PING_KINDS), outbox.c.status == "held")
        rows = list(conn.execute(sa.select(alerts).where(alerts.c.id.in_(held_ids))))
        by_recipient: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            by_recipient[budget_recipient(row)].append(row)
        for recipient, group in sorted(by_recipient.items()):
            room = max(
                0, recipient_budget(settings, recipient, group[0].rule) - used_today(conn, settings, recipient, now)
            )
            group.sort(key=lambda r: (-(r.expected_value or 0.0), _PRIORITY.get(r.priority, 9), r.id))
            keep, defer = group[:room], group[room:]
            if keep:
                ids = [r.id for r in keep]
                where = sa.and_(outbox.c.alert_id.in_(ids), outbox.c.kind.in_(PING_KINDS), outbox.c.status == "held")
                conn.execute(outbox.update().where(where).values(status="pending"))
                result.released[recipient] = len(keep)
            for r in defer:
                _defer(conn, r, now)
                result.deferred_keys.append(r.key)
            if defer:
                result.deferred[recipient] = len(defer)
    return result


def _defer(conn: sa.Connection, row: Any, now: dt.datetime) -> None:
    where = sa.and_(outbox.c.alert_id == row.id, outbox.c.kind.in_(PING_KINDS), outbox.c.status == "held")
    conn.execute(outbox.update().where(where).values(status="deferred", reason="over the ping budget"))
    conn.execute(alerts.update().where(alerts.c.id == row.id).values(delivery="deferred"))
    if row.channel != "email":
        queued = {"alert_id": row.id, "recipient": row.channel, "queued_at": now, "reason": "deferred"}
        conn.execute(digest_queue.insert(), queued)
    if row.email_to:
        conn.execute(email_queue.insert(), {"alert_id": row.id, "address": row.email_to, "queued_at": now})


def budget_use(engine: sa.Engine, settings: AlertSettings, now: dt.datetime) -> list[dict[str, Any]]:
    """Per recipient, today (their local day): pings sent or queued to send, pings deferred, the budget."""
    since = now - dt.timedelta(days=2)  # every recipient's local midnight is later than this
    query = sa.select(alerts.c.channel, alerts.c.email_to, alerts.c.rule, alerts.c.delivery, alerts.c.opened_at)
    query = query.where(alerts.c.opened_at >= since, alerts.c.delivery.in_(("ping", "deferred")))
    use: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            recipient = budget_recipient(row)
            opened = row.opened_at if row.opened_at.tzinfo else row.opened_at.replace(tzinfo=dt.UTC)
            if opened < day_start(conn, settings, recipient, now):
                continue
            entry = use.setdefault(
                recipient,
                {
                    "recipient": recipient,
                    "pings": 0,
                    "deferred": 0,
                    "budget": recipient_budget(settings, recipient, row.rule),
                },
            )
            entry["pings" if row.delivery == "ping" else "deferred"] += 1
    return sorted(use.values(), key=lambda e: (-e["pings"] - e["deferred"], e["recipient"]))
