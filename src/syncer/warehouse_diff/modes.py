"""Open the warehouse diff for a job: heal the snapshot for a run, fall back for a plan.

A plan writes nothing anywhere, so when the snapshot cannot be trusted (missing, dirty, behind
local state) the plan runs the columnar diff instead and says so. A run heals the snapshot first,
marks it dirty, and `after_run` merges what the run acknowledged. `full` runs map every row, so
they use the columnar diff (the snapshot is healed on the next warehouse run).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from syncer import failpoints
from syncer.config import UPDATED_AT_MODES
from syncer.errors import ConfigError, ConfigIssue
from syncer.keycheck import KeyReport
from syncer.state import utcnow
from syncer.warehouse_diff import future_dated
from syncer.warehouse_diff.dialects import DIALECTS, Dialect, column_types_hashable, dialect_of, model_types
from syncer.warehouse_diff.differ import Statement, WarehouseDiffer, plan_sql
from syncer.warehouse_diff.grants import missing_grants
from syncer.warehouse_diff.snapshot import Snapshot
from syncer.warehouse_diff.watermark import (
    Window,
    bound_literal,
    record_after_run,
    spec_digest,
    window_rows,
    window_sql,
)

if TYPE_CHECKING:
    from syncer.runner import SyncJob

log = logging.getLogger("syncer.warehouse_diff")


def snapshot_for(job: SyncJob) -> Snapshot:
    """The job's snapshot; ConfigError (file and key) on a warehouse that cannot plan in SQL."""
    try:
        dialect = dialect_of(job.source.engine.dialect.name)
    except KeyError as exc:
        file, key = job.config.sync_files.get(job.sync.name, str(job.config.path)), "diff"
        if job.sync.diff is None:
            file, key = str(job.config.path), "warehouse.diff"
        raise ConfigError([ConfigIssue(file, key, f'{exc.args[0]}: set diff = "columnar"')]) from exc
    return Snapshot(job.source.engine, dialect, job.config.warehouse.snapshot_schema)


# `model.updated_at` types a window can be bounded on: DuckDB type names (DESCRIBE), PostgreSQL type
# OIDs (pg_type.dat: timestamp, timestamptz, date)
UPDATED_AT_TYPES = frozenset(
    {"TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE"}
    | {"1114", "1184", "1082"}
)


def check_problems(job: SyncJob) -> list[str]:
    """What `syncer check` reports for a sync's diff: for warehouse mode, every missing GRANT; for
    warehouse and columnar modes, a `model.updated_at` whose column is not a timestamp or a date (where
    the warehouse says its types; columnar mode: on the warehouses its window runs on)."""
    mode, column = job.sync.diff or job.config.warehouse.diff, job.sync.model.updated_at
    problems: list[str] = []
    if mode == "warehouse":
        snapshot = snapshot_for(job)
        dialect = snapshot.dialect
        problems = missing_grants(snapshot)
    elif mode == "columnar" and column and job.source.engine.dialect.name in DIALECTS:
        dialect = dialect_of(job.source.engine.dialect.name)
    else:
        return []
    if column:
        found = column_type(job, model_column_types(job, dialect), column)
        if found is not None and found.upper() not in UPDATED_AT_TYPES:
            problems.append(
                f"model.updated_at: column {column!r} is {_type_name(found)}; it must be a TIMESTAMP or DATE "
                "column the warehouse sets on every insert and update"
            )
    return problems


def model_column_types(job: SyncJob, dialect: Dialect) -> dict[str, str]:
    """The model's column types (`model_types`: one introspection query of the warehouse). A diff
    reads them once and passes them to `column_type` and `fingerprint_parts`."""
    return model_types(job.source.engine, dialect, job.source.sql(job.sync.model, job.mapping_dir))


def column_type(job: SyncJob, types: Mapping[str, str] | None, column: str) -> str | None:
    """A model column's type in `types` (`model_column_types`: DuckDB type names, PostgreSQL type
    OIDs); None where the warehouse does not say."""
    return (types or {}).get(job.source._column_names(job.sync.model, job.mapping_dir).get(column, column))


# primary-key column types whose every value the warehouse writes as text exactly as syncer writes the key
# (`identity.canonical_identity`): DuckDB type names; PostgreSQL type OIDs (pg_type.dat: int2, int4, int8,
# text, varchar, uuid, date, bool). Others (floats' 1e+20, char(n) without its padding, a timestamp's space
# for 'T', numerics' trailing zeros) are diffed outside the warehouse, row by row (`WarehouseDiffer._keyed`)
KEY_TYPES = frozenset(
    {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT", "HUGEINT"}
    | {"UHUGEINT", "VARCHAR", "UUID", "DATE", "BOOLEAN"}
    | {"20", "21", "23", "25", "1043", "2950", "1082", "16"}
)


def key_warnings(job: SyncJob) -> list[str]:
    """Warehouse mode: each primary-key column whose type the warehouse may write unlike syncer (`KEY_TYPES`):
    its rows then never join the snapshot, and each run diffs them outside the warehouse."""
    if (job.sync.diff or job.config.warehouse.diff) != "warehouse" or job.source.engine.dialect.name not in (
        "duckdb",
        "postgresql",
    ):
        return []
    dialect = dialect_of(job.source.engine.dialect.name)
    types = model_types(job.source.engine, dialect, job.source.sql(job.sync.model, job.mapping_dir))
    names = job.source._column_names(job.sync.model, job.mapping_dir)
    found = [(c, types.get(names.get(c, c), "")) for c in job.sync.model.primary_key]
    return [
        f"model.primary_key: column {c!r} is {_type_name(t)}, whose values the warehouse may write unlike syncer "
        "(a float's 1e+20, char(n) without its padding, a timestamp's space for 'T'): such rows never match the "
        "snapshot and are diffed outside the warehouse on every run; use an integer or text key column (cast it "
        'in the model\'s query) or set diff = "columnar"'
        for c, t in found
        if t and t.upper() not in KEY_TYPES
    ]


def check_warnings(job: SyncJob) -> list[str]:
    """What `syncer check` warns of for a sync's diff: a warehouse-mode key type the warehouse may write
    unlike syncer (`key_warnings`); the newest `model.updated_at` more than `updated_at_lookback` in the
    future (`future_dated`: a run holds the watermark at now)."""
    model, column = job.sync.model, job.sync.model.updated_at
    keys = key_warnings(job)
    if (job.sync.diff or job.config.warehouse.diff) not in UPDATED_AT_MODES or not column:
        return keys
    model_sql = job.source.sql(model, job.mapping_dir)
    with job.source._query(f"SELECT MAX(m.{quoted_columns(job, [column])[0]}) FROM ({model_sql}) AS m") as newest:
        value = newest.scalar()
    if isinstance(value, str):  # SQLite keeps a TIMESTAMP as text
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return keys
    if not isinstance(value, dt.date):  # NULL everywhere, or not a timestamp (`check_problems` says so)
        return keys
    distance = future_dated.ahead(value, utcnow())
    return keys + (
        [future_dated.warning(job.sync.name, column, value, distance)] if distance > model.updated_at_lookback else []
    )


def _type_name(found: str) -> str:
    """A type as `model_types` gives it, for a person (PostgreSQL gives type OIDs)."""
    names = {"16": "boolean", "20": "bigint", "21": "smallint", "23": "integer", "25": "text", "700": "real"}
    names |= {"701": "double precision", "1043": "varchar", "1700": "numeric", "1083": "time", "1042": "character(n)"}
    names |= {"1114": "timestamp", "1184": "timestamptz"}
    return names.get(found, f"type {found}" if found.isdigit() else found)


def run_ids(job: SyncJob, for_run: bool) -> tuple[int | None, int | None]:
    """(this run, the run before it) as local state records them; a plan has no run of its own."""
    ids = [int(r["id"]) for r in job.state.recent_runs(job.sync.name, limit=2)]
    if for_run:
        return (ids[0] if ids else None), (ids[1] if len(ids) > 1 else None)
    return None, (ids[0] if ids else None)


def open_warehouse_diff(job: SyncJob, spec: Any, inputs: list[str], **kwargs: Any) -> WarehouseDiffer | None:
    """The differ, or None when this diff must not use the snapshot (a plan with a lagging one, `full`)."""
    if kwargs.get("full"):
        return None
    for_run = bool(kwargs.get("remember_sources"))
    snapshot = snapshot_for(job)
    current, previous = run_ids(job, for_run)
    if not for_run:
        if not snapshot.usable(job.sync.name, job.state, previous):
            log.info("sync %s: warehouse snapshot is missing or behind local state; planning columnar", job.sync.name)
            return None
        healed = False
    else:  # before anything is sent: a right missing would fail the snapshot's merge after the sends
        problems = missing_grants(snapshot)
        if problems:
            file = job.config.sync_files.get(job.sync.name, str(job.config.path))
            raise ConfigError([ConfigIssue(file, "diff", problem) for problem in problems])
        healed = snapshot.heal(job.sync.name, job.state, previous) != "use"
        snapshot.mark_dirty(job.sync.name, current)
    differ = WarehouseDiffer(**kwargs, snapshot=snapshot)
    differ.healed = healed
    return differ


def warehouse_sql(job: SyncJob, differ: WarehouseDiffer, spec: Any, inputs: list[str]) -> tuple[str, str]:
    """(plan statement, model SQL) for the job; the differ learns how to run the whole key check
    and restate the statement with its problem keys (when a primary key repeats). A model with
    `updated_at` gets the window statement when `Window.open` allows it (see `watermark`)."""
    model, dialect, snapshot = job.sync.model, differ.snapshot.dialect, differ.snapshot
    model_sql = job.source.sql(model, job.mapping_dir)
    model_types = model_column_types(job, dialect)  # once per diff: the fingerprint and the watermark's spec
    prefix, pk, columns, types = fingerprint_parts(job, spec, inputs, model_types)
    updated_at = quoted_columns(job, [model.updated_at])[0] if model.updated_at else None

    statement = Statement(dialect, snapshot, job.sync.name, model_sql, pk, columns, prefix, types, updated_at)

    def restate(keys: KeyReport) -> str:
        return plan_sql(statement, set(keys.duplicate_keys) | set(keys.match_collisions))

    differ.restate, differ.whole_keys = restate, job.key_report
    if updated_at is None:
        return restate(differ.keys), model_sql
    # the key checks were left to here (`open_diff`): a window needs only its own match values checked
    digest = spec_digest(prefix, model_sql, updated_at, column_type(job, model_types, model.updated_at or ""))
    window = Window.open(
        job.state,
        job.sync.name,
        digest,
        model.full_diff_every,
        not differ.healed,
        model.updated_at_lookback,
        full_diff=job.full_diff,
        column=model.updated_at or "",  # set: `updated_at` (its quoted name) is not None here
    )
    differ.window = window
    if window.since is not None:
        bound = bound_literal(dialect, window.since, model.updated_at_lookback)
        rule = job.match_rule  # learned before the diff opens (SyncJob.differ); None: a parent's (tasks)
        if rule is not None and job.source.shares_match_values(
            model, job.mapping_dir, rule, window_rows(statement, bound)
        ):
            window.close("a match value updated since the last run is shared with another row")
    if window.since is None:
        differ.keys = job.key_report(duplicates=False)
        return restate(differ.keys), model_sql
    differ.model_keys = partial(job.key_report, duplicates=False)
    return window_sql(statement, bound), model_sql


def fingerprint_parts(
    job: SyncJob, spec: Any, inputs: list[str], types: Mapping[str, str] | None
) -> tuple[str, list[str], list[str], dict[str, str] | None]:
    """(prefix, quoted primary key, quoted inputs, input types or None where the dialect does not hash by
    type) for `Dialect.key` / `Dialect.fingerprint`; `types`: `model_column_types`.

    The prefix digests the mapping spec and the warehouse's type of every key and input column: the
    fingerprint hashes most values as their text, which a type change can leave as it was (DECIMAL
    1.50 -> VARCHAR '1.50', text -> JSON) while the payload changes (a number becomes a string). A type
    change so makes every row's fingerprint new once: each row is mapped again and sent only when its
    payload changed, as the rows mode would (and a `model.updated_at` window closes: its digest
    holds the prefix)."""
    pk, columns = quoted_columns(job, job.sync.model.primary_key), quoted_columns(job, inputs)
    names = job.source._column_names(job.sync.model, job.mapping_dir)
    described = types or {}
    typed = [(c, described.get(names.get(c, c), "")) for c in [*job.sync.model.primary_key, *inputs]]
    prefix = hashlib.blake2b(repr((spec, typed)).encode(), digest_size=16).hexdigest()
    hashed = None
    if types is not None and column_types_hashable(job.source.engine, dialect_of(job.source.engine.dialect.name)):
        hashed = {q: described.get(names.get(c, c), "") for c, q in zip(inputs, columns, strict=True)}
    return prefix, pk, columns, hashed


def quoted_columns(job: SyncJob, columns: list[str]) -> list[str]:
    """Model columns as the warehouse spells them (Snowflake: folded upper case), quoted by its dialect."""
    names = job.source._column_names(job.sync.model, job.mapping_dir)
    quote = job.source.engine.dialect.identifier_preparer.quote
    return [quote(names.get(c, c)) for c in columns]


def after_run(differ: Any, run_id: int | None, failed: int, unsent: int) -> None:
    """Merge what a warehouse-mode run acknowledged into the snapshot, then move the `updated_at`
    watermark (`Window.record`: `failed` rows whose write failed, `unsent` rows rejected or held);
    other modes: nothing."""
    if isinstance(differ, WarehouseDiffer):
        failpoints.hit("before_snapshot_merge")  # acknowledged in state, not yet in the snapshot
        differ.merge(run_id)
        record_after_run(differ.window, differ.state, differ.tally, failed, unsent)
