"""`plan` in every diff mode against the fastest raw Arrow fetch of the same model, on DuckDB and PostgreSQL.

    .venv/bin/python benchmarks/bench_plan.py                         # 100k and 1M rows, DuckDB + PostgreSQL
    .venv/bin/python benchmarks/bench_plan.py --sizes 20000 --warehouses duckdb      # quick look
    .venv/bin/python benchmarks/bench_plan.py --sizes 100000 1000000 5000000         # 5M: opt in, slow

For each warehouse and size N: an `accounts` model of N rows; SQLite state for each mode built in
bulk (payloads and fingerprints from the engine's Mapper, source fingerprints the way that mode
computes them), then one real no-change `SyncJob.run` per mode against an in-process
WebhookReceiver (must make 0 write calls; in warehouse mode it also builds the snapshot from
state). Then, each in a fresh subprocess whose CPU seconds and peak RSS (ru_maxrss) the parent
reads with wait4:

  arrow      the model's SELECT through the same driver's Arrow path, batches discarded (DuckDB
             `sql().to_arrow_reader()`, PostgreSQL ADBC `fetch_record_batch()`): the floor
  plan MODE  SyncJob.plan() with diff = rows | columnar | warehouse, at 0%, 1% and 20% changed

`--updated-at`: the model gets an `updated_at` TIMESTAMP column (one second apart, indexed on
PostgreSQL), every change bumps it, and modes `incremental` (warehouse mode whose mapping declares
`updated_at`) and `columnar-window` (columnar mode, the same mapping) plan from the watermark their
no-change runs recorded; a second no-change run reads the window. `--repeat N`: every plan N times,
the modes interleaved, the fastest kept (a shared machine's noise).

Both sides are timed with their libraries already imported (`preload`): a daemon imports them once.
Ratios are plan wall / arrow wall. Targets (issue 16): columnar 1M 1% <= 1.5x arrow, peak RSS
<= 300 MB and flat; warehouse 5M 1% <= 0.5x arrow. A PostgreSQL server is started in a temporary
directory the way tests/conftest.py does (initdb + pg_ctl), unless $SYNCER_TEST_PG_URL is set.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SECRET = "bench-secret"
MODES = ["rows", "columnar", "warehouse"]
UPDATED_AT: list[bool] = []  # --updated-at
WINDOWED = {"incremental": "warehouse", "columnar-window": "columnar"}  # modes whose mapping declares updated_at
REPEAT: list[int] = [1]  # --repeat
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
MODEL_SQL = (
    "SELECT i AS account_id, 'Account ' || i AS name, 'acct' || i || '.example.com' AS domain, "
    "CAST((i * 7) % 101 AS DOUBLE PRECISION) AS pql_score, "
    "CASE i % 3 WHEN 0 THEN 'monitor' WHEN 1 THEN 'nurture' ELSE 'escalate' END AS tier FROM {series}"
)


# -- warehouses ------------------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    raise SystemExit(f"PostgreSQL binary {name} not found (make postgres installs it)")


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server (as tests/conftest.py starts one); yields a URL without database."""
    if os.environ.get("SYNCER_TEST_PG_URL"):
        yield os.environ["SYNCER_TEST_PG_URL"].rstrip("/")
        return
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    subprocess.run(
        [*run_as, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=256MB"
    subprocess.run(
        [*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", options, "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def create_model(kind: str, url: str, rows: int) -> None:
    import sqlalchemy as sa

    series = f"range(1, {rows + 1}) AS r(i)" if kind == "duckdb" else f"generate_series(1, {rows}) AS r(i)"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS accounts"))
        model = MODEL_SQL.format(series=series)
        if UPDATED_AT:
            model = model.replace(" FROM ", ", TIMESTAMP '2020-01-01' + i * INTERVAL '1 second' AS updated_at FROM ", 1)
        conn.execute(sa.text("CREATE TABLE accounts AS " + model))
        if kind == "postgresql":
            conn.execute(sa.text("ALTER TABLE accounts ADD PRIMARY KEY (account_id)"))
            if UPDATED_AT:
                conn.execute(sa.text("CREATE INDEX accounts_updated_at ON accounts (updated_at)"))
    if kind == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE accounts"))
    engine.dispose()


def change(url: str, every: int) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        bump = ", updated_at = TIMESTAMP '2026-01-01'" if UPDATED_AT else ""
        conn.execute(sa.text(f"UPDATE accounts SET pql_score = pql_score + 1{bump} WHERE account_id % {every} = 0"))
    engine.dispose()


def write_project(root: Path, url: str, mode: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mappings").mkdir(exist_ok=True)
    incremental = mode in WINDOWED  # the mapping declares updated_at
    mapping = MAPPING.replace('primary_key = "account_id"\n', 'primary_key = "account_id"\nupdated_at = "updated_at"\n')
    (root / "mappings" / "accounts.toml").write_text(mapping if incremental else MAPPING)
    mode, schema = (WINDOWED[mode], "syncer_incremental") if incremental else (mode, "syncer")
    config = root / "config.toml"
    config.write_text(
        textwrap.dedent(f"""
        [syncer]
        data_dir = "data"
        log_format = "text"
        log_level = "warning"

        [warehouse]
        url = "{url}"
        diff = "{mode}"
        stream_batch = 50000
        snapshot_schema = "{schema}"

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


def source_fps(job: Any, mode: str) -> Iterator[list[tuple[str, str]]]:
    """(key, source fingerprint) as `mode` computes them, in chunks."""
    from syncer.columnar import kernels
    from syncer.columnar.batches import record_batches
    from syncer.columnar.modes import mapping_inputs, mapping_spec
    from syncer.source import row_key

    inputs = mapping_inputs(job.sync)
    spec = mapping_spec(job.mapper, inputs)
    if mode == "rows":
        chunk = []
        for row in job.source.stream(job.sync.model, job.mapping_dir):
            chunk.append((row_key([row["account_id"]]), job.mapper.source_fingerprint(row)))
            if len(chunk) == 50_000:
                yield chunk
                chunk = []
        yield chunk
    elif mode in ("columnar", "columnar-window"):
        for batch in record_batches(job.source, job.sync.model, job.mapping_dir, job.config.warehouse):
            keys = kernels.record_keys(batch, ["account_id"])
            fps = kernels.source_fingerprints(batch, inputs, kernels.spec_digest(spec, batch, inputs))
            yield list(zip(keys.to_list(), fps.to_list(), strict=True))
    else:
        import sqlalchemy as sa

        from syncer.warehouse_diff.dialects import dialect_of
        from syncer.warehouse_diff.modes import fingerprint_parts, model_column_types

        dialect = dialect_of(job.source.engine.dialect.name)
        prefix, key, columns, types = fingerprint_parts(job, spec, inputs, model_column_types(job, dialect))
        sql = f"SELECT {dialect.key(key)}, {dialect.fingerprint(prefix, columns, types)} FROM accounts"
        with job.source.engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(sa.text(sql))
            for part in result.partitions(50_000):
                yield [(k, str(f)) for k, f in part]  # state keeps text (DuckDB's hash is an integer)


def build_state(config: Path, mode: str, template: Path | None) -> Path:
    """State as a full run in `mode` leaves it; the first mode builds payloads, later ones copy them."""
    import sqlalchemy as sa

    from syncer.state import synced, utcnow

    job = open_job(config)
    job.learn_types()
    state_file = config.parent / "data" / "state.sqlite"
    if template is None:
        now, rows = utcnow(), []
        with job.state.engine.begin() as conn:
            conn.execute(synced.delete())
            for row in job.source.stream(job.sync.model, job.mapping_dir):
                match, fields = job.mapper.map(row)
                rows.append(
                    {
                        "sync": "accounts",
                        "key": str(row["account_id"]),
                        "match_value": match,
                        "fingerprint": job.mapper.fingerprint(match, fields),
                        "dest_id": str(row["account_id"]),
                        "payload": json.dumps(fields, sort_keys=True, default=str),
                        "run_id": 0,
                        "synced_at": now,
                        "source_fp": None,
                    }
                )
                if len(rows) == 50_000:
                    conn.execute(sa.insert(synced), rows)
                    rows = []
            if rows:
                conn.execute(sa.insert(synced), rows)
    else:
        job.state.close()
        shutil.copy(template, state_file)
        job = open_job(config)
        job.learn_types()  # the mapping spec (and so every source fingerprint) depends on the field types
    update = synced.update().where(synced.c.sync == "accounts", synced.c.key == sa.bindparam("k"))
    with job.state.engine.begin() as conn:
        for chunk in source_fps(job, mode):
            if chunk:
                conn.execute(update.values(source_fp=sa.bindparam("fp")), [{"k": k, "fp": f} for k, f in chunk])
    job.close()
    job.state.close()
    return state_file


# -- measurements, each in its own process -------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak RSS since exec (VmHWM). Not wait4's ru_maxrss: on Linux a child's ru_maxrss
    starts from the RSS its parent had when it forked, so every child would report the driver's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def receiver() -> Iterator[Any]:
    """The webhook receiver every measurement writes to, on one port for the whole benchmark
    (`BENCH_HOOK_PORT`, chosen once): the port is part of the destination's address (syncer.destinations),
    so a receiver on a new port each time is a moved destination and every record would be planned again."""
    from syncer_connectors.webhook.emulator import WebhookReceiver

    port = os.environ.setdefault("BENCH_HOOK_PORT", str(_free_port()))
    hook = WebhookReceiver(SECRET)
    hook.start(port=int(port))
    os.environ["BENCH_HOOK_URL"] = f"{hook.base_url}/hooks"
    try:
        yield hook
    finally:
        hook.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def preload(kind: str, url: str) -> None:
    """Import what the measured side loads, before its clock starts: a daemon pays for its imports
    once, not per plan (measured: 0.9 s of a cold 1M-row plan was numpy, pyarrow and polars being
    imported; the raw fetch's own `import duckdb` / ADBC, and pyarrow, had been inside its timing)."""
    import pyarrow  # both sides hand out Arrow batches

    if url.startswith("duckdb"):
        import duckdb  # noqa: F401
        import duckdb_engine  # noqa: F401
    else:
        import adbc_driver_postgresql.dbapi  # noqa: F401
        import psycopg  # noqa: F401  (SQLAlchemy's driver: the plan's column probe and key checks)
    if kind != "arrow":
        import httpcore  # noqa: F401  (httpx imports its transport at the first client: the destination check, 15-60 ms)
        import pyarrow.compute  # noqa: F401  (polars imports it at its first Arrow conversion: 0.09 s)

        import syncer.columnar.differ
        import syncer.columnar.modes
        import syncer.warehouse_diff.modes  # noqa: F401


def measure(kind: str, config: Path) -> dict[str, Any]:
    """One measurement (`plan`, `profile` and `run-nochange` write to `receiver()`)."""
    import resource

    job = open_job(config)
    preload(kind, job.config.warehouse.url)
    out: dict[str, Any] = {"kind": kind}
    before = resource.getrusage(resource.RUSAGE_SELF)
    if kind == "arrow":
        sql = job.source.sql(job.sync.model, job.mapping_dir)
        url = job.config.warehouse.url
        started, rows = time.perf_counter(), 0
        if url.startswith("duckdb"):
            import duckdb

            with duckdb.connect(url.removeprefix("duckdb:///"), read_only=True) as conn:
                for batch in conn.sql(sql).to_arrow_reader(50_000):
                    rows += batch.num_rows
        else:
            import adbc_driver_postgresql.dbapi as adbc

            with adbc.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn, conn.cursor() as cur:
                cur.execute(sql)
                for batch in cur.fetch_record_batch():
                    rows += batch.num_rows
        out.update(wall=time.perf_counter() - started, rows=rows)
    elif kind == "plan":
        with receiver() as hook:  # a plan checks the destination is reachable
            job = reopen_job(job, config, hook)
            started = time.perf_counter()
            summary = job.plan()
            out.update(wall=time.perf_counter() - started, tally=summary.tally.as_dict(), mode=job.sync.diff)
    elif kind == "profile":
        import cProfile
        import io
        import pstats

        with receiver() as hook:  # a plan checks the destination is reachable
            job = reopen_job(job, config, hook)
            profiler = cProfile.Profile()
            profiler.enable()
            job.plan()
            profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
        out["profile"] = text.getvalue()
    elif kind == "run-nochange":
        with receiver() as hook:  # a plan checks the destination is reachable
            job = reopen_job(job, config, hook)
            started = time.perf_counter()
            summary = job.run()
            out.update(
                wall=time.perf_counter() - started,
                write_calls=hook.write_calls,
                status=summary.status,
                tally=summary.tally.as_dict(),
            )
    else:
        raise SystemExit(f"unknown measurement {kind!r}")
    job.close()
    job.state.close()
    after = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def reopen_job(job: Any, config: Path, hook: Any) -> Any:
    """The job again, its webhook pointed at `hook`."""
    job.close()
    job.state.close()
    os.environ["BENCH_HOOK_URL"] = f"{hook.base_url}/hooks"
    return open_job(config)


def in_subprocess(kind: str, config: Path) -> dict[str, Any]:
    """Run one measurement in a child; wait4's rusage gives its whole CPU time (imports included)."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--measure", kind, "--config", str(config)], stdout=stdout, stderr=stderr
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"measurement {kind} ({config}) failed:\n{stderr.read()}")
        result: dict[str, Any] = json.loads(stdout.read().strip().splitlines()[-1])
    result["process cpu"] = usage.ru_utime + usage.ru_stime
    return result


# -- driver ----------------------------------------------------------------------------------------


def bench_size(kind: str, url: str, n: int, work: Path, table: list[dict[str, Any]], problems: list[str]) -> None:
    create_model(kind, url, n)
    configs = {mode: write_project(work / f"{kind}-{n}-{mode}", url, mode) for mode in MODES}
    template = None
    for mode in MODES:
        started = time.perf_counter()
        built = build_state(configs[mode], mode, template)
        template = template or built
        nochange = in_subprocess("run-nochange", configs[mode])
        if mode in WINDOWED:  # the first run diffed in full and recorded the watermark: now the window
            first, nochange = nochange, in_subprocess("run-nochange", configs[mode])
            print(
                f"[{kind} {n:,} {mode}] first no-change run: {first['write_calls']} write calls, {first['wall']:.1f}s"
            )
        print(
            f"[{kind} {n:,} {mode}] state in {time.perf_counter() - started:.1f}s; no-change run: "
            f"{nochange['write_calls']} write calls, {nochange['wall']:.1f}s",
            flush=True,
        )
        if mode in WINDOWED and first["write_calls"] != 0:
            problems.append(f"{kind} {n} {mode}: the first no-change run was not a no-op: {first}")
        if nochange["write_calls"] != 0 or nochange["tally"]["unchanged"] != n:
            problems.append(f"{kind} {n} {mode}: the no-change run was not a no-op: {nochange}")
    applied = 0
    for share, every in ((0, 0), (1, 100), (20, 5)):
        if every:
            change(url, every)
            applied = every
        expected = n // applied if applied else 0
        best: dict[str, dict[str, Any]] = {}
        for _ in range(REPEAT[0]):  # interleaved: the fetch and each mode once a round
            for mode in ["arrow", *MODES]:
                plan = (
                    in_subprocess("arrow", configs[MODES[0]])
                    if mode == "arrow"
                    else in_subprocess("plan", configs[mode])
                )
                if mode not in best or plan["wall"] < best[mode]["wall"]:
                    best[mode] = plan
        arrow = best["arrow"]
        for mode in MODES:
            plan = best[mode]
            tally = plan["tally"]
            if (tally["changed"], tally["unchanged"], tally["added"], tally["removed"]) != (
                expected,
                n - expected,
                0,
                0,
            ):
                problems.append(f"{kind} {n} {share}% {mode}: wrong counts {tally}")
            table.append(
                {
                    "warehouse": kind,
                    "rows": n,
                    "changed %": share,
                    "mode": mode,
                    "arrow s": arrow["wall"],
                    "plan s": plan["wall"],
                    "plan/arrow": plan["wall"] / arrow["wall"],
                    "cpu s": plan["cpu"],
                    "arrow cpu s": arrow["cpu"],
                    "cpu/arrow": plan["cpu"] / max(arrow["cpu"], 1e-3),
                    "peak MB": plan["peak_rss_mb"],
                    "arrow MB": arrow["peak_rss_mb"],
                }
            )
            print(
                f"[{kind} {n:,} {share}% {mode}] plan {plan['wall']:.2f}s (arrow {arrow['wall']:.2f}s) "
                f"cpu {plan['cpu']:.2f}s (process {plan['process cpu']:.2f}s) rss {plan['peak_rss_mb']:.0f} MB "
                f"(best of {REPEAT[0]}; load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    if n == max(SIZES):
        for mode in [m for m in MODES if m != "rows"]:
            print(f"\ncProfile of plan ({kind}, {n:,} rows, 20% changed, {mode}), top 12 by own time:")
            print(in_subprocess("profile", configs[mode])["profile"])


SIZES: list[int] = []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="add 5000000 to opt in")
    parser.add_argument("--warehouses", nargs="+", default=["duckdb", "postgresql"], choices=["duckdb", "postgresql"])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=[*MODES, *WINDOWED])
    parser.add_argument(
        "--updated-at", action="store_true", help="an updated_at column, and modes incremental and columnar-window"
    )
    parser.add_argument("--repeat", type=int, default=1, help="plan N times (interleaved), keep the fastest")
    parser.add_argument(
        "--work", type=Path, help="build the set-ups in this (new) directory and keep them, for `--measure plan` later"
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("BENCH_HOOK_PORT", str(_free_port()))  # every measurement's receiver (`receiver`)
    if args.measure:
        print(json.dumps(measure(args.measure, args.config)))
        return 0
    SIZES.extend(args.sizes)
    MODES[:] = args.modes
    REPEAT[0] = args.repeat
    if args.updated_at:
        UPDATED_AT.append(True)
        windowed = [m for m in WINDOWED if m in args.modes] or list(WINDOWED)  # named ones, else both
        MODES[:] = [*(m for m in MODES if m not in WINDOWED), *windowed]

    import sqlalchemy as sa

    import syncer

    print(
        f"syncer from {Path(syncer.__file__).parent}; python {sys.version.split()[0]}; cpus {os.cpu_count()}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-plan-"))
    work.mkdir(parents=True, exist_ok=args.work is None)
    table: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        for kind in args.warehouses:
            for n in args.sizes:
                if kind == "duckdb":
                    bench_size(kind, f"duckdb:///{work / f'w{n}.duckdb'}", n, work, table, problems)
                    continue
                with postgres_server() as server:
                    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
                    with admin.connect() as conn:
                        conn.execute(sa.text(f"CREATE DATABASE bench{n}"))
                    admin.dispose()
                    bench_size(kind, f"{server}/bench{n}", n, work, table, problems)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    columns = [
        "warehouse",
        "rows",
        "changed %",
        "mode",
        "arrow s",
        "plan s",
        "plan/arrow",
        "cpu s",
        "arrow cpu s",
        "cpu/arrow",
        "peak MB",
        "arrow MB",
    ]
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in table:
        cells = [
            f"{row[c]:,}" if isinstance(row[c], int) else f"{row[c]:.2f}" if isinstance(row[c], float) else row[c]
            for c in columns
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print("targets: columnar 1M 1% plan/arrow <= 1.5, peak RSS <= 300 MB and flat; warehouse 5M 1% plan/arrow <= 0.5")
    for problem in problems:
        print(f"PROBLEM {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
