"""One set of numbers: the SLA, KPI verdicts and alert totals agree across `alerts sla`, `report --json` and
the dashboard's JSON, on the same state (the session's simulated world), and the one SLA rule's table."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa

from syncer.alerts.sla import sla_state, summarize, worked_report
from syncer.alerts.store import alerts as alerts_table
from syncer.outcomes.command import run_report
from syncer.outcomes.dashboard_data import dashboard_data
from syncer.outcomes.report import Report
from tests.outcomes.support import World

T0 = dt.datetime(2026, 7, 1, 9, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("done", "failed", "now", "state"),
    [
        (T0 + 3 * H, False, T0 + 100 * H, "met"),
        (T0 + 24 * H, False, T0 + 100 * H, "met"),  # on the hour of the SLA still counts
        (T0 + 25 * H, False, T0 + 100 * H, "missed"),
        (None, False, T0 + 5 * H, "pending"),  # not due: counts neither way
        (None, False, T0 + 25 * H, "breached"),
        (None, True, T0 + 5 * H, "failed"),
    ],
)
def test_sla_state_table(done: dt.datetime | None, failed: bool, now: dt.datetime, state: str) -> None:
    assert sla_state(T0, done, 24.0, now, failed=failed) == state


def test_summary_adds_up_and_leaves_pending_out_of_the_share() -> None:
    s = summarize([("met", 1.0), ("met", 3.0), ("missed", 30.0), ("breached", None), ("pending", None), (None, 9.0)])
    assert (s["alerts"], s["met"], s["missed"], s["breached"], s["pending"], s["due"]) == (5, 2, 1, 1, 1, 4)
    assert sum(s[k] for k in ("met", "missed", "failed", "breached", "pending")) == s["alerts"]
    # hours over the 4 due alerts, the breached one ranking as never: [1, 3, 30, never]
    assert s["share"] == 0.5 and s["p50_hours"] == 16.5 and s["p90_hours"] is None and s["max_hours"] is None


@pytest.fixture(scope="module")
def views(world: World, report: Report) -> dict[str, dict]:
    """The three views of the same state at the same instant."""
    lines: list[str] = []
    assert run_report(world.config, world.state, as_json=True, now=world.sim.report_at, echo=lines.append) == 0
    sla_hours = report.settings.outcomes.sla_hours
    return {
        "alerts sla --json": {"sla": worked_report(world.state.engine, world.sim.report_at, sla_hours)},
        "report --json": json.loads(lines[0]),
        "dashboard": json.loads(json.dumps(dashboard_data(report), default=str)),
    }


@pytest.mark.parametrize("view", ["alerts sla --json", "report --json", "dashboard"])
def test_worked_sla_is_the_same_in_every_view(views: dict[str, dict], view: str) -> None:
    reference = views["report --json"]["sla"]
    assert reference["high"]["alerts"] > 0, reference
    assert views[view]["sla"] == reference
    for row in reference.values():
        assert sum(row[k] for k in ("met", "missed", "failed", "breached", "pending")) == row["alerts"]


@pytest.mark.parametrize("view", ["report --json", "dashboard"])
def test_kpi_verdicts_and_figures_are_the_report_ones(views: dict[str, dict], view: str) -> None:
    kpis, high = views[view]["kpis"], views["report --json"]["sla"]["high"]
    assert kpis["met"] == views["report --json"]["kpis"]["met"]
    assert kpis["high_median_hours_to_action"] == high["p50_hours"]
    assert kpis["high_worked_within_target"] == high["share"]
    median = high["p50_hours"]  # None with alerts due: more than half of them never worked
    expected = None if high["due"] < 20 else median is not None and median < kpis["target_action_hours"]
    assert kpis["met"]["time_to_action"] == expected
    assert kpis["met"]["revenue"] == (kpis["revenue_quarter_to_date"] >= kpis["revenue_due_to_date"])


def test_trigger_table_adds_up_to_the_sla_block(views: dict[str, dict]) -> None:
    data = views["report --json"]
    by_priority: dict[str, list[int]] = {}
    for t in data["triggers"]:
        acc = by_priority.setdefault(t["priority"], [0, 0, 0])
        acc[0] += t["with_task"]
        acc[1] += t["worked_within_sla"]
        acc[2] += t["sla_pending"]
    for priority, row in data["sla"].items():
        assert by_priority[priority] == [row["alerts"], row["met"], row["pending"]], priority


def test_alert_totals_reconcile_with_state(world: World, views: dict[str, dict]) -> None:
    with world.state.engine.connect() as conn:
        opened = conn.execute(sa.select(sa.func.count()).select_from(alerts_table)).scalar_one()
        held = conn.execute(
            sa.select(sa.func.count()).select_from(alerts_table).where(alerts_table.c.delivery == "holdout")
        ).scalar_one()
    counts = {"opened": opened, "sent": opened - held, "held_out": held}
    assert views["report --json"]["alert_counts"] == counts == views["dashboard"]["counts"]
    assert views["report --json"]["alerts"] == counts["sent"] == len(views["dashboard"]["alerts"])


def test_the_dashboard_shows_trigger_values_as_every_message_does(report: Report) -> None:
    """The page's value and threshold texts are syncer.trigger_values.value_words (Slack's 33%, not 0.333);
    the raw numbers stay in the JSON beside them."""
    from syncer.trigger_values import value_words

    data = dashboard_data(report)
    rows = [(o, a) for o, a in zip(report.outcomes, data["alerts"], strict=True) if o.alert.value is not None]
    assert rows
    for o, a in rows:
        assert a[12] == value_words(o.alert.value, o.alert.trigger) and a[8] == round(o.alert.value, 3), a
    for name, d in data["trigger_defs"].items():
        assert d["threshold_text"] == value_words(d["threshold"], name), d
        assert not re.fullmatch(r"0\.\d+", d["threshold_text"]), d
    assert not any(re.fullmatch(r"0\.\d+", a[12]) for _, a in rows)
