"""Every default trigger exactly at, just below and just above its threshold (hand-built usage)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from syncer.errors import ConfigError
from syncer.scoring.model import ScoringConfig
from syncer.scoring.refresh import refresh_scores
from syncer.scoring.triggers import DEFAULT_TRIGGERS, TriggerDef
from tests.scoring.builders import AS_OF, account, fired, write_inputs


def const(**values: Any) -> Any:
    return lambda ago: values


def team(invite_days: tuple[int, ...], activation_days: int) -> Any:
    return lambda ago: {"admin_invites": int(ago in invite_days), "new_user_activations": int(ago < activation_days)}


def milestone(onboarding: float, reports_now: int) -> Any:
    return lambda ago: {"onboarding_pct": onboarding, "reports_created": reports_now if ago < 30 else 10}


def then_now(column: str, then: int, now: int, split: int) -> Any:
    """`now` for the last `split` days, `then` before."""
    return lambda ago: {column: now if ago < split else then}


# (trigger, account_id, usage fn, account overrides, should fire)
CASES: list[tuple[str, str, Any, dict[str, Any], bool]] = [
    ("seat_limit_approaching", "seat_at", const(seats_used=80), {}, True),
    ("seat_limit_approaching", "seat_below", const(seats_used=79), {}, False),
    ("seat_limit_approaching", "seat_above", const(seats_used=81), {}, True),
    # percentage arm (+20%) with a small base so +5 does not fire on its own
    ("rapid_seat_growth", "growth_pct_at", then_now("seats_used", 20, 24, 30), {}, True),
    ("rapid_seat_growth", "growth_pct_below", then_now("seats_used", 20, 23, 30), {}, False),
    ("rapid_seat_growth", "growth_pct_above", then_now("seats_used", 20, 25, 30), {}, True),
    # absolute arm (+5 seats) with a large base so +20% does not fire on its own
    ("rapid_seat_growth", "growth_abs_at", then_now("seats_used", 60, 65, 30), {}, True),
    ("rapid_seat_growth", "growth_abs_below", then_now("seats_used", 60, 64, 30), {}, False),
    ("rapid_seat_growth", "growth_abs_above", then_now("seats_used", 60, 66, 30), {}, True),
    ("premium_feature_adoption", "premium_at", const(premium_features_used=3), {}, True),
    ("premium_feature_adoption", "premium_below", const(premium_features_used=2), {}, False),
    ("premium_feature_adoption", "premium_above", const(premium_features_used=4), {}, True),
    ("premium_feature_adoption", "premium_tier", const(premium_features_used=5), {"is_premium": True}, False),
    # 7-day run rate projected to 30 days: 700/day * 30 = 21,000 = 70% of 30,000
    ("api_limit_approaching", "api_at", const(api_calls=700), {"api_limit": 30_000}, True),
    ("api_limit_approaching", "api_below", const(api_calls=699), {"api_limit": 30_000}, False),
    ("api_limit_approaching", "api_above", const(api_calls=701), {"api_limit": 30_000}, True),
    ("storage_limit_approaching", "storage_at", const(storage_used=75), {"storage_limit": 100}, True),
    ("storage_limit_approaching", "storage_below", const(storage_used=74), {"storage_limit": 100}, False),
    ("storage_limit_approaching", "storage_above", const(storage_used=76), {"storage_limit": 100}, True),
    # DAU over 7 days vs the same 7 days a month earlier: 100 -> 130 is +30%
    ("high_engagement_growth", "dau_at", then_now("dau", 100, 130, 30), {}, True),
    ("high_engagement_growth", "dau_below", then_now("dau", 100, 129, 30), {}, False),
    ("high_engagement_growth", "dau_above", then_now("dau", 100, 131, 30), {}, True),
    # seed 003 triggers
    ("usage_spike", "spike_above", then_now("dau", 10, 16, 7), {}, True),
    ("usage_spike", "spike_at", then_now("dau", 10, 15, 7), {}, False),  # "> 150%" is strict
    ("usage_spike", "spike_six_days", then_now("dau", 10, 16, 6), {}, False),  # not 7 consecutive days
    ("advanced_features_power_users", "power_at", const(power_users_advanced=3), {}, True),
    ("advanced_features_power_users", "power_below", const(power_users_advanced=2), {}, False),
    ("team_expansion", "team_at", team((1, 5), 5), {}, True),  # 2 invites, 5 activations in 14 days
    ("team_expansion", "team_one_invite", team((1,), 14), {}, False),
    ("team_expansion", "team_four_activations", team((1, 5), 4), {}, False),
    ("team_expansion", "team_old_invites", team((14, 20), 14), {}, False),  # outside the 14-day window
    ("billing_anomaly", "overage_above", lambda ago: {"overage_amount": 501.0 if ago == 3 else 0.0}, {}, True),
    ("billing_anomaly", "overage_at", lambda ago: {"overage_amount": 500.0 if ago == 3 else 0.0}, {}, False),
    ("billing_anomaly", "payment_failed", lambda ago: {"payment_failed": ago == 10}, {}, True),
    ("engagement_milestone", "milestone_at", milestone(0.8, 12), {}, True),  # 80% and reports +20% MoM
    ("engagement_milestone", "milestone_low_onboarding", milestone(0.79, 12), {}, False),
    ("engagement_milestone", "milestone_flat_reports", milestone(0.9, 11), {}, False),
]  # fmt: skip


@pytest.fixture(scope="module")
def engine() -> sa.Engine:
    eng = sa.create_engine("duckdb:///:memory:", poolclass=sa.pool.StaticPool)
    custom = TriggerDef(name="big_spender", priority="low", value="mrr", threshold=5000, extra="has_usage = 1")
    accounts = [account(acc_id, fn, **over) for _, acc_id, fn, over, _ in CASES]
    accounts.append(account("whale", mrr=9000.0))
    write_inputs(eng, accounts)
    summary = refresh_scores(eng, ScoringConfig(triggers=(*DEFAULT_TRIGGERS, custom)), AS_OF)
    assert summary.published, summary.guard.reasons
    return eng


@pytest.mark.parametrize(("trigger", "account_id", "should_fire"), [(c[0], c[1], c[4]) for c in CASES])
def test_trigger_threshold(engine: sa.Engine, trigger: str, account_id: str, should_fire: bool) -> None:
    assert ((account_id, trigger) in fired(engine)) is should_fire


def test_quiet_account_fires_nothing_but_a_custom_trigger_can(engine: sa.Engine) -> None:
    assert {t for a, t in fired(engine) if a == "whale"} == {"big_spender"}


def test_trigger_row_carries_seed_metadata(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM fired_triggers WHERE account_id = 'seat_at'")).mappings().one()
    assert row["trigger"] == "seat_limit_approaching" and row["priority"] == "high"
    assert (row["value"], row["threshold"], row["window_days"]) == (0.8, 0.8, 1)
    assert (row["confidence"], row["expected_conversion"]) == (0.85, "35-45%")
    assert row["owner_email"] == "ae@example.com" and str(row["as_of"]) == str(AS_OF)
    assert row["context"] == "seats_used=80 seat_limit=100"


def test_bad_trigger_expression_is_refused() -> None:
    with pytest.raises(ValueError, match="one SQL expression"):
        TriggerDef(name="x", priority="low", value="1; DROP TABLE accounts", threshold=1)


def test_a_broken_user_trigger_is_reported_by_name() -> None:
    eng = sa.create_engine("duckdb:///:memory:", poolclass=sa.pool.StaticPool)
    write_inputs(eng, [account("a1")])
    typo = TriggerDef(name="typo_trigger", priority="low", value="seats_usedd", threshold=1)
    with pytest.raises(ConfigError) as caught:
        refresh_scores(eng, ScoringConfig(triggers=(*DEFAULT_TRIGGERS, typo)), AS_OF)
    assert [i.key for i in caught.value.issues] == ["scoring.triggers.typo_trigger"]
    assert "seats_usedd" in caught.value.issues[0].message


def test_a_canary_definition_fires_beside_the_current_one_and_is_no_signal_yet() -> None:
    eng = sa.create_engine("duckdb:///:memory:", poolclass=sa.pool.StaticPool)
    write_inputs(eng, [account("seat_78", const(seats_used=78)), account("seat_85", const(seats_used=85))])
    seat = next(t for t in DEFAULT_TRIGGERS if t.name == "seat_limit_approaching")
    canaried = TriggerDef.model_validate({**seat.model_dump(), "canary": {"threshold": 0.75}})
    assert refresh_scores(eng, ScoringConfig(triggers=(canaried,)), AS_OF).published
    with eng.connect() as conn:
        rows = conn.execute(sa.text("SELECT account_id, variant, threshold FROM fired_triggers")).all()
        signals = dict(conn.execute(sa.text("SELECT account_id, triggers_fired FROM account_scores")).all())
    assert sorted(rows) == [("seat_78", "canary", 0.75), ("seat_85", "", 0.8), ("seat_85", "canary", 0.75)]
    assert signals == {"seat_78": 0, "seat_85": 1}  # the canary's rows do not count as signals
