"""The synthetic world is deterministic, complete, and its hidden propensity is what the scores rank."""

from __future__ import annotations

import sqlalchemy as sa

from syncer.scoring import ScoringConfig, build_world, refresh_scores


def _engine() -> sa.Engine:
    return sa.create_engine("duckdb:///:memory:", poolclass=sa.pool.StaticPool)


def _one(engine: sa.Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_world_shape_and_determinism() -> None:
    a, b, c = _engine(), _engine(), _engine()
    as_of = build_world(a, accounts=50, days=61, seed=11)
    build_world(b, accounts=50, days=61, seed=11)
    build_world(c, accounts=50, days=61, seed=12)
    assert _one(a, "SELECT count(*), count(DISTINCT account_id), max(day) FROM usage_daily") == [(3050, 50, as_of)]
    checksum = "SELECT sum(seats_used * 7 + dau * 3 + api_calls + storage_used + admin_invites) FROM usage_daily"
    assert _one(a, checksum) == _one(b, checksum) != _one(c, checksum)
    assert _one(a, "SELECT count(*) FROM ground_truth WHERE propensity BETWEEN 0 AND 1") == [(50,)]


def test_scores_rank_the_hidden_propensity() -> None:
    engine = _engine()
    as_of = build_world(engine, accounts=400, days=61, seed=2)
    assert refresh_scores(engine, ScoringConfig(), as_of).published
    by_tier = dict(
        _one(
            engine,
            "SELECT pql_tier, avg(g.propensity) FROM account_scores s JOIN ground_truth g "
            "ON g.account_id = s.account_id GROUP BY pql_tier",
        )
    )
    assert by_tier["monitor"] < by_tier["nurture"] < by_tier["escalate"]
    by_band = dict(
        _one(
            engine,
            "SELECT health_band, avg(g.propensity) FROM account_scores s JOIN ground_truth g "
            "ON g.account_id = s.account_id GROUP BY health_band",
        )
    )
    assert by_band["at_risk"] < by_band["healthy"] < by_band["expansion_ready"]
