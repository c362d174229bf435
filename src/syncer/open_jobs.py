"""Destination jobs that outlive the run that made them (Salesforce Bulk API 2.0 ingest jobs).

A job closed at the destination is processed whether or not anyone polls it, and two jobs on the same records
land in no promised order (Bulk API 2.0 "Job States", "How Requests Are Processed"). A run that ends while its
job still runs must therefore leave that job in state, and the next run of the sync must settle it before it
writes those records again; otherwise the old job (older values) can land after the new one.

    connector write:  create job -> ledger.opened(job, records) -> upload, close -> results -> ledger.finished(job)
    next run, first:  settle(): ledger.open_jobs() -> connector.resume_jobs(jobs) ->
                        ended:   its results recorded in state as the run that made it would have (ok, rejected;
                                 failed ones are planned again by this run's diff), the row deleted
                        running: `held` -> hold(): this run does not write those records (failed, with the reason)

A crash at any point is recoverable: the row is written before the upload, so a job that may be processed is
always known; a job created but not recorded was never uploaded or closed, and Salesforce never processes it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from syncer.connector import Record, Result
from syncer.state import TS, Outcome, StateStore, _dumps, metadata, utcnow

if TYPE_CHECKING:
    from syncer.connector import Connector
    from syncer.diff import Change

open_jobs = sa.Table(  # migration 0018
    "open_jobs",
    metadata,
    sa.Column("sync", sa.String(200), primary_key=True),
    sa.Column("job_id", sa.String(200), primary_key=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Column("destination", sa.String(32)),
    sa.Column("records", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class OpenJob:
    """One job a run created and whose results no run has read yet. `records`: what it carries, in upload order
    (their `fields` are the values sent, as state stores a payload; `idempotency_key` is not kept)."""

    job_id: str
    created_at: dt.datetime
    run_id: int | None
    destination: str | None  # digest of the destination definition it was written under (syncer.destinations)
    records: tuple[Record, ...]


class JobLedger:
    """The `open_jobs` rows of one sync; safe to call from the runner's sending threads (one transaction each)."""

    def __init__(self, state: StateStore, sync: str, destination: str | None, run_id: int | None) -> None:
        self.state, self.sync, self.destination, self.run_id = state, sync, destination, run_id

    def opened(self, job_id: str, records: Sequence[Record]) -> None:
        """Record `job_id` before any data is uploaded to it."""
        carried = [
            {"key": r.key, "op": r.op, "fp": r.fingerprint, "match": r.match_value, "id": r.dest_id, "fields": r.fields}
            for r in records
        ]
        row = {"sync": self.sync, "job_id": job_id, "created_at": utcnow(), "run_id": self.run_id}
        with self.state.engine.begin() as conn:
            conn.execute(
                open_jobs.insert(), {**row, "destination": self.destination, "records": _dumps({"records": carried})}
            )

    def finished(self, job_id: str) -> None:
        """Forget `job_id`: its results were read, or it was aborted before Salesforce processed anything."""
        with self.state.engine.begin() as conn:
            conn.execute(open_jobs.delete().where(open_jobs.c.sync == self.sync, open_jobs.c.job_id == job_id))

    def open_jobs(self) -> list[OpenJob]:
        """This sync's open jobs, oldest first."""
        query = sa.select(open_jobs).where(open_jobs.c.sync == self.sync).order_by(open_jobs.c.created_at)
        with self.state.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            OpenJob(row["job_id"], row["created_at"], row["run_id"], row["destination"], _records(row["records"]))
            for row in rows
        ]


def _records(text: str) -> tuple[Record, ...]:
    carried: list[dict[str, Any]] = json.loads(text)["records"]
    return tuple(Record(c["key"], c["op"], c["fields"] or {}, c["fp"], "", c["match"], c["id"]) for c in carried)


@dataclass
class Settled:
    """What settling the open jobs did: results recorded by status, and the keys held back (key -> why)."""

    counts: dict[str, int]
    held: dict[str, str]


def settle(ledger: JobLedger, connector: Connector, run_id: int) -> Settled:
    """Settle every open job of the sync (module docstring) before the run writes anything. A job the connector
    gives no answer for is held (nothing is known of it)."""
    settled = Settled({"ok": 0, "rejected": 0, "failed": 0}, {})
    jobs = ledger.open_jobs()
    answers = connector.resume_jobs(jobs) if jobs else {}
    for job in jobs:
        answer = answers.get(job.job_id, f"job {job.job_id} was not resumed by connector {connector.name}")
        if isinstance(answer, str):
            settled.held.update((r.key, answer) for r in job.records)
            continue
        outcomes = [_outcome(r, result, job.destination) for r, result in zip(job.records, answer, strict=True)]
        ledger.state.record(ledger.sync, run_id, outcomes)
        ledger.finished(job.job_id)
        for o in outcomes:
            settled.counts[o.status] += 1
    return settled


def _outcome(record: Record, result: Result, destination: str | None) -> Outcome:
    payload = record.fields if record.op != "delete" else None
    return Outcome(
        record.key,
        record.op,
        result.status,
        record.fingerprint,
        record.match_value,
        result.dest_id,
        result.reason,
        payload,
        None,  # the source row's fingerprint then is not kept: the next diff maps the row again
        destination,
    )


def hold(
    changes: Iterator[Change], held: dict[str, str], record: Callable[[list[tuple[Change, str]]], None]
) -> Iterator[Change]:
    """`changes` without those of held keys; the held ones, with why, go to `record` when the stream ends (the
    runner records them `failed`): the destination may not hold their values yet, and a later run sends them
    once their job has ended."""
    if not held:
        yield from changes
        return
    waiting: list[tuple[Change, str]] = []
    for change in changes:
        if change.key in held:
            waiting.append((change, held[change.key]))
        else:
            yield change
    if waiting:
        record(waiting)
