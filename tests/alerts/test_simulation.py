"""30 days on a patched clock, hourly evaluations, scores flapping around thresholds; and 3,000 accounts via Source."""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
import time
from pathlib import Path

import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts.store import outbox
from syncer.config import ModelConfig, WarehouseConfig
from syncer.source import Source
from tests.alerts.support import ESCALATE, T0, Clock, account, all_keys, complete_task, engine, row, sqlite_url

HIGH, MEDIUM = "seat_limit_approaching", "storage_limit_approaching"
ACCOUNTS, HOURS = 24, 30 * 24
STEP = 2  # evaluation cadence in hours
COOLDOWN, WORKED, QUIET, MARGIN, WORK_AFTER, SLA = 7 * 24, 10 * 24, 2, 0.05, 12, 24


def value(i: int, trigger: str, h: int) -> float:
    """Slow waves crossing the threshold every few days, with noise that flaps around it."""
    rng = random.Random(i * 1_000_003 + h * 7 + (trigger == MEDIUM))
    threshold = 0.8 if trigger == HIGH else 0.75
    period = 48 + (i * 37) % 200
    return threshold + 0.06 * math.sin(2 * math.pi * h / period + i) + rng.uniform(-0.02, 0.02)


def rows_at(h: int) -> list[dict[str, object]]:
    out = []
    for i in range(ACCOUNTS):
        out.append(row(i, HIGH, round(value(i, HIGH, h), 4)))  # the model emits values below threshold too
        v = value(i, MEDIUM, h)
        if v >= 0.75:  # this model emits fired rows only: clearing relies on quiet evaluations
            out.append(row(i, MEDIUM, round(v, 4)))
    return out


def expected() -> dict[str, object]:
    """The same rules, computed independently of the engine: crossings allowed by cooldown and hysteresis."""
    opened: dict[str, list[tuple[int, int]]] = {HIGH: [], MEDIUM: []}
    for trigger in (HIGH, MEDIUM):
        threshold = 0.8 if trigger == HIGH else 0.75
        for i in range(ACCOUNTS):
            is_open, quiet, last, worked = False, 0, None, None
            for h in range(0, HOURS, STEP):
                v = round(value(i, trigger, h), 4)
                present = trigger == HIGH or value(i, trigger, h) >= threshold
                if last is not None and trigger == HIGH and worked is None and i % 2 == 0 and h >= last + WORK_AFTER:
                    worked = h  # the test completes even accounts' tasks 12 h after they were created
                if is_open:
                    if present and v >= threshold:
                        quiet = 0
                    elif present and v < threshold * (1 - MARGIN):
                        is_open = False
                    elif present:
                        quiet = 0
                    else:
                        quiet += 1
                        if quiet >= QUIET:
                            is_open, quiet = False, 0
                elif present and v >= threshold:
                    if last is not None and h < last + COOLDOWN:
                        continue
                    if last is not None and trigger == HIGH and worked is None:
                        continue  # its task is still open
                    if worked is not None and h < worked + WORKED:
                        continue
                    is_open, quiet, last, worked = True, 0, h, None
                    opened[trigger].append((i, h))
    escalations = sum(1 for i, h in opened[HIGH] if i % 2 == 1 and h + SLA < HOURS)
    return {"opened": opened, "escalations": escalations}


def test_thirty_days_of_flapping_scores(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, crm: HubSpotEmulator
) -> None:
    eng = engine(
        sqlite_url(tmp_path),
        slack.api_url,
        slack.token,
        fake,
        crm.base_url,
        alerts={
            "cooldown_days": COOLDOWN / 24,
            "worked_cooldown_days": WORKED / 24,
            "clear_after_quiet": QUIET,
            "hysteresis_margin": MARGIN,
            "sla_hours": SLA,
        },
    )
    want = expected()
    opened_at: dict[str, dt.datetime] = {}
    walls: list[float] = []
    digests = escalated = 0
    for h in range(0, HOURS, STEP):
        now = T0 + dt.timedelta(hours=h)
        fake.now += 3600 * STEP
        for key, at in opened_at.items():  # reps work even accounts' tasks after 12 h
            if int(key.split(":")[0].split("-")[1]) % 2 == 0 and now - at >= dt.timedelta(hours=WORK_AFTER):
                complete_task(crm, key, now, eng.engine)
        report = eng.evaluate_and_deliver(now, rows=rows_at(h))
        walls.append(report.seconds)
        for key in report.evaluation.opened_keys:
            if key.split(":")[1] == HIGH:
                opened_at[key] = now
        escalated += len(eng.escalate(now).escalated)
        digests += eng.send_due_digests(now)["messages"]
    keys = all_keys(slack)
    pings = [k for k in keys if not k.startswith(("digest:", "escalation:"))]
    with eng.engine.connect() as conn:
        sent = conn.execute(sa.select(outbox.c.kind, outbox.c.key, outbox.c.created_at, outbox.c.delivered_at)).all()
    latencies = [(d - c).total_seconds() for kind, _, c, d in sent if kind == "ping" and d is not None]
    opened = want["opened"]
    assert isinstance(opened, dict)
    print(f"\n30-day simulation: {ACCOUNTS} accounts x 2 triggers, {HOURS // STEP} evaluations every {STEP} h")
    print(f"  {HIGH}: pings={len(pings)} expected={len(opened[HIGH])} tasks={len(crm.store.live('tasks'))}")
    medium = sum(1 for kind, key, *_ in sent if kind == "digest")
    print(f"  {MEDIUM}: digest entries expected={len(opened[MEDIUM])}, digest messages={digests} (parts {medium})")
    print(f"  escalations={escalated} expected={want['escalations']} messages={len(slack.messages(ESCALATE))}")
    print(
        f"  event->ping on the patched clock: max {max(latencies, default=0):.0f} s after the evaluation that saw "
        f"the row (row->evaluation <= the cadence, {STEP * 3600} s); real evaluate_and_deliver median "
        f"{statistics.median(walls) * 1000:.1f} ms, max {max(walls) * 1000:.1f} ms"
    )
    assert len(pings) == len(set(pings)) == len(opened[HIGH]) > ACCOUNTS  # 0 repeats, re-fires happened
    assert len(crm.store.live("tasks")) == len(opened[HIGH])
    with eng.engine.connect() as conn:
        mediums = conn.scalar(sa.text("SELECT COUNT(*) FROM alerts WHERE trigger = :t"), {"t": MEDIUM})
    assert mediums == len(opened[MEDIUM])
    assert escalated == want["escalations"] == len(slack.messages(ESCALATE)) > 0
    assert len(keys) == len(set(keys))
    assert max(latencies) == 0.0


def test_3000_accounts_through_source(tmp_path: Path, slack: SlackEmulator, fake: Clock, crm: HubSpotEmulator) -> None:
    warehouse = sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    data = [row(i, HIGH if i % 20 == 0 else MEDIUM, 0.9) for i in range(3000)]
    with warehouse.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE fired_triggers (account_id TEXT, account_name TEXT, trigger TEXT, "
                "priority TEXT, value REAL, threshold REAL, owner_email TEXT, segment TEXT, tier TEXT)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO fired_triggers VALUES (:account_id, :account_name, :trigger, :priority, "
                ":value, :threshold, :owner_email, :segment, :tier)"
            ),
            data,
        )
    source = Source(WarehouseConfig(url=str(warehouse.url)), tmp_path)
    model = ModelConfig(table="fired_triggers", primary_key=["account_id", "trigger"])
    eng = engine(sqlite_url(tmp_path), slack.api_url, slack.token, fake, None)
    eng.rows = lambda: source.stream(model)
    started = time.perf_counter()
    report = eng.evaluate_and_deliver(T0)
    wall = time.perf_counter() - started
    print(f"\n3,000 accounts: one evaluate_and_deliver {wall:.2f} s wall, {report.as_dict()}")
    assert report.evaluation.opened == 3000 and report.pings.sent == {"ping": 150}
    again = eng.evaluate_and_deliver(T0 + dt.timedelta(hours=1))
    assert again.evaluation.still_firing == 3000 and again.pings.sent == {}
    assert account(0) in {a["account_id"] for a in eng.open_alerts(T0)}
