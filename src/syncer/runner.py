"""The runner: plan or apply one sync, batch by batch, advancing state only on acknowledgement.

    source rows -> mapper -> Differ -> batches -> connector.send (rate limit, retries, split)
                                                  -> state.record (one transaction per batch)

Batches go out on a small thread pool (the connector's declared concurrency), so throughput is
bounded by the destination's rate limit rather than by its latency. Results are written by this
thread only, in the order batches complete. A crash at any moment loses at most the batches in
flight: their records are not in state, so the next run sends them again (idempotently).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from itertools import chain, islice
from typing import Any

import sqlalchemy as sa

from syncer import failpoints, registry
from syncer.batch_identity import IdentityGuard
from syncer.config import Config, SyncConfig, ignored_updated_at, unknown_column_issues
from syncer.connector import (
    Connector,
    Record,
    RefusedProblem,
    Result,
    TransientProblem,
    UnreachableProblem,
    located,
    op_of,
)
from syncer.departed import DEPARTED_REASON, Departed, restore_all
from syncer.destinations import DestinationDefinition, SyncDestination
from syncer.diff import Change, Differ, Replan, Tally
from syncer.errors import (
    ConfigError,
    ConfigIssue,
    CredentialRefused,
    DestinationUnreachable,
    FatalError,
    RetryableError,
    WarehouseError,
    described,
)
from syncer.identity import key_text
from syncer.keycheck import KeyReport, MatchRule
from syncer.mapping import Mapper
from syncer.open_jobs import JobLedger, hold, settle
from syncer.ownership import verify_owner
from syncer.project import project_id, scoped, sync_identity_since
from syncer.rekeys import IdentityMoves
from syncer.retry import RetryPolicy
from syncer.secrets import mask
from syncer.source import Source
from syncer.state import Outcome, StateStore, runs
from syncer.typecheck import type_issues

log = logging.getLogger("syncer.runner")

RECIPIENTS_CHECKED = 200  # distinct recipient values `check` reads from a messaging sync's model


@dataclass
class Runtime:
    """What tests and benchmarks vary: the retry policy and the clock the rate limiter uses."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    progress: Callable[[str, int], None] | None = None  # (event, count) for progress bars


@dataclass
class Summary:
    sync: str
    tally: Tally
    run_id: int | None = None
    succeeded: int = 0
    failed: int = 0
    rejected: int = 0
    api_calls: int = 0
    duration_s: float = 0.0
    status: str = "planned"
    error: str | None = None
    bad_rejected: int = 0  # rows rejected before reaching the destination (keys, mapping)
    throttled: int = 0  # 429s (or equivalent) the destination answered
    api_usage: tuple[int, int] | None = None  # (used, limit) of a daily quota, when the destination reports it
    samples: list[dict[str, Any]] = field(default_factory=list)
    fatal: FatalError | None = None  # what stopped the run; the CLI prints it once and exits with its code

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sync": self.sync, **self.tally.as_dict()}
        out["out_of_sync"] = dict(sorted(self.tally.out_of_sync.items()))  # reason -> rows (plan and run)
        out["bad_row_samples"] = [{"key": key_text(b.key), "reason": b.reason} for b in self.tally.bad_samples]
        out["destination_changed"] = dict(sorted(self.tally.redirected.items()))  # reason -> records re-planned
        if self.run_id is not None:
            out.update(
                run_id=self.run_id,
                succeeded=self.succeeded,
                failed=self.failed,
                rejected=self.rejected + self.bad_rejected,
                api_calls=self.api_calls,
                status=self.status,
                error=self.error,
            )
        out["duration_s"] = round(self.duration_s, 3)
        if self.samples:
            out["samples"] = self.samples
        return out

    @property
    def exit_code(self) -> int:
        """1 when records failed, were rejected, or are held back out of sync (README, "Exit codes")."""
        troubled = self.status in ("failed", "partial", "out_of_sync")
        return 1 if (troubled or self.failed or self.rejected or self.bad_rejected) else 0


def idempotency_key(sync: str, key: str, fingerprint: str, project: str) -> str:
    """32 hex digits naming one version of one record of one sync of one project (syncer.project): a
    receiver that drops a repeated key must never drop another project's record of the same sync name."""
    return hashlib.sha256(f"{project}\x1f{sync}\x1f{key}\x1f{fingerprint}".encode()).hexdigest()[:32]


def _no_deletes_outside_mirror(mode: str, tally: Tally) -> None:
    """Outside mirror mode nothing is deleted: the diff's removals are rows that left the model and whose
    records stay at the destination (syncer.departed), counted as `left_model`, not `removed`."""
    if mode != "mirror":
        tally.left_model, tally.removed = tally.left_model + tally.removed, 0


def _batched(items: Iterator[Change], size: int) -> Iterator[list[Change]]:
    while batch := list(islice(items, size)):
        yield batch


def _sized_batches(connector: Connector, changes: Iterator[Change]) -> Iterator[list[Change]]:
    """Batches of the size the connector prefers for this many changes (e.g. Bulk API above a count).

    The total is not known while rows stream, so look ahead only as far as the largest batch the
    connector would ever want: fewer changes than that is an exact count, more is "at least".
    """
    ceiling = connector.preferred_batch_size(sys.maxsize)
    head = list(islice(changes, ceiling))
    size = connector.preferred_batch_size(len(head) if len(head) < ceiling else sys.maxsize)
    yield from _batched(chain(head, changes), max(1, size))


def destination_problems(connector: Connector, policy: RetryPolicy) -> list[str]:
    """`connector.check()`, asked again (at most 4 attempts of `policy`) only while a problem is a
    TransientProblem; DestinationUnreachable when nothing listens at its address."""
    found: list[str] = []
    unreachable: list[DestinationUnreachable] = []

    def attempt() -> None:
        found[:] = connector.check()
        unreachable[:] = [p.error for p in found if isinstance(p, UnreachableProblem)]
        if unreachable:  # nothing listens: not worth a retry here
            return
        transient = [p for p in found if isinstance(p, TransientProblem)]
        if transient:
            raise RetryableError("; ".join(transient))

    with contextlib.suppress(RetryableError):  # still no answer: reported as the problems it is
        replace(policy, max_attempts=min(4, policy.max_attempts)).run(attempt)
    if unreachable:
        raise unreachable[0]
    return [connector.refused(p.error) if isinstance(p, RefusedProblem) else p for p in found]


class SyncJob:
    """Everything one sync needs, opened once: source, state, mapper, connector."""

    def __init__(self, config: Config, name: str, state: StateStore, runtime: Runtime | None = None) -> None:
        self.config = config
        self.sync: SyncConfig = config.sync(name)
        self.state = state
        self.runtime = runtime or Runtime()
        self.source = Source(config.warehouse, config.base_dir, str(config.path))
        self.mapping_dir = config.base_dir / config.app.mappings
        scope = f"{self.sync.connector}:{self.sync.object}:{self.sync.match.field}"
        entry = config.connectors[self.sync.connector]
        where = (entry.type, registry.load(entry.type).addresses(entry.settings), self.sync.object, self.sync.mode)
        definition = DestinationDefinition.of(*where, self.sync.match.field)
        earlier = DestinationDefinition.of(*where, self.sync.match.field, percent=False).digest
        # where and how it writes; a match field names records only where the destination finds them by it
        self.destination = SyncDestination(
            state, self.sync.name, definition, registry.load(entry.type).finds_by_match_value, earlier
        )
        self.mapper = Mapper(
            self.sync.fields, self.sync.match.column, self.sync.null_policy, scope, destination=definition.digest
        )
        self._sending: Connector | None = None  # set while run() sends
        self._elsewhere: set[str] = set()  # digests of definitions of other destinations (set by `_apply`)
        self.match_rule: MatchRule | None = None  # the destination's comparison of match values, set by preflight
        # `plan/run --full-diff`: this diff compares the whole model (the `updated_at` window is not used), sends
        # only what changed and records the watermark as a full diff does (syncer.warehouse_diff.watermark)
        self.full_diff = False
        # `plan/run --retry-rejected`: rows the destination rejected before are sent again though unchanged
        # (the cause was fixed at the destination: a field created, a record restored, a rule relaxed)
        self.retry_rejected = False
        self.max_removed: int | None = None  # the delete guard of the current diff (mirror mode)

    def validate_columns(self) -> None:
        """Every column the mapping names exists in the model (ConfigError, with "did you mean"), and the
        model's columns can be read by name (WarehouseError naming the file and model key: a failing query,
        two columns of one name). Every mode and `check` start here, so each refuses a model alike."""
        try:
            columns = self.source.columns(self.sync.model, self.mapping_dir)
        except WarehouseError as exc:
            raise self.located(exc) from exc
        issues = unknown_column_issues(self.config.sync_files[self.sync.name], self.sync, columns)
        if issues:
            raise ConfigError(issues)

    @functools.cached_property
    def project(self) -> str:
        """The state's project id (syncer.project), read once per job."""
        with self.state.engine.begin() as conn:
            return project_id(conn)

    def connector(self, recipients: tuple[tuple[str, str], ...] = ()) -> Connector:
        """The sync's connector; `recipients` (`model_recipients`, for `check`) are checked as reachable too."""
        destination = replace(self.sync.destination(), recipients=recipients)
        return registry.build_connector(self.config, self.sync.connector, self.runtime, destination)

    def learn_types(self, connector: Connector | None = None) -> None:
        """Ask the destination what each mapped field takes (cached by the connector for the run), so
        values are converted, rejected and fingerprinted as they will go on the wire. `plan` opens a
        connector just for this: it only reads the destination's schema."""
        own = connector or self.connector()
        try:
            self.mapper = self.mapper.with_types(own.field_types())
            moved = self.mapper.instant_issues(own.instant_fields())
        finally:
            if connector is None:
                own.close()
        if moved:
            where = self.config.sync_files[self.sync.name]
            raise ConfigError([ConfigIssue(where, f"fields.{name}", why) for name, why in moved.items()])

    def model_recipients(self, limit: int = RECIPIENTS_CHECKED) -> tuple[tuple[str, str], ...]:
        """(value, "fields.<field> in <mapping file>") for each distinct value of a mapped recipient field
        (`Connector.recipient_fields`: a Slack sync's `channel`) in the model, for `check` (one pass over the
        model, as `type_issues` makes). The first `limit` distinct values are kept: a channel costs one lookup at
        the destination, and what the scopes depend on is the kinds of recipient (user IDs, public or private
        channels), which a few values show."""
        cls = registry.load(self.config.connectors[self.sync.connector].type)
        fields = [f for f in cls.recipient_fields if f in self.sync.fields]
        if not fields:
            return ()
        where = self.config.sync_files[self.sync.name]
        found: dict[tuple[str, str], None] = {}
        rows = self.source.stream(self.sync.model, self.mapping_dir)
        try:
            for row in rows:
                computed = self.mapper.computed(row)
                for name in fields:
                    value = str(computed.get(name) or "").strip()
                    if value and len(found) < limit:
                        found.setdefault((value, f"fields.{name} in {where}"))
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()
        return tuple(found)

    def destination_problems(self, connector: Connector) -> list[str]:
        """What `check` verifies about the destination (match field unique and writable, mapped fields
        exist, permissions). A verdict is final and costs one check; only when a problem is a
        TransientProblem (5xx, 429, timeout) is the destination asked again, at most 4 attempts."""
        return destination_problems(connector, self.runtime.retry)

    def verify_destination(self, connector: Connector) -> None:
        """`destination_problems` at the start of every plan and run: a problem stops the sync as a
        configuration error (exit 2) before anything is sent, each at the file and key to edit (`located`); a
        destination that only answered transiently (5xx, 429, timeout) past the retries is a RetryableError
        (exit 1, README "Exit codes"), no verdict on the configuration."""
        found = self.destination_problems(connector)
        verdicts = [p for p in found if not isinstance(p, TransientProblem)]
        if verdicts:
            where = self.config.sync_files[self.sync.name], self.config.connectors[self.sync.connector].file
            raise ConfigError(list(dict.fromkeys(located(p, *where) for p in verdicts)))
        if found:  # no verdict on the configuration: a transient outage that outlasted the retries (exit 1)
            raise RetryableError("; ".join(found))
        self.refuse_duplicating_moves()

    def refuse_duplicating_moves(self) -> None:
        """An upsert sync whose `match.field` changed: ConfigError (exit 2) naming the file, `match.field`
        and the fixes while a record syncer wrote does not carry the new field with its match value --
        the upsert by the new field would create a second record for it and abandon the first. Mirror
        mode deletes the old record first (a re-key, syncer.rekeys); update mode never creates; insert
        mode matches nothing. A record that carries it (mapped as a field by an earlier run) is updated
        in place by the upsert."""
        if self.sync.mode != "upsert":
            return
        moved = self.destination.field_moves()
        missing, example, old = self.destination.duplicating_moves(moved) if moved else (0, None, None)
        if not missing:
            return
        new, column = self.sync.match.field, self.sync.match.column
        raise ConfigError(
            [
                ConfigIssue(
                    self.config.sync_files[self.sync.name],
                    "match.field",
                    f"changed from {old!r} to {new!r}, but {missing} record(s) syncer wrote to {self.sync.object} "
                    f"(e.g. key {example!r}) do not hold {new}: an upsert by {new} finds no record holding the value "
                    "and creates a second one, abandoning the first. Put match.field back to "
                    f'{old!r} and map the new field first (fields.{new} = "{column}"), run once so every record '
                    f'holds it, then set match.field = {new!r}; or run once with mode = "mirror" (each record is '
                    "deleted and created again under the new field)",
                )
            ]
        )

    def type_issues(self, connector: Connector) -> tuple[list[str], list[str]]:
        """(problems, warnings): mapped values the destination's field types cannot take (`check`)."""
        self.learn_types(connector)
        rows = self.source.stream(self.sync.model, self.mapping_dir)
        try:
            where = self.config.sync_files[self.sync.name]
            return type_issues(self.mapper, connector.field_types(), rows, where)
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()

    def preflight(self, connector: Connector | None = None, duplicates: bool = True) -> KeyReport:
        """Every warehouse query a plan runs before streaming: the column probe, then the identity
        checks (NULL / duplicated keys, match values colliding under the destination's comparison).
        `check` runs exactly this too, so it cannot pass where `plan` fails. `duplicates=False`: the
        diff finds duplicated keys itself (warehouse mode) and calls `key_report` when it finds any."""
        self.validate_columns()
        self.learn_match_rule(connector)
        return self.key_report(duplicates)

    def learn_match_rule(self, connector: Connector | None = None) -> MatchRule | None:
        """How the destination compares match values (the connector says), kept in `match_rule`; None
        when the object's match value names the parent a record attaches to (a task's account:
        `Connector.parent_match_objects`), so rows sharing it are separate records, and no check of
        colliding match values applies."""
        entry = self.config.connectors[self.sync.connector]
        if not registry.load(entry.type).match_identifies(self.sync.object):
            self.match_rule = None
            return None
        if connector is None:
            connector = self.connector()
            try:
                casefold = connector.match_casefold()
            finally:
                connector.close()
        else:
            casefold = connector.match_casefold()
        self.match_rule = MatchRule(self.sync.match.column, self.sync.match.field, casefold)
        return self.match_rule

    def key_report(self, duplicates: bool = True) -> KeyReport:
        """The identity checks alone, with the match rule `learn_match_rule` (or `preflight`) learned."""
        return self.source.check_keys(self.sync.model, self.mapping_dir, self.match_rule, duplicates)

    def differ(self, full: bool, allow_deletes: bool = False, for_run: bool = False) -> tuple[Differ, Iterator[Change]]:
        """(differ, changes). The identity checks (`key_report`) run before the stream, as `open_diff`
        asks; a columnar plan runs them in its stream, so iterating it may raise `Replan` (see `plan`)."""
        self.validate_columns()
        self.learn_match_rule(self._sending)
        ignored = ignored_updated_at(self.sync, self.config.warehouse)
        if ignored:
            log.warning("sync %s: %s", self.sync.name, ignored)
        if self.full_diff and (ignored or not self.sync.model.updated_at):
            log.warning(
                "sync %s: --full-diff: this sync compares the whole model on every diff already", self.sync.name
            )
        max_removed = None
        if self.sync.mode == "mirror" and not allow_deletes:  # a plan: the departed records a run puts back too
            held = self.state.count_synced(self.sync.name) + self.state.count_departed(self.sync.name)
            max_removed = int(self.sync.max_delete_share * held)
        self.max_removed = max_removed
        from syncer.columnar.modes import open_diff  # numpy, pyarrow, polars: loaded by the commands that diff

        return open_diff(
            self,
            sync=self.sync.name,
            primary_key=self.sync.model.primary_key,
            mapper=self.mapper,
            state=self.state,
            insert_only=self.sync.mode == "insert",
            destination=self.destination.compared,
            redirected=self.destination.reason,
            full=full,
            max_removed=max_removed,
            remember_sources=for_run,
            retry_rejected=self.retry_rejected,
        )

    def close(self) -> None:
        self.source.close()

    # -- plan ---------------------------------------------------------------------------------

    def plan(self, show: int = 0, full: bool = False, full_diff: bool = False, retry_rejected: bool = False) -> Summary:
        """Count what a run would do; write nothing anywhere. `full_diff`, `retry_rejected`: see `__init__`."""
        started = time.monotonic()
        self.full_diff, self.retry_rejected = full_diff, retry_rejected
        verify_owner(self.state, self.sync.name, self.config, claim=False)  # one state store per project
        connector = self.connector()  # only read: field types and the match comparison
        try:
            self.learn_types(connector)
            self.verify_destination(connector)
            self._sending = connector
            differ, changes = self.differ(full)
            moves = self.identity_moves(connector, differ)
        except FatalError as exc:
            named = self.located(exc, connector)
            if named is exc:
                raise
            raise named from exc
        finally:
            self._sending = None
            connector.close()
        samples: list[Change] = []
        departed = Departed(self.state, self.sync.name, self.sync.mode == "insert")
        try:
            while True:
                try:
                    taken: dict[str, int] = {}
                    for change in self._would_send(moves, departed, changes, differ.tally):
                        if taken.get(change.kind, 0) < show:  # up to `show` of each kind: deletes come last
                            taken[change.kind] = taken.get(change.kind, 0) + 1
                            samples.append(change)
                        if self.runtime.progress:
                            self.runtime.progress("planned", 1)
                    break
                except Replan as again:  # the stream's key checks found a problem: the plan again, exactly
                    differ, changes, samples = again.differ, again.changes, []
                    departed = Departed(self.state, self.sync.name, self.sync.mode == "insert")
                    moves = moves.renewed(differ.tally)
                    differ.deletes = moves.deletes
        except WarehouseError as exc:
            raise self.located(exc) from exc
        if self.sync.mode != "mirror":
            differ.tally.departed = departed.remaining() + differ.tally.removed
        elif differ.tally.held_deletes:  # the guard holds every removal back (a run sends none of them)
            deferred = {c.key for c in moves.deferred}
            samples = [c for c in samples if c.kind != "removed" or c.key in deferred]
        _no_deletes_outside_mirror(self.sync.mode, differ.tally)
        summary = Summary(self.sync.name, differ.tally, duration_s=time.monotonic() - started)
        summary.samples = self._describe(samples)
        return summary

    def _would_send(
        self, moves: IdentityMoves, departed: Departed, changes: Iterator[Change], tally: Tally
    ) -> Iterator[Change]:
        """A plan's changes as a run sends them, in its order: the stream's upserts, its removals (a mirror run
        deletes them; another mode keeps them), then the re-keyed upserts a mirror run sends once their old
        record's delete is acknowledged. A mirror run first puts every departed record back (`restore_all`) and
        deletes those still out of the model with the diff's removals, under the same delete guard: a plan,
        which writes nothing, adds them after the stream."""
        stream: Iterator[Change] = departed.returning(changes, tally)
        if moves.mirror:
            stream = chain(stream, self._departed_removals(departed, tally))
        yield from moves.now(stream)
        yield from moves.deferred

    def _departed_removals(self, departed: Departed, tally: Tally) -> Iterator[Change]:
        """The departed records whose row did not come back (read once the stream ended), as the removals a
        mirror run makes of them; none when the delete guard holds the removals back (`Tally.held_deletes`)."""
        remaining = departed.known
        if not remaining:
            return
        tally.removed += len(remaining)
        deleting = tally.removed - tally.handed_over  # a handover deletes nothing (syncer.rekeys)
        if tally.held_deletes or (self.max_removed is not None and deleting > self.max_removed):
            tally.held_deletes = tally.removed
            return
        for key, known in remaining.items():
            yield Change("removed", key, known.fingerprint, known.match_value, {}, known)

    def _describe(self, samples: list[Change]) -> list[dict[str, Any]]:
        """Each sampled change as a run sends it: {"kind", "op", "key", "match"} and, for an upsert, the `fields`
        sent (added) or `changes` {field: {"from", "to"}} (changed); a field the run leaves out (a NULL under
        `null_policy = "skip"`, a field no longer mapped) is {"from", "skipped": why}, never `to: null`. A removal
        is a delete with the record's id in mirror mode; in another mode it is kind "left_model", op None: the
        record stays at the destination."""
        before = self.state.payloads(self.sync.name, [c.key for c in samples if c.kind == "changed"])
        mirror = self.sync.mode == "mirror"
        described = []
        for c in samples:
            removed = c.kind == "removed"
            item: dict[str, Any] = {"kind": c.kind, "op": op_of(self.sync.mode, removed), "key": key_text(c.key)}
            item["match"] = c.match_value
            moved_from = c.known.destination if c.known is not None else None
            if moved_from is not None and moved_from != self.destination.digest:
                item["destination"] = self.destination.reason(moved_from)
            if removed and mirror:
                item["id"] = c.known.dest_id if c.known is not None else None
            elif removed:
                item.update(kind="left_model", op=None, note=DEPARTED_REASON.format(mode=self.sync.mode))
            elif c.kind == "added":
                item["fields"] = c.fields
            elif c.kind == "changed":
                old = before.get(c.key, {})
                item["changes"] = {
                    f: {"from": old.get(f), "to": c.fields[f]} if f in c.fields else self._left_out(f, old.get(f))
                    for f in sorted(set(old) | set(c.fields))
                    if f not in c.fields or old.get(f) != c.fields[f]
                }
            described.append(item)
        return described

    def _left_out(self, field: str, old: Any) -> dict[str, Any]:
        """A field a run does not send, though the destination holds a value for it: it keeps that value."""
        if field in self.sync.fields:
            return {"from": old, "skipped": "null (null_policy skip: not sent, the destination keeps its value)"}
        return {"from": old, "skipped": "no longer mapped (not sent, the destination keeps its value)"}

    # -- run ----------------------------------------------------------------------------------

    def run(
        self, full: bool = False, allow_deletes: bool = False, full_diff: bool = False, retry_rejected: bool = False
    ) -> Summary:
        """Send what changed; `full` re-sends every record, `full_diff` (see `__init__`) only compares all of them,
        `retry_rejected` also sends the rows rejected before and unchanged since."""
        started = time.monotonic()
        self.full_diff, self.retry_rejected = full_diff, retry_rejected
        # one state store per project, checked before anything is written: a refused run leaves no trace in
        # the owner's history (syncer.ownership)
        verify_owner(self.state, self.sync.name, self.config, claim=True)
        connector = self.connector()
        run_id = self.state.start_run(self.sync.name, full)
        summary = Summary(self.sync.name, Tally(), run_id=run_id, status="running")
        checked: int | None = None  # calls made before the first write (type and schema reads)
        try:
            self.learn_types(connector)
            self.verify_destination(connector)
            checked = connector.stats.calls  # api_calls counts the writes, not the schema check before them
            self.destination.adopt()  # records an older release wrote: taken as written here (no re-send)
            self._sending = connector  # the run's connector answers the match comparison; no second one
            running = self._settle_open_jobs(connector, summary)  # before this run writes anything
            if self.sync.mode == "mirror":  # departed records are deleted like any removal (syncer.departed)
                restore_all(self.state, self.sync.name)
            differ, changes = self.differ(full, allow_deletes, for_run=True)
            summary.tally = differ.tally
            self._apply(
                connector, differ, hold(changes, running, functools.partial(self._record_held, summary)), summary
            )
            from syncer.columnar.modes import after_run

            after_run(differ, run_id, summary.failed, summary.rejected + summary.bad_rejected)
            summary.status = "ok" if not (summary.failed or summary.rejected or summary.bad_rejected) else "partial"
            held = sum(differ.tally.out_of_sync.values())  # rows in the model the destination lacks
            if held and summary.status == "ok":
                summary.status = "out_of_sync"  # nothing failed now, but the destination still lacks these
                reasons = ", ".join(f"{n} {why}" for why, n in sorted(differ.tally.out_of_sync.items()))
                summary.error = (
                    f"{held} records held back ({reasons}): rejected earlier and unchanged since, so "
                    f"the destination is out of sync for them; `syncer audit {self.sync.name} --status rejected` "
                    "says why; a fixed row or mapping is sent by the next run, and once the cause is fixed at the "
                    f"destination `syncer run {self.sync.name} --retry-rejected` sends them again"
                )
            if differ.tally.held_deletes:
                summary.status = "partial"
                summary.error = (
                    f"{differ.tally.held_deletes} deletes held back: more than {self.sync.max_delete_share:.0%} "
                    "of the synced records would be deleted at once (they left the model, or their match "
                    "value moved); check the model, then `syncer run "
                    f"{self.sync.name} --allow-deletes` to apply them"
                )
                log.warning("sync %s: %s", self.sync.name, summary.error)
        except FatalError as exc:  # reported once, by the caller (CLI error path, daemon log)
            summary.fatal = self.located(exc, connector)
            summary.status, summary.error = "failed", mask(str(summary.fatal))
        except BaseException as exc:  # a crash of ours or the warehouse's: record it, then let it surface
            summary.status, summary.error = "failed", mask(described(exc))
            raise
        finally:
            # api_calls counts writes: a run stopped before writing (a config error) made none
            summary.api_calls = connector.stats.calls - (connector.stats.calls if checked is None else checked)
            summary.throttled = connector.stats.throttled
            summary.api_usage = getattr(connector, "api_usage", None)
            summary.duration_s = time.monotonic() - started
            counts = {
                **summary.tally.as_dict(),
                "succeeded": summary.succeeded,
                "failed": summary.failed,
                "rejected": summary.rejected + summary.bad_rejected,
                "api_calls": summary.api_calls,
            }
            self.state.finish_run(run_id, summary.status, counts, summary.error)
            self.state.prune_audit(self.config.app.audit_retention_days)
            self._sending = None
            connector.close()
        return summary

    def _settle_open_jobs(self, connector: Connector, summary: Summary) -> dict[str, str]:
        """Give the connector the sync's job ledger and settle the jobs earlier runs left open (syncer.open_jobs):
        ended ones are recorded in state and counted; returns the keys of those still running (key -> why)."""
        connector.ledger = JobLedger(self.state, self.sync.name, self.destination.digest, summary.run_id)
        settled = settle(connector.ledger, connector, summary.run_id or 0)
        summary.succeeded += settled.counts["ok"]
        summary.rejected += settled.counts["rejected"]
        if settled.held:
            log.warning(
                "sync %s: %d records held back: %s",
                self.sync.name,
                len(settled.held),
                next(iter(settled.held.values())),
            )
        return settled.held

    def _record_held(self, summary: Summary, waiting: list[tuple[Change, str]]) -> None:
        """The changes `hold` kept back, recorded `failed` with why: sent by a later run once their job ended."""
        outcomes = [
            Outcome(
                c.key,
                op_of(self.sync.mode, c.kind == "removed"),
                "failed",
                c.fingerprint,
                c.match_value,
                None,
                why,
                None,
                c.source_fp,
                self.destination.digest,
            )
            for c, why in waiting
        ]
        self.state.record(self.sync.name, summary.run_id or 0, outcomes)
        summary.failed += len(outcomes)

    def located(self, exc: FatalError, connector: Connector | None = None) -> FatalError:
        """A warehouse error names the mapping file and model key whose query failed, and the fix; a refused
        credential (`connector`'s) is a ConfigError at the setting holding it in the connector's file, with the fix."""
        if isinstance(exc, CredentialRefused) and connector is not None:
            where = self.config.sync_files[self.sync.name], self.config.connectors[self.sync.connector].file
            error = ConfigError([located(connector.refused(exc), *where)])
            error.status = exc.status
            return error
        if not isinstance(exc, WarehouseError) or exc.located or "warehouse.url" in str(exc):
            return exc
        model = self.sync.model
        key = "model.table" if model.table else "model.query" if model.query else "model.sql_file"
        named = WarehouseError(
            f"{self.config.sync_files[self.sync.name]}: {key}: {exc} (check that the {key.split('.')[1]} "
            "is right and the warehouse user may read it; `syncer check` tests every model)"
        )
        named.__cause__, named.located = exc, True
        return named

    def _apply(self, connector: Connector, differ: Differ, changes: Iterator[Change], summary: Summary) -> None:
        moves = self.identity_moves(connector, differ)
        self._elsewhere = moves.elsewhere
        guard = None  # one record per identity; none to guard where the match value names the parent (tasks)
        if connector.match_identifies(self.sync.object):
            guard = IdentityGuard(self.sync.match.field, connector.match_casefold())

        departed = Departed(self.state, self.sync.name, self.sync.mode == "insert")
        departing: list[str] = []  # left the model, kept at the destination: kept in state too (syncer.departed)

        def to_send() -> Iterator[Change]:
            for change in moves.now(departed.returning(changes, differ.tally)):
                if change.kind != "removed" or moves.mirror:  # the connector finds the record by match value if need be
                    yield change
                else:
                    departing.append(change.key)

        fatal = self._send(connector, guard, differ, to_send(), summary)
        self._record_bad(differ, summary)
        self._refresh_sources(differ, at_least=1)
        departed.restore_back()
        if departing:
            reason = DEPARTED_REASON.format(mode=self.sync.mode)
            self.state.depart(self.sync.name, summary.run_id or 0, departing, reason)
        differ.tally.departed = self.state.count_departed(self.sync.name)
        _no_deletes_outside_mirror(self.sync.mode, differ.tally)
        if fatal:
            raise fatal
        if moves.forget:  # handed over (mirror): a live row's record is theirs, only state lets go of them
            self.state.forget_removed(self.sync.name, moves.forget)
        if moves.deferred:  # mirror re-keys: upserted once their old record's delete is acknowledged
            held = moves.after_deletes(lambda keys: set(self.state.lookup(self.sync.name, keys)))
            fatal = self._send(connector, guard, differ, held, summary)
            if fatal:
                raise fatal

    def identity_moves(self, connector: Connector, differ: Differ) -> IdentityMoves:
        """The run's (or plan's) handovers and re-keys (syncer.rekeys), under the delete guard; `differ`'s guard
        then counts only the removals that delete a record (`IdentityMoves.deletes`)."""
        mirror, casefold = self.sync.mode == "mirror", connector.match_casefold()

        def holders(identities: set[str]) -> dict[str, set[str]]:
            return self.state.match_holders(self.sync.name, identities, casefold)

        refielded = self.destination.field_moves()  # records matched on another field before (syncer.rekeys)
        elsewhere = self.destination.elsewhere()  # records written to another destination or object
        guard = self.max_removed if mirror else None
        # the record's identity is syncer's key where the destination finds records by it (a webhook receiver),
        # or where the match value names the parent the record attaches to (a task)
        by_key = not (connector.finds_by_match_value and connector.match_identifies(self.sync.object))
        moves = IdentityMoves(casefold, mirror, differ.tally, guard, holders, refielded, elsewhere, by_key)
        differ.deletes = moves.deletes
        return moves

    def _send(
        self,
        connector: Connector,
        guard: IdentityGuard | None,
        differ: Differ,
        changes: Iterator[Change],
        summary: Summary,
    ) -> FatalError | None:
        """Send `changes` in the connector's batches, up to its concurrency; every acknowledged batch is
        recorded in state before the next is collected. Returns the first fatal error, after recording
        what was in flight."""
        inflight: dict[Future[list[Result]], list[Change]] = {}
        fatal: FatalError | None = None
        send = guard.send if guard is not None else Connector.send  # no guard: see `_apply`
        with ThreadPoolExecutor(connector.effective_concurrency, thread_name_prefix=f"sync-{self.sync.name}") as pool:
            try:
                for batch in _sized_batches(connector, changes):
                    self._record_bad(differ, summary)
                    self._refresh_sources(differ)
                    while len(inflight) >= connector.effective_concurrency:
                        fatal = self._collect(inflight, summary) or fatal
                    if fatal:
                        break
                    records = [self._record(c) for c in batch]
                    failpoints.hit("before_send")
                    inflight[pool.submit(send, connector, records)] = batch
                    failpoints.hit("in_flight")
            finally:  # the stream may fail (a warehouse error mid-model): what was sent is still recorded
                while inflight:
                    fatal = self._collect(inflight, summary) or fatal
        return fatal

    @functools.cached_property
    def record_key_scope(self) -> str | None:
        """For a task object (`Connector.parent_match_objects`: the CRM finds a task by a key syncer stores
        on it, not by its match value) the scope of that key, `<sync>@<project>`: another sync or project
        with the same row key must not find this one's task and skip its own (syncer.project). None:
        records are found by their match value, Record.key is the state key."""
        kind = registry.load(self.config.connectors[self.sync.connector].type)
        return None if kind.match_identifies(self.sync.object) else f"{self.sync.name}@{self.project}"

    @functools.cached_property
    def previous_until(self) -> float | None:
        """Epoch seconds until which this sync's messages carried the previous release's identity (row key and
        content fingerprint alone, before migration 0017): set when the state was upgraded by 0017 and this
        sync ran before that, so a message that release posted (then crashed before the state write) is still
        found as this record's (Record.previous). None: a sync or project started under the scoped identity
        (syncer.runner.idempotency_key), which another project's or sync's old message never matches."""
        with self.state.engine.begin() as conn:
            since = sync_identity_since(conn)
            if since is None:
                return None
            before = dt.datetime.fromtimestamp(since, dt.UTC)
            ran = conn.scalar(sa.select(runs.c.id).where(runs.c.sync == self.sync.name, runs.c.started_at < before))
        return since if ran is not None else None

    def _record(self, change: Change) -> Record:
        known = change.known
        scope = self.record_key_scope
        until = self.previous_until
        if known is not None and known.destination in self._elsewhere:
            known = None  # its record id is the other destination's: never sent here
        return Record(
            key=scoped(change.key, scope),
            op=op_of(self.sync.mode, change.kind == "removed"),
            fields=change.fields,
            fingerprint=change.fingerprint,
            idempotency_key=idempotency_key(self.sync.name, change.key, change.fingerprint, self.project),
            match_value=change.match_value,
            dest_id=known.dest_id if known else None,
            previous=None if until is None else (change.fingerprint, until),
        )

    def _collect(self, inflight: dict[Future[list[Result]], list[Change]], summary: Summary) -> FatalError | None:
        done, _ = wait(inflight, return_when=FIRST_COMPLETED)
        fatal = None
        for future in done:
            batch = inflight.pop(future)
            try:
                results = future.result()
            except FatalError as exc:
                fatal = exc
                summary.failed += len(batch)
                continue
            outcomes = []
            for change, result in zip(batch, results, strict=True):
                op = op_of(self.sync.mode, change.kind == "removed")
                outcomes.append(
                    Outcome(
                        change.key,
                        op,
                        result.status,
                        change.fingerprint,
                        change.match_value,
                        result.dest_id,
                        result.reason,
                        change.fields if op != "delete" else None,
                        change.source_fp,
                        self.destination.digest,
                    )
                )
                setattr(summary, _COUNTER[result.status], getattr(summary, _COUNTER[result.status]) + 1)
            failpoints.hit("after_ack")
            self.state.record(self.sync.name, summary.run_id or 0, outcomes)
            failpoints.hit("after_state")
            if self.runtime.progress:
                self.runtime.progress("sent", len(batch))
        return fatal

    def _refresh_sources(self, differ: Differ, at_least: int = 1000) -> None:
        """Store source fingerprints of records whose payload held still (bounded memory: in chunks)."""
        if len(differ.refreshed) >= at_least:
            pairs, differ.refreshed = differ.refreshed, []
            self.state.refresh_source_fps(self.sync.name, pairs)

    def _record_bad(self, differ: Differ, summary: Summary) -> None:
        if not differ.bad:
            return
        bad, differ.bad = differ.bad, []
        dest = self.destination.digest
        self.state.record(
            self.sync.name,
            summary.run_id or 0,
            [
                Outcome(b.key, op_of(self.sync.mode), "rejected", b.fingerprint, None, None, b.reason, None, None, dest)
                for b in bad
            ],
        )
        summary.bad_rejected += len(bad)


_COUNTER = {"ok": "succeeded", "failed": "failed", "rejected": "rejected"}
