"""Drive one sync's diff in any mode against a real warehouse and a real state store.

`acknowledge` plays the runner's part without a destination: every change is acknowledged (or,
for keys the test picks, rejected), bad rows and refreshed source fingerprints are recorded the
way `SyncJob._apply` records them. `plan_of` reduces a diff to what must be equal across modes.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncer.columnar.modes import after_run
from syncer.config import load_config
from syncer.diff import Change, Differ, Replan
from syncer.runner import Runtime, SyncJob
from syncer.state import Outcome, StateStore


@dataclass
class Plan:
    tally: dict[str, int]
    changes: list[tuple[Any, ...]]
    bad: list[tuple[str, str, str]]


def write_project(root: Path, warehouse_url: str, mapping: str, mode: str, extra: str = "") -> Path:
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "mappings" / "m.toml").write_text(mapping)
    config = root / "config.toml"
    config.write_text(
        textwrap.dedent(f"""
        [syncer]
        data_dir = "data-{mode}"

        [warehouse]
        url = "{warehouse_url}"
        diff = "{mode}"
        {extra}

        [connectors.hook]
        type = "webhook"
        url = "http://127.0.0.1:9/hooks"
        signing_secret = "${{HOOK_SECRET}}"
        """)
    )
    return config


def open_job(config: Path) -> SyncJob:
    cfg = load_config(config)
    return SyncJob(cfg, "m", StateStore(cfg.state_url()), Runtime())


def diff(job: SyncJob, for_run: bool = False, full: bool = False) -> tuple[Differ, list[Change]]:
    differ, changes = job.differ(full, for_run=for_run)
    return differ, list(changes)


def plan(job: SyncJob, full: bool = False) -> tuple[Differ, Plan]:
    """A plan as `SyncJob.plan` iterates it: a `Replan` (the stream's key checks found a problem)
    voids what was yielded, and the plan starts again with the exact checks' report."""
    differ, changes = job.differ(full)
    while True:
        try:
            return differ, plan_of(differ, list(changes))
        except Replan as again:
            differ, changes = again.differ, again.changes


def run(job: SyncJob, reject: set[str], full: bool = False, crash_before_merge: bool = False) -> Plan:
    """A run as `SyncJob.run` does it, the destination played by `acknowledge`; returns its plan."""
    run_id = job.state.start_run(job.sync.name, full)
    differ, changes = diff(job, for_run=True, full=full)
    acknowledge(job, differ, changes, reject, run_id)
    if not crash_before_merge:
        rejected = sum(1 for c in changes if c.key in reject and c.kind != "removed") + len(differ.bad)
        after_run(differ, run_id, failed=0, unsent=rejected)
        job.state.finish_run(run_id, "ok", {})
    return plan_of(differ, changes)


def plan_of(differ: Differ, changes: list[Change]) -> Plan:
    tally = differ.tally.as_dict()
    return Plan(
        tally,
        # the order changes come in is each mode's own (warehouse mode: by key, for state's index)
        [(c.kind, c.key, c.fingerprint, c.match_value, c.fields, _known(c)) for c in sorted(changes, key=_by_key)],
        sorted((b.key, b.fingerprint, b.reason) for b in differ.bad),
    )


def _by_key(change: Change) -> tuple[str, str]:
    return change.key, change.kind


def _known(change: Change) -> tuple[Any, ...] | None:
    """What state held, minus the source fingerprint (each mode keeps its own kind)."""
    k = change.known
    return None if k is None else (k.fingerprint, k.dest_id, k.match_value)


def acknowledge(job: SyncJob, differ: Differ, changes: list[Change], reject: set[str], run_id: int) -> None:
    """Record every change as the destination's answer would: ok, or rejected for keys in `reject`."""
    outcomes = []
    for c in changes:
        op = "delete" if c.kind == "removed" else "upsert"
        status = "rejected" if c.key in reject and op == "upsert" else "ok"
        outcomes.append(
            Outcome(
                c.key,
                op,
                status,
                c.fingerprint,
                c.match_value,
                c.key,
                "no" if status != "ok" else None,
                c.fields if op == "upsert" else None,
                c.source_fp,
            )
        )
    outcomes += [Outcome(b.key, "upsert", "rejected", b.fingerprint, None, None, b.reason, None) for b in differ.bad]
    job.state.record(job.sync.name, run_id, outcomes)
    job.state.refresh_source_fps(job.sync.name, differ.refreshed)


def hook_mapping(fields: str, primary_key: str = "a", match_column: str = "m") -> str:
    """A webhook sync's mapping of table `model`: key `primary_key`, match field `ext` from
    `match_column`, and `fields` (TOML lines of the [fields] table)."""
    return f"""connector = "hook"
object = "things"

[model]
table = "model"
primary_key = "{primary_key}"

[match]
field = "ext"
column = "{match_column}"

[fields]
{fields}
"""
