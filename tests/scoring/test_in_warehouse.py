"""Scoring runs in the warehouse: no usage or account row comes back to Python.

Honest accounting: the guard runs three one-row aggregate queries (four with an events table) and the
summary three GROUP BY counts (one row per trigger, tier, band). Nothing else returns rows, and the
number of fetched rows does not grow with the number of accounts.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from syncer.scoring.model import ScoringConfig
from syncer.scoring.refresh import refresh_scores
from syncer.scoring.synthetic import build_world


def _run(accounts: int) -> tuple[Any, list[tuple[str, bool]]]:
    engine = sa.create_engine("duckdb:///:memory:", poolclass=sa.pool.StaticPool)
    as_of = build_world(engine, accounts=accounts, days=61, seed=5)
    seen: list[tuple[str, bool]] = []

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        seen.append((statement, cursor.description is not None))

    summary = refresh_scores(engine, ScoringConfig(), as_of)
    return summary, seen


def test_only_small_aggregates_come_back_whatever_the_size() -> None:
    small, small_seen = _run(30)
    big, big_seen = _run(120)
    assert small.accounts_scored == 30 and big.accounts_scored == 120
    assert big.triggers_fired > 2 * small.triggers_fired > 0

    returning = [s for s, has_rows in big_seen if has_rows and s.lstrip().upper().startswith("SELECT")]
    assert len(returning) == 6, returning
    for statement in returning:
        assert "count(" in statement or "max(" in statement, statement
        assert statement.count("SELECT") == 1  # no sub-select smuggling rows out
    writes = [s for s, _ in big_seen if not s.lstrip().upper().startswith("SELECT")]
    assert all(s.split()[0] in {"DROP", "CREATE", "DELETE", "INSERT"} for s in writes)
    assert sum("INSERT INTO fired_triggers SELECT" in s for s in writes) == 1

    # 1 freshness + 1 coverage + 1 impossible-values row, plus one row per trigger / tier / band
    expected = 3 + len(big.triggers_by_name) + len(big.pql_tiers) + len(big.health_bands)
    assert big.rows_fetched == expected <= 3 + 11 + 3 + 4
    assert small.rows_fetched <= expected
    assert sum(has_rows for _, has_rows in small_seen) == sum(has_rows for _, has_rows in big_seen)
