"""Churn: the model's rows as the report reads them, the synthetic world's draw (risk rises with falling usage,
a few percent a quarter for a steady book), and the dashboard JSON the portfolio-health widget filters."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from syncer.outcomes.churn import draw_churn, parse_churn
from syncer.outcomes.dashboard_data import dashboard_data
from syncer.outcomes.model import OutcomesConfig, OutcomeSettings
from syncer.outcomes.report import Report

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_parse_churn_orders_events_and_reads_nulls_as_zero() -> None:
    rows = [
        {"account_id": 7, "churned_at": "2026-03-02 10:00:00", "kind": "downgrade", "churned_mrr": 120.5},
        {"account_id": "acc_1", "churned_at": dt.datetime(2026, 2, 1), "kind": None, "churned_mrr": None},
        {"account_id": "acc_2", "churned_at": dt.datetime(2026, 2, 1), "kind": "cancel", "churned_mrr": -3},
    ]
    events = parse_churn(rows)
    assert [(c.account_id, c.kind, c.mrr) for c in events] == [
        ("acc_1", "unknown", 0.0),
        ("acc_2", "cancel", 0.0),
        ("7", "downgrade", 120.5),
    ]


def test_draw_churn_follows_falling_usage_at_a_few_percent_a_quarter() -> None:
    steady = {f"s{n}": 0.05 for n in range(4000)}
    falling = {f"f{n}": 0.9 for n in range(1000)}
    mrr = {a: 100.0 for a in [*steady, *falling]}
    rows = draw_churn({**steady, **falling}, mrr, START, START + dt.timedelta(days=91), seed=3)
    share = {g: sum(r["account_id"].startswith(g) for r in rows) / n for g, n in (("s", 4000), ("f", 1000))}
    assert 0.005 < share["s"] < 0.02, share  # BASE_RISK 1% a quarter, x Uniform(0.5, 1.5)
    assert 0.15 < share["f"] < 0.35, share  # 1% + 40% x (0.9 - 0.25) = 27%
    for r in rows:
        assert START.replace(tzinfo=None) < r["churned_at"] <= (START + dt.timedelta(days=91)).replace(tzinfo=None)
        assert r["kind"] in ("cancel", "downgrade")
        assert r["churned_mrr"] == 100.0 if r["kind"] == "cancel" else 20.0 <= r["churned_mrr"] <= 60.0
    assert rows == draw_churn({**steady, **falling}, mrr, START, START + dt.timedelta(days=91), seed=3)


def test_dashboard_json_carries_churn_per_account_with_its_kind(report: Report) -> None:
    ids = [a.account_id for a in report.accounts[:2]]
    churn = parse_churn(
        [
            {"account_id": ids[0], "churned_at": "2026-02-01", "kind": "cancel", "churned_mrr": 50},
            {"account_id": ids[1], "churned_at": "2026-05-01", "kind": "pause", "churned_mrr": 10},
            {"account_id": "not-shown", "churned_at": "2026-05-02", "kind": "downgrade", "churned_mrr": 5},
        ]
    )
    settings = OutcomeSettings(outcomes=OutcomesConfig(churn={"table": "churn_events", "primary_key": ["account_id"]}))
    data = dashboard_data(replace(report, churn=churn, settings=settings))
    assert data["churn_model"] is True and data["churn_kinds"] == ["cancel", "downgrade", "pause"]
    assert [c[2:] for c in data["churn"]] == [[0, 0], [1, 2], [-1, 1]]
    assert replace(report, churn=churn).as_dict()["churn"] == {
        "events": 3,
        "accounts": 3,
        "cancelled": 1,
        "churned_arr": 780.0,
    }
    assert dashboard_data(report)["churn_model"] is False and dashboard_data(report)["churn"] == []


def test_a_cancelled_account_is_worth_nothing_and_leaves_call_today(report: Report) -> None:
    """Open alerts carry an expected value ("call today" ranks by it); once the account cancels it has none.
    A downgrade keeps it: the account is still a customer."""
    opened: dict[str, int] = {}  # two accounts' first alerts, made open (not matured, not converted)
    for n, o in enumerate(report.outcomes):
        if len(opened) < 2 and o.alert.account_id not in opened:
            opened[o.alert.account_id] = n
    outcomes = list(report.outcomes)
    for n in opened.values():
        outcomes[n] = replace(outcomes[n], matured=False, converted=None)
    report = replace(report, outcomes=outcomes)
    before = dashboard_data(report)["alerts"]
    valued = sorted({row[0] for row in before if row[9] > 0})
    assert len(valued) >= 2, "the world needs two accounts with open, valued alerts"
    accounts = dashboard_data(report)["accounts"]
    cancelled, downgraded = (accounts[valued[0]][0], accounts[valued[1]][0])
    churn = parse_churn(
        [
            {"account_id": cancelled, "churned_at": "2026-02-01", "kind": "cancel", "churned_mrr": 50},
            {"account_id": downgraded, "churned_at": "2026-02-01", "kind": "downgrade", "churned_mrr": 5},
        ]
    )
    after = dashboard_data(replace(report, churn=churn))["alerts"]
    assert all(row[9] == 0 for row in after if row[0] == valued[0])
    assert [row[9] for row in after if row[0] == valued[1]] == [row[9] for row in before if row[0] == valued[1]]
    assert [row for row in after if row[0] not in valued[:1]] == [row for row in before if row[0] not in valued[:1]]
