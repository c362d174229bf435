"""The demo world's churn acts on its usage: a cancelled account stops using the product, a downgrade uses it less."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from syncer.demo.history import ACTIVITY, churn_usage, record_churn
from syncer.scoring import ScoringConfig, build_world

AS_OF = dt.date(2026, 6, 30)


def _usage(engine: sa.Engine) -> dict[tuple[str, dt.date], tuple[int, ...]]:
    columns = ", ".join(ACTIVITY)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT account_id, day, {columns} FROM usage_daily"))
        return {(str(r[0]), r[1]): tuple(int(v) for v in r[2:]) for r in rows}


def test_no_usage_after_a_cancel_and_less_after_a_downgrade() -> None:
    engine = sa.create_engine("duckdb:///:memory:")
    build_world(engine, accounts=80, days=120, seed=5, as_of=AS_OF)  # default mix: 12 % declining accounts
    before = _usage(engine)
    start = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    events = record_churn(engine, ScoringConfig(), start, start + dt.timedelta(days=365), seed=5)
    after = _usage(engine)
    inside = [e for e in events if e["churned_at"].date() < AS_OF]  # events after the last usage day change nothing
    kinds = {e["kind"] for e in inside}
    assert kinds == {"cancel", "downgrade"}, events  # the seed draws both inside the usage span
    churned = {e["account_id"]: e for e in inside}
    for (account, day), counts in after.items():
        event = churned.get(account)
        if event is None or day <= event["churned_at"].date():
            assert counts == before[(account, day)], (account, day)  # untouched before the event, or never churned
        elif event["kind"] == "cancel":
            assert not any(counts), (account, day, counts)  # a cancelled account uses nothing
        else:
            assert sum(counts) < sum(before[(account, day)]) or not any(before[(account, day)]), (account, day)
            assert all(a <= b for a, b in zip(counts, before[(account, day)], strict=True))


def test_a_downgrade_then_a_cancel_apply_in_turn() -> None:
    engine = sa.create_engine("duckdb:///:memory:")
    build_world(engine, accounts=3, days=40, seed=2, as_of=AS_OF)
    before = _usage(engine)
    down, cancel = dt.datetime(2026, 6, 5, 15), dt.datetime(2026, 6, 20, 9)
    events = [
        {"account_id": "acc_000002", "churned_at": cancel, "kind": "cancel", "churned_mrr": 50.0},
        {"account_id": "acc_000002", "churned_at": down, "kind": "downgrade", "churned_mrr": 50.0},
    ]
    churn_usage(engine, ScoringConfig(), events, {"acc_000002": 100.0})  # the downgrade halves, the cancel stops
    for (account, day), counts in _usage(engine).items():
        old = before[(account, day)]
        if account != "acc_000002" or day <= down.date():
            assert counts == old
        elif day <= cancel.date():
            assert counts == tuple(int(v * 0.5 + 0.5) for v in old), (day, counts, old)  # SQL rounds half up
        else:
            assert not any(counts), (day, counts)
