"""Data-quality guard: new scores and triggers are published only from data we trust.

Seed 003 warns that triggers built on stale or incomplete signals lead to misguided revenue actions,
so before publishing we check, each with one aggregate query in the warehouse:
- freshness: the latest usage day is at most `max_lag_days` before as_of;
- coverage: accounts with usage on as_of vs the day before (a half-loaded day fails);
- match rate: raw events whose account_id matches an account (only when an events table is set);
- impossible values: negative counts, or usage above `max_utilisation` x the plan limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

import sqlalchemy as sa

from syncer.scoring.dialect import date_literal
from syncer.scoring.execution import WarehouseSession
from syncer.scoring.metrics import accounts_table, usage_table
from syncer.scoring.model import ScoringConfig
from syncer.wording import plural


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    value: float | None
    threshold: float
    reason: str


@dataclass(frozen=True)
class GuardResult:
    """What the guard decided; `state` feeds the ops alert, `reasons` its text."""

    checks: tuple[CheckResult, ...]

    @property
    def state(self) -> Literal["ok", "failing"]:
        return "ok" if all(c.ok for c in self.checks) else "failing"

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.checks if not c.ok]


def _as_date(value: object) -> date | None:
    if value is None or isinstance(value, datetime):
        return value.date() if isinstance(value, datetime) else None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])  # sqlite keeps dates as ISO text


def check_freshness(ws: WarehouseSession, config: ScoringConfig, as_of: date) -> CheckResult:
    u = usage_table(config)
    latest = _as_date(ws.fetch(sa.select(sa.func.max(u.c.day)).where(u.c.day <= date_literal(as_of)))[0][0])
    limit = config.quality.max_lag_days
    if latest is None:
        return CheckResult("freshness", False, None, limit, f"{u.name} has no rows on or before {as_of}")
    lag = (as_of - latest).days
    ok = lag <= limit
    reason = f"{u.name} latest day is {latest}, {lag} day(s) before as_of {as_of} (allowed: {limit})"
    return CheckResult("freshness", ok, float(lag), limit, ("" if ok else "stale usage: ") + reason)


def check_coverage(ws: WarehouseSession, config: ScoringConfig, as_of: date) -> CheckResult:
    u = usage_table(config)
    today, before = date_literal(as_of), date_literal(as_of - timedelta(days=1))
    row = ws.fetch(
        sa.select(
            sa.func.count(sa.distinct(sa.case((u.c.day == today, u.c.account_id)))),
            sa.func.count(sa.distinct(sa.case((u.c.day == before, u.c.account_id)))),
        ).where(sa.or_(u.c.day == today, u.c.day == before))
    )[0]
    n_today, n_before = int(row[0] or 0), int(row[1] or 0)
    limit = config.quality.min_coverage_ratio
    ratio = n_today / n_before if n_before else (1.0 if n_today else 0.0)
    ok = ratio >= limit and n_today > 0
    reason = (
        f"usage from {plural(n_today, 'account')} on {as_of} vs {n_before} the day before "
        f"(ratio {ratio:.2f}, minimum {limit:.2f})"
    )
    return CheckResult("coverage", ok, ratio, limit, ("" if ok else "incomplete day: ") + reason)


def check_impossible_values(ws: WarehouseSession, config: ScoringConfig, as_of: date) -> CheckResult:
    u, a = usage_table(config), accounts_table(config)
    k = config.quality.max_utilisation
    negative = sa.or_(*[u.c[c] < 0 for c in ("seats_used", "dau", "wau", "api_calls", "storage_used")])
    too_high = sa.or_(
        u.c.seats_used > a.c.seat_limit * k,
        u.c.storage_used > a.c.storage_limit * k,
        u.c.api_calls > a.c.api_limit * k,
    )
    stmt = (
        sa.select(sa.func.count(), sa.func.sum(sa.case((sa.or_(negative, too_high), 1), else_=0)))
        .select_from(u.join(a, u.c.account_id == a.c.account_id))
        .where(u.c.day == date_literal(as_of))
    )
    total, bad = (int(v or 0) for v in ws.fetch(stmt)[0])
    limit = config.quality.max_impossible_rows
    ok = bad <= limit
    reason = f"{bad} of {total} usage rows on {as_of} have negative counts or usage above {k:g}x the plan limit"
    return CheckResult("impossible_values", ok, float(bad), limit, ("" if ok else "impossible values: ") + reason)


def check_match_rate(ws: WarehouseSession, config: ScoringConfig, as_of: date, events: str) -> CheckResult:
    e = sa.table(events, sa.column("account_id"), sa.column("timestamp", sa.DateTime()), schema=ws.schema)
    a = accounts_table(config)
    start = datetime.combine(as_of - timedelta(days=config.quality.match_window_days - 1), datetime.min.time())
    end = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
    stmt = (
        sa.select(sa.func.count(), sa.func.count(a.c.account_id))
        .select_from(e.outerjoin(a, e.c.account_id == a.c.account_id))
        .where(e.c.timestamp >= start, e.c.timestamp < end)
    )
    total, matched = (int(v or 0) for v in ws.fetch(stmt)[0])
    limit = config.quality.min_match_rate
    rate = matched / total if total else 0.0
    ok = total > 0 and rate >= limit
    reason = (
        f"{matched} of {total} events from {start.date()} to {as_of} match an account "
        f"(rate {rate:.3f}, minimum {limit})"
    )
    return CheckResult("match_rate", ok, rate, limit, ("" if ok else "unmatched events: ") + reason)


def run_guard(ws: WarehouseSession, config: ScoringConfig, as_of: date) -> GuardResult:
    """All checks, every time (no short-circuit), so one alert lists every problem at once."""
    checks = [
        check_freshness(ws, config, as_of),
        check_coverage(ws, config, as_of),
        check_impossible_values(ws, config, as_of),
    ]
    if config.tables.events:
        checks.append(check_match_rate(ws, config, as_of, config.tables.events))
    return GuardResult(tuple(checks))
