"""Property: every diff mode plans exactly what the row-at-a-time diff plans.

Random models (key kinds, column types, NULLs, duplicated and NULL keys, values that fail to map)
and random change sets go through the row path, the columnar path (runs, and plans, whose key
checks run in the stream) and (DuckDB, integer or text keys) the warehouse path, each with its
own state store and snapshot, over several acknowledged rounds (some records rejected by the
destination, some runs `full`; the columnar sidecar and its stream-order list left current, deleted,
stale, corrupt or truncated, some runs killed before writing them; the model's rows kept in their order,
reversed, rotated or shuffled between rounds); the plans must agree on counts, on every change
(kind, key, payload fingerprint, match value, fields, state before) and on the rejected rows.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from syncer.columnar import stream_order
from syncer.columnar.sidecar import path_for
from tests.diffmodes.harness import open_job, plan, run, write_project

os.environ.setdefault("HOOK_SECRET", "whsec-test-property")

COLUMNS = {
    "c_int": ("BIGINT", st.integers(-(2**40), 2**40)),
    "c_float": ("DOUBLE", st.floats(allow_nan=False, allow_infinity=False, width=64)),
    "c_text": ("VARCHAR", st.text(alphabet="ab1-|:\x1f é", max_size=6)),
    "c_bool": ("BOOLEAN", st.booleans()),
    "c_date": ("DATE", st.dates(dt.date(1990, 1, 1), dt.date(2040, 1, 1))),
    "c_ts": (
        "TIMESTAMP",
        st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2040, 1, 1)).map(lambda d: d.replace(microsecond=0)),
    ),
    "c_dec": ("DECIMAL(10,2)", st.decimals(-(10**6), 10**6, places=2).map(lambda d: Decimal(d))),
}
FIELDS = {
    "f_int": '"c_int"',
    "f_float": '{ column = "c_float", round = 1 }',
    "f_text": '{ column = "c_text", case = "upper" }',
    "f_bool": '{ column = "c_bool", cast = "str" }',
    "f_date": '{ column = "c_date", format = "%Y/%m/%d" }',
    "f_ts": '{ column = "c_ts", tz = "Europe/Berlin" }',
    "f_dec": '"c_dec"',
    "f_tpl": '{ template = "{c_text}-{c_int}" }',
    "f_const": '{ const = "x" }',
    "f_bad": '{ column = "c_text", cast = "int" }',  # text that is not a number: the row is rejected
}
KEYS = {"int": ["k_int"], "text": ["k_text"], "float": ["k_float"], "composite": ["k_int", "k_text"]}
KEY_TYPES = {"k_int": "BIGINT", "k_text": "VARCHAR", "k_float": "DOUBLE"}
KEY_VALUES = {
    "k_int": st.one_of(st.none(), st.integers(-3, 12)),
    "k_text": st.one_of(st.none(), st.sampled_from(["a", "B", "a b", "é", "0", "10", "x\x1fy"])),
    "k_float": st.one_of(st.none(), st.sampled_from([0.5, 1.0, 2.25, -3.0, 1e20])),
}


def rows_strategy() -> st.SearchStrategy[list[dict[str, Any]]]:
    value_columns = {c: st.one_of(st.none(), s) for c, (_, s) in COLUMNS.items()}
    row = st.fixed_dictionaries(
        {**KEY_VALUES, "match": st.one_of(st.none(), st.sampled_from(["m1", "m2", "m3"])), **value_columns}
    )
    return st.lists(row, max_size=25)


def mutate(rows: list[dict[str, Any]], data: st.DataObject) -> list[dict[str, Any]]:
    rows = [dict(r) for r in rows]
    for _ in range(data.draw(st.integers(0, 6))):
        op = data.draw(st.sampled_from(["update", "delete", "insert", "duplicate"]))
        if op == "insert" or not rows:
            rows.append(data.draw(rows_strategy().filter(bool))[0])
        elif op == "delete":
            rows.pop(data.draw(st.integers(0, len(rows) - 1)))
        elif op == "duplicate":
            rows.append(dict(rows[data.draw(st.integers(0, len(rows) - 1))]))
        else:
            i = data.draw(st.integers(0, len(rows) - 1))
            column = data.draw(st.sampled_from([*COLUMNS, "match", *KEY_VALUES]))
            if column in KEY_VALUES:
                strategy = KEY_VALUES[column]
            elif column == "match":
                strategy = st.sampled_from(["m1", "m2", "m4"])
            else:
                strategy = COLUMNS[column][1]
            rows[i][column] = data.draw(st.one_of(st.none(), strategy))
    return rows


def load(url: str, rows: list[dict[str, Any]]) -> None:
    engine = sa.create_engine(url)
    columns = {**KEY_TYPES, "match": "VARCHAR", **{c: t for c, (t, _) in COLUMNS.items()}}
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS model"))
        conn.execute(sa.text(f"CREATE TABLE model ({', '.join(f'{c} {t}' for c, t in columns.items())})"))
        if rows and url.startswith("sqlite"):  # sqlite3 binds no Decimal: NUMERIC affinity stores the text as a number
            rows = [{k: str(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in rows]
        if rows:
            names = ", ".join(f":{c}" for c in columns)
            conn.execute(sa.text(f"INSERT INTO model ({', '.join(columns)}) VALUES ({names})"), rows)
    engine.dispose()


SIDECAR_DAMAGE = {"current", "missing", "stale", "corrupt", "truncated"}


def damage(path: Path, history: list[bytes], how: str) -> None:
    """Leave the columnar sidecar as a crash, an old backup or a bad disk could (see SIDECAR_DAMAGE)."""
    if how == "current" or not path.exists():
        return
    if how == "missing":
        path.unlink()
    elif how == "stale" and history:
        path.write_bytes(history[0])
    elif how == "corrupt":
        path.write_bytes(b"\xff" * 64 + path.read_bytes()[64:])
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


ORDERS = {
    "kept": lambda rows, seed: rows,
    "reversed": lambda rows, seed: rows[::-1],
    "rotated": lambda rows, seed: rows[seed % len(rows) :] + rows[: seed % len(rows)] if rows else rows,
    "shuffled": lambda rows, seed: random.Random(seed).sample(rows, len(rows)),
}


def mapping(key: str, fields: list[str], null_policy: str, mode: str) -> str:
    pk = ", ".join(f'"{c}"' for c in KEYS[key])
    body = "\n".join(f"{f} = {FIELDS[f]}" for f in fields)
    return (
        f'connector = "hook"\nobject = "things"\nmode = "{mode}"\nnull_policy = "{null_policy}"\n\n'
        f'[model]\ntable = "model"\nprimary_key = [{pk}]\n\n'
        f'[match]\nfield = "ext"\ncolumn = "match"\n\n[fields]\n{body}\n'
    )


@settings(
    max_examples=int(os.environ.get("SYNCER_PROPERTY_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if os.environ.get("SYNCER_SHRINK") else [])],
)
@given(
    warehouse=st.sampled_from(["duckdb", "sqlite"]),
    key=st.sampled_from(sorted(KEYS)),
    fields=st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=5, unique=True),
    null_policy=st.sampled_from(["send", "skip"]),
    sync_mode=st.sampled_from(["upsert", "mirror", "insert"]),
    rows=rows_strategy(),
    data=st.data(),
)
def test_every_mode_plans_what_rows_plans(
    warehouse: str,
    key: str,
    fields: list[str],
    null_policy: str,
    sync_mode: str,
    rows: list[dict[str, Any]],
    data: st.DataObject,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = f"{warehouse}:///{root / ('w.duckdb' if warehouse == 'duckdb' else 'w.sqlite')}"
        load(url, rows)
        text = mapping(key, fields, null_policy, sync_mode)
        modes = ["rows", "columnar"] + (["warehouse"] if warehouse == "duckdb" and key != "float" else [])
        jobs = {mode: open_job(write_project(root / mode, url, text, mode)) for mode in modes}
        sidecar = path_for(jobs["columnar"].config.data_dir(), "m")
        listed = stream_order.path_for(sidecar)
        history: list[bytes] = []  # the columnar sidecar after each round: older ones are stale
        lists: list[bytes] = []  # and its stream-order list
        models: list[list[dict[str, Any]]] = []
        try:
            for round_ in range(3):
                full = round_ > 0 and data.draw(st.booleans(), label="full")
                reject = set(data.draw(st.lists(st.sampled_from(["1", "a", "2.25", "3\x1fa", "0"]), max_size=2)))
                damage(sidecar, history, data.draw(st.sampled_from(sorted(SIDECAR_DAMAGE)), label="sidecar"))
                damage(listed, lists, data.draw(st.sampled_from(sorted(SIDECAR_DAMAGE)), label="stream order"))
                crash = data.draw(st.booleans(), label="crash before the sidecar write")
                # a columnar plan checks keys in its stream (the aggregates only after a repeat)
                planned = {mode: plan(jobs[mode], full)[1] for mode in ("rows", "columnar")}
                assert planned["columnar"] == planned["rows"], f"columnar plan, round {round_}"
                plans = {mode: run(job, reject, full, crash and mode == "columnar") for mode, job in jobs.items()}
                if sidecar.exists():
                    history.append(sidecar.read_bytes())
                if listed.exists():
                    lists.append(listed.read_bytes())
                for mode in modes[1:]:
                    assert plans[mode] == plans["rows"], f"{mode}, round {round_}"
                models.append(rows)
                # sometimes the model goes back to an earlier version: what a stale sidecar would call unchanged
                rows = data.draw(st.sampled_from([*models[:-1], None]), label="revert to") or mutate(rows, data)
                how = data.draw(st.sampled_from(sorted(ORDERS)), label="model order")
                rows = ORDERS[how](rows, data.draw(st.integers(0, 50), label="seed"))
                load(url, rows)
        finally:
            for job in jobs.values():
                job.close()
                job.state.close()


def _bumped_rows(rows: list[tuple[int | None, str, int, dt.datetime | None]]) -> list[dict[str, Any]]:
    return [{"id": i, "email": e, "score": s, "updated_at": u} for i, e, s, u in rows]


@settings(
    max_examples=int(os.environ.get("SYNCER_PROPERTY_EXAMPLES", "30")) // 3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if os.environ.get("SYNCER_SHRINK") else [])],
)
@given(size=st.integers(0, 12), sync_mode=st.sampled_from(["upsert", "mirror"]), data=st.data())
def test_the_updated_at_window_plans_what_rows_plans(size: int, sync_mode: str, data: st.DataObject) -> None:
    """Random change sets that bump `updated_at` (as its contract asks; some to NULL): warehouse mode
    from the watermark plans what the row path plans, round after round (the window where it can
    stand for the whole diff, else the full statement: the counts decide)."""
    base = dt.datetime(2026, 1, 1)
    rows = [(i, f"u{i}@x.io", i, base) for i in range(size)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = f"duckdb:///{root / 'w.duckdb'}"
        text = (
            f'connector = "hook"\nobject = "things"\nmode = "{sync_mode}"\n\n'
            '[model]\ntable = "model"\nprimary_key = "id"\nupdated_at = "updated_at"\n\n'
            '[match]\nfield = "ext"\ncolumn = "email"\n\n[fields]\nscore = "score"\n'
        )
        engine = sa.create_engine(url)

        def load_model() -> None:
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "CREATE OR REPLACE TABLE model (id BIGINT, email VARCHAR, score BIGINT, updated_at TIMESTAMP)"
                    )
                )
                if rows:
                    conn.execute(
                        sa.text("INSERT INTO model VALUES (:id, :email, :score, :updated_at)"), _bumped_rows(rows)
                    )

        load_model()
        jobs = {mode: open_job(write_project(root / mode, url, text, mode)) for mode in ("rows", "warehouse")}
        try:
            for round_ in range(4):
                plans = {mode: run(job, set()) for mode, job in jobs.items()}
                assert plans["warehouse"] == plans["rows"], f"round {round_}"
                now = base + dt.timedelta(days=round_ + 1)  # beyond the lookback
                bump = st.one_of(st.just(now), st.none())
                for _ in range(data.draw(st.integers(0, 4))):
                    op = data.draw(st.sampled_from(["update", "update", "insert", "delete", "duplicate", "rekey"]))
                    i = data.draw(st.integers(0, len(rows) - 1)) if rows else -1
                    if op == "insert" or i < 0:
                        key = data.draw(st.integers(0, 30))
                        rows.append((key, f"n{key}@x.io", data.draw(st.integers(0, 9)), data.draw(bump)))
                    elif op == "delete":
                        rows.pop(i)
                    elif op == "duplicate":
                        rows.append((rows[i][0], rows[i][1], data.draw(st.integers(0, 9)), data.draw(bump)))
                    elif op == "rekey":
                        rows[i] = (data.draw(st.integers(31, 60)), rows[i][1], rows[i][2], data.draw(bump))
                    else:
                        rows[i] = (rows[i][0], rows[i][1], data.draw(st.integers(0, 9)), data.draw(bump))
                load_model()
        finally:
            engine.dispose()
            for job in jobs.values():
                job.close()
                job.state.close()
