"""Which diff runs for a sync: `diff = "columnar" | "rows" | "warehouse"` (sync, else warehouse).

`open_diff` builds the differ and its change stream for a `SyncJob`; the runner calls it and does
not care which mode answered. The fingerprint spec is the mapping as the row path hashes it
(scope, match column, NULL policy, every field), so a mapping edit re-maps every row once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from syncer.columnar.batches import record_batches
from syncer.columnar.differ import ColumnarDiffer
from syncer.config import SyncConfig
from syncer.diff import Change, Differ

if TYPE_CHECKING:
    from syncer.runner import SyncJob


def mapping_inputs(sync: SyncConfig) -> list[str]:
    """The source columns the mapping reads (match column and every field's columns), sorted."""
    return sorted({sync.match.column}.union(*(spec.columns() for spec in sync.fields.values())))


def mapping_spec(sync: SyncConfig, scope: str) -> list[Any]:
    return [scope, sync.match.column, sync.null_policy, {n: s.model_dump(mode="json") for n, s in sync.fields.items()}]


def diff_mode(job: SyncJob) -> str:
    return job.sync.diff or job.config.warehouse.diff


def open_diff(job: SyncJob, **kwargs: Any) -> tuple[Differ, Iterator[Change]]:
    """(differ, changes) for the sync's diff mode; kwargs are `Differ`'s."""
    sync = job.sync
    if diff_mode(job) == "rows":
        differ = Differ(**kwargs)
        return differ, differ.changes(job.source.stream(sync.model, job.mapping_dir))
    scope = f"{sync.connector}:{sync.object}:{sync.match.field}"
    spec, inputs = mapping_spec(sync, scope), mapping_inputs(sync)
    if diff_mode(job) == "warehouse":
        from syncer.warehouse_diff.modes import open_warehouse_diff, warehouse_sql

        warehouse = open_warehouse_diff(job, spec, inputs, **kwargs)
        if warehouse is not None:
            sql, model_sql = warehouse_sql(job, warehouse, spec, inputs)
            return warehouse, warehouse.changes_from(job.source, sql, model_sql)
    columnar = ColumnarDiffer(**kwargs, inputs=inputs, spec=spec)
    batches = record_batches(job.source, sync.model, job.mapping_dir, job.config.warehouse.stream_batch)
    return columnar, columnar.changes_from(batches)
