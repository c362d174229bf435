"""How close `plan` comes to a bare fetch of the same rows, and whether its memory stays flat.

    /work/venv/bin/python benchmarks/bench_plan.py                      # 100k and 1M rows, 1% changed
    /work/venv/bin/python benchmarks/bench_plan.py --sizes 20000 --repeat 1 --no-profile   # quick look
    /work/venv/bin/python benchmarks/bench_plan.py --dir /tmp/bench-plan  # keep (and reuse) the data

For each size N: a DuckDB warehouse with N accounts; SQLite state built in bulk from the same
Mapper.fingerprint the engine uses (so it is exactly what a full `run` would have left); one real
no-change `SyncJob.run` against an in-process WebhookReceiver (must make 0 write calls); then 1% of
the rows change and these are measured, each in a fresh subprocess (so peak RSS is per measurement):

  fetch      the model's SELECT streamed exactly as Source.stream issues it (same SQLAlchemy URL,
             stream_results + yield_per execution options, result.partitions()), rows discarded
  fetch/yp   the same, but with the partition size passed to partitions() so yield_per really applies
             (SQLAlchemy 2.0 ignores the yield_per execution option for text() statements)
  plan       SyncJob.plan() (columns probe + key checks + stream + map + fingerprint + state lookups
             + removed detection), after `SyncJob` and the state store are opened
  idle       imports only: the floor every process pays

Wall time is the best of --repeat runs; "cpu ratio" is plan/fetch in process CPU seconds (steadier
than wall time on a busy machine); peak RSS is VmHWM (ru_maxrss as fallback), worst of the runs.
Targets (issue 3): plan/fetch <= 1.3, plan peak RSS <= 300 MB and flat from 100k to 1M.
Finally `plan` at the largest size runs under cProfile and the top 15 functions by cumtime print.

PYTHONPATH=/some/checkout/src benchmarks/bench_plan.py measures another checkout of the engine
(the path of the syncer package in use is printed first).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

SECRET = "bench-secret"
CHANGED_EVERY = 100  # 1% of rows change
MAPPING = """
connector = "hook"
object = "accounts"

[model]
table = "accounts"
primary_key = "account_id"

[match]
field = "domain"
column = "domain"

[fields]
name = "name"
pql_score = { column = "pql_score", round = 0 }
tier = { column = "tier", case = "upper" }
"""


# -- the project on disk ---------------------------------------------------------------------------


def write_project(root: Path, rows: int) -> Path:
    """A DuckDB warehouse with `rows` accounts, config.toml and one mapping. Returns config.toml."""
    import sqlalchemy as sa

    root.mkdir(parents=True, exist_ok=True)
    warehouse = root / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    engine = sa.create_engine(f"duckdb:///{warehouse}")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE accounts AS SELECT i AS account_id, 'Account ' || i AS name, "
                "'acct' || i || '.example.com' AS domain, CAST((i * 7) % 101 AS DOUBLE) AS pql_score, "
                "CASE i % 3 WHEN 0 THEN 'monitor' WHEN 1 THEN 'nurture' ELSE 'escalate' END AS tier "
                f"FROM range(1, {rows + 1}) AS r(i)"
            )
        )
    engine.dispose()
    (root / "mappings").mkdir(exist_ok=True)
    (root / "mappings" / "accounts.toml").write_text(MAPPING)
    shutil.rmtree(root / "data", ignore_errors=True)
    config = root / "config.toml"
    config.write_text(
        textwrap.dedent(f"""
        [syncer]
        data_dir = "data"
        log_format = "text"
        log_level = "warning"

        [warehouse]
        url = "duckdb:///{warehouse}"

        [connectors.hook]
        type = "webhook"
        url = "${{BENCH_HOOK_URL}}"
        signing_secret = "${{HOOK_SECRET}}"
        batch_size = 500
    """)
    )
    return config


def open_job(config: Path) -> Any:
    from syncer.config import load_config
    from syncer.runner import Runtime, SyncJob
    from syncer.state import StateStore

    os.environ.setdefault("BENCH_HOOK_URL", "http://127.0.0.1:9/hooks")
    os.environ["HOOK_SECRET"] = SECRET
    cfg = load_config(config)
    return SyncJob(cfg, "accounts", StateStore(cfg.state_url()), Runtime())


def build_state(config: Path) -> int:
    """Fill state as a full run would: the engine's own key, match value, fields, fingerprints."""
    import sqlalchemy as sa

    from syncer.source import row_key
    from syncer.state import synced, utcnow

    job = open_job(config)
    job.learn_types()  # convert as a run does, so fingerprints match (a webhook needs no network for this)
    pk, now, rows, total = job.sync.model.primary_key, utcnow(), [], 0
    with job.state.engine.begin() as conn:
        conn.execute(synced.delete().where(synced.c.sync == job.sync.name))
        for row in job.source.stream(job.sync.model, job.mapping_dir):
            key = row_key([row[c] for c in pk])
            match, fields = job.mapper.map(row)
            payload = json.dumps(fields, sort_keys=True, default=str)
            fingerprint = job.mapper.fingerprint(match, fields)
            rows.append(
                {
                    "sync": job.sync.name,
                    "key": key,
                    "fingerprint": fingerprint,
                    "match_value": match,
                    "dest_id": key,
                    "payload": payload,
                    "run_id": 0,
                    "synced_at": now,
                    "source_fp": job.mapper.source_fingerprint(row),
                }
            )
            if len(rows) == 50_000:
                conn.execute(sa.insert(synced), rows)
                total, rows = total + len(rows), []
        if rows:
            conn.execute(sa.insert(synced), rows)
            total += len(rows)
    job.close()
    job.state.close()
    return total


def change_one_percent(config: Path) -> None:
    import sqlalchemy as sa

    job = open_job(config)
    with job.source.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE accounts SET pql_score = pql_score + 1 WHERE account_id % {CHANGED_EVERY} = 0"))
    job.close()
    job.state.close()


# -- measurements, each in its own process -------------------------------------------------------


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(kind: str, config: Path) -> dict[str, Any]:
    import sqlalchemy as sa

    job = open_job(config)
    out: dict[str, Any] = {"kind": kind}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    if kind in ("fetch", "fetch/yp"):
        batch = job.config.warehouse.stream_batch
        engine = sa.create_engine(job.config.warehouse.url, connect_args=job.config.warehouse.connect_args)
        started, rows = time.perf_counter(), 0
        with engine.connect() as conn:
            conn = conn.execution_options(stream_results=True, yield_per=batch)
            with conn.execute(sa.text(job.source.sql(job.sync.model, job.mapping_dir))) as result:
                for partition in result.partitions(batch if kind == "fetch/yp" else None):
                    for _row in partition:
                        rows += 1
        out.update(wall=time.perf_counter() - started, rows=rows)
        engine.dispose()
    elif kind == "plan":
        started = time.perf_counter()
        summary = job.plan()
        out.update(wall=time.perf_counter() - started, tally=summary.tally.as_dict())
    elif kind == "profile":
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        job.plan()
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(15)
        out["profile"] = text.getvalue()
    elif kind == "run-nochange":
        from syncer_connectors.webhook.emulator import WebhookReceiver

        job.close()
        job.state.close()
        with WebhookReceiver(SECRET) as receiver:
            os.environ["BENCH_HOOK_URL"] = f"{receiver.base_url}/hooks"
            job = open_job(config)
            started = time.perf_counter()
            summary = job.run()
            out.update(
                wall=time.perf_counter() - started,
                write_calls=receiver.write_calls,
                api_calls=summary.api_calls,
                status=summary.status,
                tally=summary.tally.as_dict(),
            )
    elif kind != "idle":
        raise SystemExit(f"unknown measurement {kind!r}")
    job.close()
    job.state.close()
    after = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu"] = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime  # robust on a busy machine
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def in_subprocess(kind: str, config: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--measure", kind, "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"measurement {kind} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def best_of(kind: str, config: Path, repeat: int) -> dict[str, Any]:
    runs = [in_subprocess(kind, config) for _ in range(repeat)]
    best = min(runs, key=lambda r: r.get("wall", 0.0))
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    best["walls"] = [round(r.get("wall", 0.0), 2) for r in runs]
    return best


# -- driver ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="subprocess runs per measurement (best wall kept)")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one, removed after)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        print(json.dumps(measure(args.measure, args.config)))
        return 0

    import syncer

    print(f"syncer from {Path(syncer.__file__).parent}; python {sys.version.split()[0]}; cpus {os.cpu_count()}")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-plan-"))
    table: list[tuple[Any, ...]] = []
    problems: list[str] = []
    try:
        for n in args.sizes:
            config = write_project(work / f"n{n}", n)
            started = time.perf_counter()
            built = build_state(config)
            print(f"[{n:,}] state built in bulk: {built:,} records in {time.perf_counter() - started:.1f}s", flush=True)
            nochange = in_subprocess("run-nochange", config)
            print(
                f"[{n:,}] no-change run: {nochange['write_calls']} write calls, unchanged "
                f"{nochange['tally']['unchanged']:,}, {nochange['wall']:.1f}s",
                flush=True,
            )
            if nochange["write_calls"] != 0 or nochange["tally"]["unchanged"] != n:
                problems.append(f"{n}: no-change run was not a no-op: {nochange}")
            change_one_percent(config)
            idle = in_subprocess("idle", config)
            fetch = best_of("fetch", config, args.repeat)
            fetch_yp = best_of("fetch/yp", config, args.repeat)
            plan = best_of("plan", config, args.repeat)
            expected = n // CHANGED_EVERY
            tally = plan["tally"]
            if (tally["changed"], tally["added"], tally["removed"], tally["unchanged"]) != (
                expected,
                0,
                0,
                n - expected,
            ):
                problems.append(f"{n}: plan counts are wrong: {tally}")
            table.append(
                (
                    n,
                    fetch["wall"],
                    fetch_yp["wall"],
                    plan["wall"],
                    plan["wall"] / fetch["wall"],
                    plan["wall"] / fetch_yp["wall"],
                    idle["peak_rss_mb"],
                    fetch["peak_rss_mb"],
                    plan["peak_rss_mb"],
                    tally["changed"],
                    nochange["write_calls"],
                    plan["cpu"] / fetch["cpu"],
                )
            )
            print(f"[{n:,}] fetch {fetch['walls']}  fetch/yp {fetch_yp['walls']}  plan {plan['walls']}", flush=True)

        print()
        header = (
            f"{'rows':>10} {'fetch s':>8} {'fetch/yp s':>10} {'plan s':>8} {'plan/fetch':>10} {'plan/(yp)':>9} "
            f"{'cpu ratio':>9} {'idle MB':>8} {'fetch MB':>8} {'plan MB':>8} {'changed':>8} {'no-change writes':>16}"
        )
        print(header)
        print("-" * len(header))
        for n, f, fy, p, ratio, ratio_yp, idle_mb, fetch_mb, plan_mb, changed, writes, cpu_ratio in table:
            print(
                f"{n:>10,} {f:>8.2f} {fy:>10.2f} {p:>8.2f} {ratio:>10.2f} {ratio_yp:>9.2f} {cpu_ratio:>9.2f} "
                f"{idle_mb:>8.0f} {fetch_mb:>8.0f} {plan_mb:>8.0f} {changed:>8,} {writes:>16}"
            )
        print("targets: plan/fetch <= 1.3; plan peak RSS <= 300 MB and flat from the smallest to the largest size")

        if not args.no_profile:
            config = work / f"n{args.sizes[-1]}" / "config.toml"
            print(f"\ncProfile of plan at {args.sizes[-1]:,} rows, top 15 by cumulative time:")
            print(in_subprocess("profile", config)["profile"])
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    for problem in problems:
        print(f"PROBLEM {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
