"""Which diff runs for a sync: `diff = "columnar" | "rows" | "warehouse"` (sync, else warehouse).

`open_diff` builds the differ and its change stream for a `SyncJob`; the runner calls it and does
not care which mode answered. The fingerprint spec is taken from the mapper itself, so whatever
makes the row path re-map (a mapping edit, a new target, a destination type change) re-maps here.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from syncer.columnar.batches import RowBatch, record_batches
from syncer.columnar.differ import ColumnarDiffer
from syncer.columnar.key_repeats import STREAMED_DIALECTS, KeyRepeats
from syncer.columnar.sidecar import path_for
from syncer.columnar.window import WindowDiffer, open_window, window_batches
from syncer.config import SyncConfig
from syncer.diff import Change, Differ
from syncer.keycheck import KeyReport
from syncer.mapping import Mapper
from syncer.suppression import SuppressionFilter

if TYPE_CHECKING:
    from syncer.runner import SyncJob


def mapping_inputs(sync: SyncConfig) -> list[str]:
    """The source columns the mapping reads (match column and every field's columns), sorted."""
    return sorted({sync.match.column}.union(*(spec.columns() for spec in sync.fields.values())))


def mapping_spec(mapper: Mapper, inputs: list[str]) -> str:
    """A digest that changes with anything the mapper hashes into its own source fingerprints (the
    mapping, its target, the destination's field types): its fingerprint of an all-NULL row."""
    return mapper.source_fingerprint(dict.fromkeys(inputs))


def diff_mode(job: SyncJob) -> str:
    return job.sync.diff or job.config.warehouse.diff


def open_diff(job: SyncJob, **kwargs: Any) -> tuple[Differ, Iterator[Change]]:
    """(differ, changes) for the sync's diff mode; kwargs are `Differ`'s but `keys`, the identity
    checks' report, asked of `job.key_report` here (after `job.learn_match_rule`) -- by warehouse
    mode without the duplicated-key aggregate (its statement finds repeats), and not at all by a
    columnar plan, whose stream checks keys itself and may raise `Replan` at its end (key_repeats)."""
    sync = job.sync
    # keys erased with `forget --suppress` stay out until their row leaves the model (a run lifts them
    # then): rare, so a sync with suppressions diffs row by row, where the filter sees every key
    suppression = SuppressionFilter(job.state.engine, sync.name, sync.model.primary_key, kwargs["remember_sources"])
    mode = "rows" if suppression.hashes else diff_mode(job)
    streamed = (
        mode == "columnar"
        and not kwargs["remember_sources"]  # a run sends as it streams: it needs the report first
        and job.source.engine.dialect.name in STREAMED_DIALECTS
    )
    if not streamed:
        # a model with updated_at: warehouse mode checks keys once it knows whether its window runs
        deferred = mode == "warehouse" and sync.model.updated_at is not None and not kwargs["full"]
        duplicates = kwargs["full"] or mode != "warehouse"
        kwargs["keys"] = KeyReport(duplicates_checked=False) if deferred else job.key_report(duplicates=duplicates)
    if mode == "rows":
        differ = Differ(**kwargs)
        return differ, differ.changes(suppression.rows(job.source.stream(sync.model, job.mapping_dir)))
    inputs = mapping_inputs(sync)
    spec = mapping_spec(kwargs["mapper"], inputs)
    if mode == "warehouse":
        from syncer.warehouse_diff.modes import open_warehouse_diff, warehouse_sql

        warehouse = open_warehouse_diff(job, spec, inputs, **kwargs)
        if warehouse is not None:
            sql, model_sql = warehouse_sql(job, warehouse, spec, inputs)
            return warehouse, warehouse.changes_from(job.source, sql, model_sql)
    sidecar_path = path_for(job.config.data_dir(), sync.name)

    def columnar(keys: KeyReport, repeats: KeyRepeats | None) -> tuple[Differ, Iterator[Change]]:
        def batches(sql: str | None = None) -> Iterator[RowBatch]:
            return record_batches(job.source, sync.model, job.mapping_dir, job.config.warehouse, sql)

        args = {
            **kwargs,
            "keys": keys,
            "inputs": inputs,
            "spec": spec,
            "sidecar_path": sidecar_path,
            "repeats": repeats,
        }
        window, scan = open_window(job, spec, keys, kwargs["full"])
        differ = ColumnarDiffer(**args) if scan is None else WindowDiffer(**args, rescan=partial(batches, scan.again))
        differ.window, differ.updated_at = window, sync.model.updated_at
        if scan is None:
            return differ, differ.changes_from(batches())
        warehouse = job.config.warehouse
        stream = window_batches(job.source.engine, warehouse.connect_args, scan, warehouse.stream_batch, batches)
        return differ, differ.changes_from(stream)

    if not streamed:
        keys = whole_key_report(job, kwargs["keys"])
        release_duckdb_memory(job.source.engine)
        return columnar(keys, None)

    def replan(report: KeyReport) -> tuple[Differ, Iterator[Change]]:
        release_duckdb_memory(job.source.engine)  # after the aggregates, as above
        return columnar(report, None)

    # job.match_rule: learned before the diff opens (SyncJob.differ); None where the match value names
    # the parent a record attaches to (tasks): the stream then checks repeated keys only
    return columnar(KeyReport(), KeyRepeats(job.match_rule, job.key_report, replan))


def whole_key_report(job: SyncJob, keys: KeyReport) -> KeyReport:
    """`keys`, or the whole identity check where warehouse mode left duplicated keys to its own
    statement but another diff answers (a plan on a lagging snapshot, `full`, suppressions)."""
    return keys if keys.duplicates_checked else job.key_report()


def release_duckdb_memory(engine: sa.Engine) -> None:
    """Close the pooled connections of a DuckDB file before the stream: DuckDB keeps the key checks'
    memory until its database's last connection closes (measured at 1M rows: 108 MB freed, peak RSS
    of checks + stream 175 MB instead of 238 MB). Never for an in-memory database: it would be gone."""
    database = engine.url.database
    if engine.dialect.name == "duckdb" and database not in (None, "", ":memory:") and not database.startswith(":"):
        engine.dispose()


def after_run(differ: Differ, run_id: int | None, failed: int, unsent: int) -> None:
    """After a run's last acknowledged write: the warehouse snapshot merges what was acknowledged, the
    columnar sidecar is brought up to date, and the `updated_at` watermark moves (`failed`: rows whose
    write failed; `unsent`: rows rejected) (rows mode: nothing)."""
    from syncer.warehouse_diff.modes import after_run as warehouse_after_run
    from syncer.warehouse_diff.watermark import record_after_run

    warehouse_after_run(differ, run_id, failed, unsent)
    if isinstance(differ, ColumnarDiffer):
        differ.after_run()
        record_after_run(differ.window, differ.state, differ.tally, failed, unsent)
