"""The data-quality guard holds new triggers back on bad data and keeps the last good ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from syncer.scoring.contract import input_tables
from syncer.scoring.model import ScoringConfig
from syncer.scoring.refresh import refresh_scores
from syncer.scoring.synthetic import build_world

CONFIG = ScoringConfig()


def _published(engine: sa.Engine) -> tuple[set[Any], set[str]]:
    """(fired rows, as_of dates of published scores)."""
    with engine.connect() as conn:
        fired = {tuple(r) for r in conn.execute(sa.text("SELECT * FROM fired_triggers"))}
        as_of = {str(r[0]) for r in conn.execute(sa.text("SELECT DISTINCT as_of FROM account_scores"))}
    return fired, as_of


def _copy_day(engine: sa.Engine, source: date, target: date, keep_every: int = 1) -> None:
    """Load `target` as a copy of `source`, keeping only every `keep_every`-th account."""
    _, usage = input_tables(CONFIG, sa.MetaData())
    with engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(usage).where(usage.c.day == source)).mappings()]
        rows = sorted(rows, key=lambda r: r["account_id"])[::keep_every]
        conn.execute(usage.insert(), [{**r, "day": target} for r in rows])


@pytest.fixture(params=["duckdb", "sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[sa.Engine, date]]:
    url = {"duckdb": "duckdb:///:memory:", "sqlite": f"sqlite:///{tmp_path}/g.sqlite"}.get(request.param)
    engine = sa.create_engine(url or request.getfixturevalue("pg_url"), poolclass=sa.pool.StaticPool)
    as_of = build_world(engine, accounts=40, days=62, seed=3)
    first = refresh_scores(engine, CONFIG, as_of)
    assert first.published and first.guard.state == "ok" and first.guard.reasons == []
    yield engine, as_of
    engine.dispose()


def test_stale_usage_holds_triggers_and_keeps_the_last_good_ones(world: tuple[sa.Engine, date]) -> None:
    engine, as_of = world
    before = _published(engine)
    assert before[0] and before[1] == {as_of.isoformat()}
    summary = refresh_scores(engine, CONFIG, as_of + timedelta(days=3))
    assert not summary.published and summary.guard.state == "failing"
    assert [c.name for c in summary.guard.checks if not c.ok] == ["freshness", "coverage"]
    assert summary.guard.reasons[0].startswith("stale usage: usage_daily latest day is")
    assert "3 day(s) before as_of" in summary.guard.reasons[0]
    assert _published(engine) == before


def test_half_empty_day_holds_triggers_until_the_day_is_complete(world: tuple[sa.Engine, date]) -> None:
    engine, as_of = world
    before = _published(engine)
    next_day = as_of + timedelta(days=1)
    _copy_day(engine, as_of, next_day, keep_every=2)
    summary = refresh_scores(engine, CONFIG, next_day)
    assert not summary.published
    assert summary.guard.reasons == [
        f"incomplete day: usage from 20 accounts on {next_day} vs 40 the day before (ratio 0.50, minimum 0.90)"
    ]
    assert summary.triggers_fired > 0  # computed and staged, just not published
    assert _published(engine) == before
    with engine.begin() as conn:  # the late half arrives
        conn.execute(sa.text(f"DELETE FROM usage_daily WHERE day = '{next_day.isoformat()}'"))
    _copy_day(engine, as_of, next_day)
    again = refresh_scores(engine, CONFIG, next_day)
    assert again.published
    assert _published(engine)[1] == {next_day.isoformat()}


@pytest.mark.parametrize("world", ["duckdb"], indirect=True)
def test_impossible_values_hold_triggers(world: tuple[sa.Engine, date]) -> None:
    engine, as_of = world
    day = as_of.isoformat()
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE usage_daily SET seats_used = -1 WHERE account_id = 'acc_000001' AND day = '{day}'")
        )
        conn.execute(
            sa.text(
                f"UPDATE usage_daily SET storage_used = 999999999 WHERE account_id = 'acc_000002' AND day = '{day}'"
            )
        )
    summary = refresh_scores(engine, CONFIG, as_of)
    assert not summary.published
    assert summary.guard.reasons == [
        f"impossible values: 2 of 40 usage rows on {as_of} have negative counts or usage above 10x the plan limit"
    ]


def _events(engine: sa.Engine, as_of: date, matched: int, unmatched: int) -> None:
    md = sa.MetaData()
    events = sa.Table(
        "events", md, sa.Column("account_id", sa.String(64)), sa.Column("user_id", sa.String(64)),
        sa.Column("event", sa.String(64)), sa.Column("timestamp", sa.DateTime()), sa.Column("properties", sa.Text()),
    )  # fmt: skip
    noon = datetime.combine(as_of, datetime.min.time()) + timedelta(hours=12)
    rows = [
        {"account_id": f"acc_{1 + i % 40:06d}", "user_id": "u", "event": "e", "timestamp": noon} for i in range(matched)
    ]
    rows += [{"account_id": "unknown", "user_id": "u", "event": "e", "timestamp": noon} for _ in range(unmatched)]
    rows += [
        {"account_id": "old", "user_id": "u", "event": "e", "timestamp": noon - timedelta(days=2)}
    ]  # outside window
    with engine.begin() as conn:
        md.drop_all(conn)
        md.create_all(conn)
        conn.execute(events.insert(), rows)


@pytest.mark.parametrize("world", ["duckdb"], indirect=True)
@pytest.mark.parametrize(("matched", "unmatched", "published"), [(96, 4, True), (94, 6, False)])
def test_event_match_rate(world: tuple[sa.Engine, date], matched: int, unmatched: int, published: bool) -> None:
    engine, as_of = world
    _events(engine, as_of, matched, unmatched)
    config = ScoringConfig.model_validate({"tables": {"events": "events"}})
    summary = refresh_scores(engine, config, as_of)
    check = summary.guard.checks[-1]
    assert check.name == "match_rate" and check.value == pytest.approx(matched / 100)
    assert summary.published is published
    assert check.ok is published and (published or check.reason.startswith("unmatched events: 94 of 100"))
