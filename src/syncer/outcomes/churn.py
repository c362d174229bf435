"""Churn: accounts that cancel or downgrade, read from an optional `[outcomes] churn` model.

The model's contract (docs/outcomes.md): one row per churn event, `account_id`, `churned_at` (UTC),
`kind` ("cancel" | "downgrade"; others are kept as given) and `churned_mrr` (the MRR lost, >= 0). The
report shows it as portfolio health: churned ARR and logos per quarter, and churn among accounts that
were alerted versus those that were not.

`draw_churn` is the synthetic world's generative model (the demo's, stated plainly so nobody mistakes
it for data): each account has a hidden quarterly churn risk

    risk = min(0.6, (BASE_RISK + DECLINE_RISK x max(0, decline - DECLINE_FLOOR)) x u),   u ~ Uniform(0.5, 1.5)

where `decline` = max(0, 1 - recent mean DAU / early mean DAU) is how far its usage fell over the span (a
fall within DECLINE_FLOOR is the week-to-week noise of a steady account, not a signal).
Over a span of `d` days it churns with probability 1 - (1 - risk)^(d / 91.3), at a uniform instant in
the span; a cancel (probability CANCEL_SHARE) loses all its MRR, a downgrade 20-60% of it. With the
demo's mix (most accounts steady, ~6% declining) that is a few percent of accounts a quarter.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from syncer.identity import identity_text
from syncer.outcomes.tracking import as_datetime
from syncer.timestamps import UtcDateTime

KINDS = ("cancel", "downgrade")
BASE_RISK = 0.01  # per quarter, for an account whose usage holds
DECLINE_RISK = 0.4  # per quarter, added per unit of usage decline past the floor (DAU down 75%: +20 points)
DECLINE_FLOOR = 0.25
CANCEL_SHARE = 0.35
QUARTER_DAYS = 91.3


@dataclass(frozen=True)
class Churn:
    account_id: str
    churned_at: dt.datetime  # naive UTC, like Expansion.expanded_at
    kind: str
    mrr: float  # MRR lost


def churn_table(name: str = "churn_events", schema: str | None = None) -> sa.Table:
    """The churn model's contract (see the module docstring), as the demo writes it."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("churned_at", UtcDateTime(timezone=False), primary_key=True),
        sa.Column("kind", sa.String(20)),
        sa.Column("churned_mrr", sa.Double()),
        schema=schema,
    )


def parse_churn(rows: Iterable[dict[str, Any]]) -> list[Churn]:
    """Rows of the churn model -> Churn in time order (NULL MRR counts 0, a negative one too)."""
    out = [
        Churn(
            identity_text(row["account_id"]),
            as_datetime(row["churned_at"]),
            str(row.get("kind") or "unknown"),
            max(0.0, float(row.get("churned_mrr") or 0.0)),
        )
        for row in rows
    ]
    out.sort(key=lambda c: (c.churned_at, c.account_id))
    return out


def draw_churn(
    decline: dict[str, float],
    mrr: dict[str, float],
    start: dt.datetime,
    end: dt.datetime,
    seed: int = 1,
) -> list[dict[str, Any]]:
    """Churn model rows for accounts with `decline` (0 = usage held, 1 = usage gone) over (start, end]."""
    rng = random.Random(seed * 104_729 + 3)
    span = end - start
    quarters = span / dt.timedelta(days=QUARTER_DAYS)
    rows = []
    for account_id in sorted(decline):
        fall = max(0.0, decline[account_id] - DECLINE_FLOOR)
        risk = min(0.6, (BASE_RISK + DECLINE_RISK * fall) * rng.uniform(0.5, 1.5))
        at = start + span * (1 - rng.random())
        cancel = rng.random() < CANCEL_SHARE
        share = 1.0 if cancel else rng.uniform(0.2, 0.6)
        if rng.random() >= 1 - (1 - risk) ** quarters:
            continue
        rows.append(
            {
                "account_id": account_id,
                "churned_at": at.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0),
                "kind": KINDS[0] if cancel else KINDS[1],
                "churned_mrr": round(mrr.get(account_id, 0.0) * share, 2),
            }
        )
    return rows
