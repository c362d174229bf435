"""Advice gating and attribution rules on hand-made outcomes."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from syncer.errors import ConfigError
from syncer.outcomes.advice import advise, apply_advice, toml_snippet
from syncer.outcomes.effectiveness import TriggerDefView, kpis, parse_expected, trigger_stats, wilson
from syncer.outcomes.model import OutcomeSettings, load_outcome_settings
from syncer.outcomes.report import Report
from syncer.outcomes.tracking import AlertRecord, Expansion, track
from syncer.scoring import ScoringConfig

T0 = dt.datetime(2025, 1, 6, 9, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def alert(i: int, account: str, trigger: str, at: dt.datetime, priority: str = "high") -> AlertRecord:
    return AlertRecord(i, f"{account}:{trigger}:{i}", account, trigger, priority, "ping", None, at, "none", None)


def report_of(records: list[AlertRecord], expansions: list[Expansion], accounts: int, now: dt.datetime) -> Report:
    settings = OutcomeSettings()
    outcomes, unattributed = track(records, expansions, now, 90, settings.outcomes.sla_hours)
    defs = {
        t.name: TriggerDefView(t.name, t.priority, t.threshold, t.expected_conversion) for t in ScoringConfig().triggers
    }
    oc = settings.outcomes
    summary = kpis(
        outcomes,
        unattributed,
        accounts,
        now,
        target_conversion=oc.target_conversion,
        target_accuracy=oc.target_accuracy,
        target_action_hours=oc.target_action_hours,
        target_revenue=oc.target_revenue_arr_per_quarter,
    )
    return Report(
        now, settings, "t", outcomes, unattributed, trigger_stats(outcomes, defs), summary, defs, [], accounts
    )


def test_three_alerts_get_no_verdict_even_when_all_convert() -> None:
    records = [alert(i, f"a{i}", "team_expansion", T0) for i in range(3)]
    expansions = [Expansion(f"a{i}", T0 + 10 * DAY, "seat_increase", 100.0) for i in range(3)]
    report = report_of(records, expansions, 100, T0 + 200 * DAY)
    stats = {t.trigger: t for t in report.triggers}
    assert stats["team_expansion"].conversion_rate == 1.0  # 3/3, and yet:
    verdict = {a.trigger: a for a in advise(report)}["team_expansion"]
    assert verdict.action == "not_enough_data"
    assert "3 matured alerts, 30 needed" in verdict.reason
    assert verdict.new_threshold is None
    assert toml_snippet(ScoringConfig(), advise(report)) == "# no change advised\n"


def test_enough_data_gives_verdicts_with_evidence() -> None:
    records, expansions = [], []
    for i in range(60):  # seat_limit converts 50/60, premium 2/60 on other accounts
        records.append(alert(i, f"s{i}", "seat_limit_approaching", T0))
        records.append(alert(100 + i, f"p{i}", "premium_feature_adoption", T0, "medium"))
        if i < 50:
            expansions.append(Expansion(f"s{i}", T0 + 30 * DAY, "seat_increase", 200.0))
        if i < 2:  # ... and another trigger saw those two accounts too: premium alone caught none
            expansions.append(Expansion(f"p{i}", T0 + 30 * DAY, "plan_upgrade", 50.0))
            records.append(alert(200 + i, f"p{i}", "high_engagement_growth", T0, "medium"))
    report = report_of(records, expansions, 200, T0 + 100 * DAY)
    verdicts = {a.trigger: a for a in advise(report)}
    assert verdicts["seat_limit_approaching"].action == "lower_threshold"
    assert verdicts["seat_limit_approaching"].new_threshold == pytest.approx(0.72)
    assert verdicts["premium_feature_adoption"].action == "retire"
    assert verdicts["premium_feature_adoption"].evidence["matured"] == 60
    assert verdicts["high_engagement_growth"].action == "not_enough_data"
    # without that overlap premium alone caught 2 of the expanding accounts: raise, do not retire
    alone = report_of([r for r in records if r.id < 200], expansions, 200, T0 + 100 * DAY)
    assert {a.trigger: a for a in advise(alone)}["premium_feature_adoption"].action == "raise_threshold"
    scoring = apply_advice(ScoringConfig(), list(verdicts.values()))
    names = {t.name: t for t in scoring.triggers}
    assert "premium_feature_adoption" not in names
    assert names["seat_limit_approaching"].threshold == pytest.approx(0.72)
    snippet = toml_snippet(ScoringConfig(), list(verdicts.values()))
    assert "threshold = 0.72" in snippet and "# retired: premium_feature_adoption" in snippet
    parsed = ScoringConfig.model_validate({"triggers": tomllib.loads(snippet)["scoring"]["triggers"]})
    assert [t.model_dump(exclude={"source"}) for t in parsed.triggers] == [
        t.model_dump(exclude={"source"}) for t in scoring.triggers
    ]


def test_attribution_first_alert_in_window_per_trigger_and_revenue_once() -> None:
    records = [
        alert(1, "a", "seat_limit_approaching", T0),
        alert(2, "a", "rapid_seat_growth", T0 + 5 * DAY),
        alert(3, "a", "seat_limit_approaching", T0 + 40 * DAY),  # same trigger again, same window
        alert(4, "b", "seat_limit_approaching", T0),
        alert(5, "c", "seat_limit_approaching", T0 + 200 * DAY),  # window still open at `now`
    ]
    expansions = [
        Expansion("a", T0 + 60 * DAY, "plan_upgrade", 100.0),
        Expansion("b", T0 + 91 * DAY, "seat_increase", 70.0),  # one day after b's window: unattributed
        Expansion("z", T0 + 10 * DAY, "closed_won_expansion", 10.0),  # never alerted
    ]
    outcomes, unattributed = track(records, expansions, T0 + 250 * DAY, 90, {"high": 24})
    by_id = {o.alert.id: o for o in outcomes}
    assert by_id[1].converted is not None and by_id[2].converted is not None  # per trigger
    assert by_id[3].converted is None and by_id[3].relevant  # the first alert of its trigger got it
    assert [o.alert.id for o in outcomes if o.credited] == [1]  # revenue credited once, to the first alert
    assert by_id[1].attributed_mrr == 100.0
    assert by_id[4].converted is None and by_id[4].stage == "lost"
    assert not by_id[5].matured and by_id[5].stage == "open"
    assert {e.account_id for e in unattributed} == {"b", "z"}


def test_wilson_and_expected_ranges() -> None:
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)
    assert parse_expected("35-45%") == (0.35, 0.45)
    assert parse_expected("30%") == (0.30, 0.30)
    assert parse_expected("") is None


def test_config_problems_are_reported_with_their_keys() -> None:
    with pytest.raises(ConfigError) as info:
        load_outcome_settings(
            {"outcomes": {"window_days": 0, "bogus": 1, "advice": {"min_sample": 0}}, "report": {"trend_days": 1}}
        )
    keys = {i.key for i in info.value.issues}
    assert keys == {"outcomes.window_days", "outcomes.bogus", "outcomes.advice.min_sample", "report.trend_days"}
    ok = load_outcome_settings({"outcomes": {"window_days": 60, "writeback": {"alerts_table": "bi.alert_outcomes"}}})
    assert ok.outcomes.window_days == 60
