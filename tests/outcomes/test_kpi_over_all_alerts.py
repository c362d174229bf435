"""The KPI verdicts count every alert they speak for (F2): `Kpis.met()["time_to_action"]` said "met" while 678
of 679 high alerts were never worked, because its median ran over the one worked alert. Now: every due high
alert with a CRM task, one never worked (or whose task the CRM rejected) counting as never; too few due is
"not measurable yet" (None), never "met"; the same rule for `alerts sla`'s hours (`summarize`)."""

from __future__ import annotations

import datetime as dt

import pytest

from syncer.alerts.sla import summarize
from syncer.outcomes.effectiveness import kpis, trigger_stats
from syncer.outcomes.tracking import AlertRecord, track

T0 = dt.datetime(2026, 7, 1, 9, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(days=30)  # every alert below is past its 24 h SLA unless opened "young"
SLA = {"high": 24.0, "medium": 48.0, "low": 168.0}


def _alerts(worked_hours: list[float | None], task: str = "open", young: int = 0) -> list[AlertRecord]:
    """High alerts with a CRM task, one per entry: worked after that many hours, or never (None); `young` more
    opened an hour before NOW (not yet due, not worked)."""
    out = []
    for i, hours in enumerate(worked_hours):
        opened = T0 + dt.timedelta(minutes=i)
        worked = None if hours is None else opened + dt.timedelta(hours=hours)
        state = "completed" if worked is not None else task
        out.append(AlertRecord(i, f"acc_{i}:seats:w", f"acc_{i}", "seats", "high", "ping", None, opened, state, worked))
    for j in range(young):
        i = len(worked_hours) + j
        opened = NOW - dt.timedelta(hours=1)
        out.append(AlertRecord(i, f"acc_{i}:seats:w", f"acc_{i}", "seats", "high", "ping", None, opened, "open", None))
    return out


def _kpis(records: list[AlertRecord]):  # type: ignore[no-untyped-def]
    outcomes, unattributed = track(records, [], NOW, 90.0, SLA)
    return kpis(
        outcomes, unattributed, 1000, NOW,
        target_conversion=0.25, target_accuracy=0.75, target_action_hours=24.0, target_revenue=500_000.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("records", "verdict", "median", "due"),
    [
        pytest.param(_alerts([2.0] * 25), True, 2.0, 25, id="all worked in time"),
        pytest.param(_alerts([2.0] * 25, young=30), True, 2.0, 25, id="all due worked in time, young ones aside"),
        pytest.param(_alerts([None] * 25), False, None, 25, id="none worked"),
        pytest.param(_alerts([2.0] * 20 + [None] * 20), False, None, 40, id="half breached"),
        pytest.param(_alerts([2.0] * 21 + [None] * 20), True, 2.0, 41, id="most worked in time"),
        pytest.param(_alerts([1.3] + [None] * 678), False, None, 679, id="the demo's book: 1 of 679 worked"),
        pytest.param(_alerts([None] * 25, task="rejected"), False, None, 25, id="every task rejected"),
        pytest.param(_alerts([30.0] * 25), False, 30.0, 25, id="all worked late"),
        pytest.param(_alerts([2.0] * 5), None, 2.0, 5, id="too few due"),
        pytest.param(_alerts([2.0] * 5, young=30), None, 2.0, 5, id="too few due, many not yet due"),
    ],
)
def test_time_to_action_counts_every_due_high_alert(
    records: list[AlertRecord], verdict: bool | None, median: float | None, due: int
) -> None:
    k = _kpis(records)
    assert (k.met()["time_to_action"], k.high_median_hours_to_action, k.high_due) == (verdict, median, due)
    assert k.as_dict()["met"]["time_to_action"] is verdict  # what `report --json` and the dashboard read


def test_trigger_accuracy_needs_enough_matured_alerts() -> None:
    """Every matured alert relevant: 5 is too few for a verdict (it said "met"), 25 is enough."""
    seen = {}
    for matured in (5, 25):
        later = T0 + dt.timedelta(days=200)
        outcomes, unattributed = track(_alerts([2.0] * matured), [], later, 90.0, SLA)
        for o in outcomes:
            o.relevant = True
        k = kpis(
            outcomes, unattributed, 1000, later,
            target_conversion=0.25, target_accuracy=0.75, target_action_hours=24.0, target_revenue=500_000.0,
        )  # fmt: skip
        seen[k.matured_alerts] = k.met()["trigger_accuracy"]
    assert seen == {5: None, 25: True}


def test_the_per_trigger_median_counts_the_unworked_alerts_too() -> None:
    outcomes, _ = track(_alerts([1.0, 2.0] + [None] * 3), [], NOW, 90.0, SLA)
    [row] = trigger_stats(outcomes, {})
    assert (row.sla_due, row.worked_within_sla, row.median_hours_to_action) == (5, 2, None)  # the median is never


SUMMARIES = [  # (state, hours) per alert -> (p50, p90, max); None: never (or nothing due)
    ([("met", 1.0), ("met", 3.0), ("missed", 30.0)], (3.0, 24.6, 30.0)),  # all acted on
    ([("met", 1.0), ("breached", None), ("breached", None)], (None, None, None)),  # most never
    ([("met", 1.0), ("met", 2.0), ("failed", None)], (2.0, None, None)),  # one failed
    ([("met", 1.0), ("pending", None), ("pending", None)], (1.0, 1.0, 1.0)),  # pending counts neither way
    ([("pending", None)], (None, None, None)),  # nothing due
]


def test_sla_hours_rank_a_never_acted_alert_last() -> None:
    """One table (rows that read the same on the old rule are its controls)."""
    got = [tuple(summarize(items)[k] for k in ("p50_hours", "p90_hours", "max_hours")) for items, _ in SUMMARIES]
    assert got == [expected for _, expected in SUMMARIES]
