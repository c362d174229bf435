"""Sync commands: check, plan, run, runs, audit, forget, status."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from syncer.cli.base import (
    DEMO_HINT,
    ConfigOpt,
    JsonOpt,
    _command,
    _json,
    _open,
    _print_json,
    app,
    bad_option,
    err,
    in_demo_folder,
    known_sync,
    one_of,
    out,
)
from syncer.config import Config, SyncConfig, ignored_updated_at
from syncer.connector import TransientProblem, located
from syncer.errors import (
    ConfigError,
    ConfigIssue,
    DestinationUnreachable,
    ExitCode,
    FatalError,
    RetryableError,
    StateError,
    SyncerError,
    UsageError,
    WarehouseError,
    described,
)
from syncer.identity import key_text, typed_keys
from syncer.local_time import local_stamp, team_zone
from syncer.orphans import orphaned_syncs
from syncer.ownership import verify_owner
from syncer.runner import Runtime, Summary, SyncJob
from syncer.secrets import mask
from syncer.source import Source
from syncer.state import Known, StateStore
from syncer.tables import Message, brief, more_line, print_table, shown
from syncer.warehouse_diff.modes import check_problems, check_warnings
from syncer.wording import plural


def _summary_table(summary: Summary) -> None:
    data = summary.as_dict()
    table = Table("key", "value", title=f"sync {summary.sync}", show_header=False)
    for key in (
        "source_rows",
        "added",
        "changed",
        "removed",
        "left_model",
        "unchanged",
        "held_rejected",
        "held_deletes",
        "departed",
        "rekeyed",
        "handed_over",
        "bad_rows",
        "succeeded",
        "failed",
        "rejected",
        "api_calls",
        "duration_s",
        "status",
        "run_id",
        "error",
    ):
        if key in data and data[key] is not None:
            table.add_row(key, brief(data[key]) if key == "error" else str(data[key]))
    for reason, rows in data["out_of_sync"].items():  # every model row the destination lacks, by reason
        table.add_row(f"out_of_sync {reason}", str(rows))
    for reason, rows in data["destination_changed"].items():  # records state holds under another definition
        table.add_row(brief(reason), f"{rows} (sent again)")
    print_table(table)
    for sample in data.get("samples", []):
        out.print(mask(_json(shown(sample))), highlight=False, markup=False)
    for bad in data["bad_row_samples"]:
        reason = shown(mask(bad["reason"]))
        out.print(f"[yellow]bad row[/yellow] {escape(shown(bad['key']))}: {escape(reason)}", highlight=False)


@app.command()
@_command
def check(config: ConfigOpt = None) -> int:
    """Validate config and mappings, reach the warehouse, check model columns and every connector."""
    from syncer.config_check import section_issues

    cfg, state = _open(config)
    problems: list[str] = [str(issue) for issue in section_issues(cfg)]
    warnings: list[str] = []
    reachable = False
    warehouse = Source(cfg.warehouse, cfg.base_dir, str(cfg.path))
    try:
        warehouse.ping()
        reachable = True
    except ConfigError as exc:
        problems += [str(i) for i in exc.issues]
    except FatalError as exc:
        problems.append(str(exc))
    finally:
        warehouse.close()
    if reachable:  # the sync log's schema and tables: created when the user may, else the missing grant
        from syncer.config_check import warehouse_issues
        from syncer.synclog_grants import config_issues

        problems += [str(i) for i in config_issues(cfg)]
        warehouse = Source(cfg.warehouse, cfg.base_dir, str(cfg.path))
        try:  # what only `alerts run` / `score` would find: the alert model, the scoring tables and triggers
            issues, notes = warehouse_issues(cfg, warehouse)
            problems += [str(i) for i in issues]
            for note in notes:
                out.print(f"[yellow]note[/yellow] {escape(note)}")
        finally:
            warehouse.close()
    connectors = ConnectorVerdicts(cfg)
    for name in cfg.syncs if reachable else []:
        job = SyncJob(cfg, name, state)
        ignored = ignored_updated_at(cfg.syncs[name], cfg.warehouse)
        if ignored:
            warnings.append(f"{cfg.sync_files[name]}: {ignored}")
        try:  # one state store per project (syncer.ownership): the sync's problem, not its connector's
            verify_owner(state, name, cfg, claim=False)
        except StateError as exc:
            problems.append(str(exc))
        try:
            job.validate_columns()  # the model's own problems first: the checks below query its columns
            problems += [f"{cfg.sync_files[name]}: {p}" for p in check_problems(job)]
            warnings += [f"{cfg.sync_files[name]}: {w}" for w in check_warnings(job)]
            connector = job.connector(job.model_recipients())  # a Slack sync's channel column: each kind checked
            found: list[str] = []
            try:
                job.preflight(connector)  # exactly the warehouse queries `plan` runs
                where = cfg.sync_files[name], cfg.connectors[cfg.syncs[name].connector].file
                found = job.destination_problems(connector)
                problems += [str(located(p, *where)) for p in found if not isinstance(p, TransientProblem)]
                for p in found:  # the connector's, not the sync's: nothing to edit, ask again later
                    if isinstance(p, TransientProblem):
                        connectors.no_answer(name, p)
                if not found:  # values the destination's types cannot take (syncer.typecheck)
                    type_problems, type_warnings = job.type_issues(connector)
                    problems += type_problems
                    warnings += type_warnings
                job.refuse_duplicating_moves()  # as plan and run: a match.field change that would duplicate
            finally:
                connector.close()
            rejected = None if found else _rejected_rows(job)
            if rejected:
                out.print(
                    f"[yellow]note[/yellow] sync {escape(name)}: {escape(rejected)}; `syncer plan {escape(name)}` "
                    "lists them"
                )
        except ConfigError as exc:
            problems += [str(i) for i in exc.issues]
        except WarehouseError as exc:  # the model's query, not the connector: named by its file and key
            problems.append(str(job.located(exc)))
        except DestinationUnreachable as exc:  # the connector's problem, not the sync's: reported once below
            connectors.failed(name, exc)
        except SyncerError as exc:  # auth refused, a destination failing after retries: the connector's too
            connectors.failed(name, exc)
        else:
            connectors.answered(name)
        finally:
            job.close()
    from syncer.config_check import other_connectors

    for answer in other_connectors(cfg, {s.connector for s in cfg.syncs.values()}):  # alerts, digests, ops alerts
        connectors.heard(answer.key, answer.connector, answer.problems, answer.error)
    problems = list(dict.fromkeys(connectors.problems() + problems))  # one connector's setting, met by two syncs
    transient = connectors.problems(transient=True)  # no verdict on the configuration (exit 1)
    problems += [orphan.advice(cfg) for orphan in orphaned_syncs(cfg, state)]
    for warning in warnings:
        err.print(f"[yellow]warning[/yellow] {escape(mask(warning))}")
    for problem in problems:
        err.print(f"[red]problem[/red] {escape(mask(problem))}")
    for line in transient:  # README "Exit codes": a transient outage that outlasted the retries is exit 1
        err.print(
            f"[yellow]no answer[/yellow] {escape(mask(line))}; still failing after the retries, check again later"
        )
    for line in connectors.fine():
        out.print(escape(line), highlight=False)
    if problems:
        return 2
    if transient:
        return int(ExitCode.ROWS)
    out.print(f"ok: {plural(len(cfg.syncs), 'sync')}, {plural(len(cfg.connectors), 'connector')}, warehouse reachable")
    return 0


def _rejected_rows(job: SyncJob) -> str | None:
    """ "N row(s) will be rejected (n reason, ...)" as `plan` counts them (its diff, run here: one set of rules), or
    None when no row will be. Rows the destination rejected before and unchanged since are `plan`'s held ones."""
    logging.disable(logging.WARNING)  # what the diff warns of (a future updated_at), check says once itself
    try:
        tally = job.plan().tally
    finally:
        logging.disable(logging.NOTSET)
    if not tally.bad_rows:
        return None
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(tally.out_of_sync.items()) if why != "destination_rejected")
    return f"{tally.bad_rows} row(s) will be rejected ({reasons})"


class ConnectorVerdicts:
    """What `check` found per connector, once however many syncs use it: a user with two syncs on one connector
    reads its problem once ("connector 'hubspot' (syncs a, b): destination not reachable at ..."), and which
    connectors answered ("connector 'salesforce' answered (sync c)"). Problems of one sync (a mapped field the
    destination lacks, a model column) stay per sync, named by its file."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        # connector -> syncs checked against it (in config order), then the config keys naming it outside
        # the syncs (`alerts.slack`, `actions.monitor.webhook`: a user reads which part of config.toml uses it)
        self.syncs: dict[str, list[str]] = {}
        self.errors: dict[str, dict[str, list[str]]] = {}  # connector -> problem text -> syncs (or keys) that met it
        self.keys: set[str] = set()  # the config keys among them
        self.transient: set[str] = set()  # problem texts that are no verdict (a 5xx, 429, timeout outlasting retries)

    def _of(self, sync: str) -> str:
        connector = self.cfg.syncs[sync].connector
        self.syncs.setdefault(connector, []).append(sync)
        return connector

    def answered(self, sync: str) -> None:
        self._of(sync)

    def failed(self, sync: str, exc: SyncerError) -> None:
        self._met(self._of(sync), sync, exc)

    def no_answer(self, sync: str, problem: str) -> None:
        """The connector did not answer `sync`'s check in time (a TransientProblem past the retries)."""
        self._met(self._of(sync), sync, str(problem), transient=True)

    def heard(self, key: str, connector: str, problems: list[str], error: SyncerError | None) -> None:
        """A connector no sync uses, named by config `key`, answered with `problems` (or stopped at `error`)."""
        self.syncs.setdefault(connector, []).append(key)
        self.keys.add(key)
        for problem in [error] if error is not None else problems:  # a setting's problem names its file and key
            if isinstance(problem, SyncerError):
                self._met(connector, key, problem)
            else:
                self._met(connector, key, self._located(connector, problem), isinstance(problem, TransientProblem))

    def _located(self, connector: str, problem: str) -> str:
        file = self.cfg.connectors[connector].file
        return str(located(problem, file, file))

    def _met(self, connector: str, user: str, problem: SyncerError | str, transient: bool = False) -> None:
        if isinstance(problem, DestinationUnreachable):
            hint = "; " + DEMO_HINT if in_demo_folder() else ""
            text = f"destination not reachable at {problem.url} ({problem.reason}){hint}"
        else:
            text = str(problem)
        self.errors.setdefault(connector, {}).setdefault(text, []).append(user)
        if transient or (isinstance(problem, RetryableError) and not isinstance(problem, DestinationUnreachable)):
            self.transient.add(text)

    def _syncs(self, names: list[str]) -> str:
        """`sync a`, `syncs a, b`, a config key as itself: `sync a; alerts.slack`."""
        syncs, keys = [n for n in names if n not in self.keys], [n for n in names if n in self.keys]
        said = [f"{'sync' if len(syncs) == 1 else 'syncs'} {', '.join(syncs)}"] if syncs else []
        return "; ".join(said + keys)

    def problems(self, transient: bool = False) -> list[str]:
        """One line per connector and problem, naming the syncs that met it: the verdicts on the configuration, or
        (`transient`) the failures that are none (a 5xx, 429 or timeout that outlasted the retries)."""
        return [
            f"connector {connector!r} ({self._syncs(syncs)}): {text}"
            for connector, found in self.errors.items()
            for text, syncs in found.items()
            if (text in self.transient) == transient
        ]

    def fine(self) -> list[str]:
        """One line per connector that answered every sync using it."""
        return [
            f"connector {connector!r} answered ({self._syncs(syncs)})"
            for connector, syncs in self.syncs.items()
            if connector not in self.errors
        ]


@contextmanager
def _progress() -> Iterator[Callable[[str, int], None] | None]:
    """A live record counter on a terminal; nothing at all when output goes to a file or a pipe."""
    if not err.is_terminal:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("diffing", total=None)
        yield lambda event, n: progress.update(task, advance=n, description=event)


AUDIT_STATUSES = ("ok", "rejected", "failed")
RetryRejectedOpt = Annotated[
    bool,
    typer.Option(
        "--retry-rejected",
        help="also send the rows the destination rejected before and that have not changed since (after fixing "
        "the cause at the destination: a missing field created, a record restored); `audit SYNC --status "
        "rejected` lists them",
    ),
]
FullDiffOpt = Annotated[
    bool,
    typer.Option(
        "--full-diff",
        help="compare the whole model this once, not only the rows updated since the last run (model.updated_at); "
        "only real changes are sent, and the next diffs read the window again (unlike --full, which re-sends "
        "every record)",
    ),
]


def _named(exc: DestinationUnreachable, cfg: Config, sync: str) -> DestinationUnreachable:
    """`exc` naming the sync and its connector (the error path adds the demo's hint, `base._errors`)."""
    return exc.named(sync, cfg.syncs[sync].connector)


def _failed_object(sync: str, exc: SyncerError, ran: bool) -> dict[str, Any]:
    """The one JSON object of a plan or run (`ran`) that ended before it had a summary: the contract's keys,
    their counts null (not known: nothing was compared or sent), status "failed" and the error as stderr says it."""
    error = "; ".join(str(i) for i in exc.issues) if isinstance(exc, ConfigError) and exc.issues else described(exc)
    counts = ("added", "changed", "removed", "unchanged") + (("succeeded", "failed", "rejected") if ran else ())
    return {
        "sync": sync,
        **dict.fromkeys(counts),
        **({"run_id": None} if ran else {}),
        "status": "failed",
        "error": error,
    }


def _with_job(
    config: Path | None,
    sync: str,
    body: Callable[[SyncJob], Summary],
    as_json: bool,
    lease: bool = False,
    wait: float | None = None,
) -> int:
    """Open the job, run `body`; with `lease`, hold the sync's lease (the daemon's) around it.

    With `as_json`, every outcome once the config is open prints one JSON object (`_failed_object` when no
    summary came back: the destination unreachable, a credential refused, the warehouse down, the lease held);
    the error path then prints the message on stderr and exits with the error's code (README "Exit codes")."""
    from syncer.lease import LeaseStore, hold

    cfg, state = _open(config)
    try:
        with _progress() as on_progress:
            job = SyncJob(cfg, sync, state, Runtime(progress=on_progress))
            held = None
            try:
                if lease:  # one runner per sync: the same lease, name and TTL as the daemon's
                    ttl = float((cfg.raw.get("daemon") or {}).get("lease_ttl_seconds", 60))
                    held = hold(LeaseStore(state.engine), sync, ttl, wait)
                summary = body(job)
            except DestinationUnreachable as exc:
                raise _named(exc, cfg, sync) from None
            finally:
                if held is not None:
                    held.release()
                job.close()
    except SyncerError as exc:
        if as_json:
            _print_json(_failed_object(sync, exc, ran=lease))
        raise
    finally:
        state.close()
    if summary.fatal is not None:  # printed once by the error path; JSON callers still get their object
        if as_json:
            _print_json(summary.as_dict())
        raise summary.fatal
    if as_json:
        _print_json(summary.as_dict())
    else:
        _summary_table(summary)
    return summary.exit_code


@app.command()
@_command
def plan(
    sync: str,
    config: ConfigOpt = None,
    show: Annotated[
        int,
        typer.Option(
            help="show up to N sample changes of each kind (added, changed, removed, left_model), as a run sends them",
            min=0,
        ),
    ] = 0,
    full: Annotated[bool, typer.Option("--full", help="plan as if everything must be re-sent")] = False,
    full_diff: FullDiffOpt = False,
    retry_rejected: RetryRejectedOpt = False,
    as_json: JsonOpt = False,
) -> int:
    """Show what `run` would change. Writes nothing anywhere."""
    code = _with_job(
        config,
        sync,
        lambda job: job.plan(show=show, full=full, full_diff=full_diff, retry_rejected=retry_rejected),
        as_json,
    )
    return 0 if code == 1 else code  # bad rows are reported, but a plan itself succeeded


@app.command()
@_command
def run(
    sync: str,
    config: ConfigOpt = None,
    full: Annotated[bool, typer.Option("--full", help="re-send every record, not only changes")] = False,
    full_diff: FullDiffOpt = False,
    retry_rejected: RetryRejectedOpt = False,
    allow_deletes: Annotated[
        bool, typer.Option("--allow-deletes", help="mirror: apply a mass removal that max_delete_share held back")
    ] = False,
    as_json: JsonOpt = False,
    wait: Annotated[
        float | None,
        typer.Option(
            "--wait",
            min=0,
            metavar="[SECONDS]",
            help="when another process runs this sync, wait for it (at most SECONDS; alone: as long as it "
            "takes) instead of exiting with code 3",
        ),
    ] = None,
) -> int:
    """Sync the changes of one sync to its destination (one runner per sync: it holds the sync's lease)."""
    return _with_job(
        config,
        sync,
        lambda job: job.run(full=full, allow_deletes=allow_deletes, full_diff=full_diff, retry_rejected=retry_rejected),
        as_json,
        lease=True,
        wait=wait,
    )


@app.command()
@_command
def runs(
    config: ConfigOpt = None,
    sync: Annotated[str | None, typer.Option(help="only this sync")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="show at most this many runs, newest first", min=0)] = 20,
    show_all: Annotated[bool, typer.Option("--all", help="every run")] = False,
    as_json: JsonOpt = False,
) -> int:
    """Recent runs, newest first: sync, start, duration, counts, status."""
    cfg, state = _open(config)
    zone = team_zone(cfg.raw)  # a person reads this table: the team's zone, named (--json stays UTC ISO)
    rows = state.recent_runs(sync, 1_000_000_000 if show_all else limit + 1)  # one more: are there older ones?
    known_sync(cfg, sync, recorded=bool(rows))
    rows, older = rows[: len(rows) if show_all else limit], len(rows) > limit and not show_all
    if as_json:
        _print_json(rows)
        return 0
    if not rows:
        where = f" of {sync}" if sync else ""
        out.print(f"no runs{where} yet: `syncer run SYNC` (or `syncer daemon`) records one per sync", highlight=False)
        return 0
    table = Table("run", "sync", "started", "secs", "added", "changed", "removed", "ok", "failed", "rejected", "status")
    for r in rows:
        secs = (r["finished_at"] - r["started_at"]).total_seconds() if r["finished_at"] else None
        table.add_row(
            str(r["id"]),
            r["sync"],
            local_stamp(r["started_at"], zone),
            f"{secs:.1f}" if secs is not None else "-",
            *(
                "?" if r[k] is None else str(r[k])
                for k in ("added", "changed", "removed", "succeeded", "failed", "rejected")
            ),
            brief(r["status"] + (f": {r['error']}" if r["error"] else "")),
        )
    print_table(table)
    if any(r["added"] is None for r in rows):
        out.print(
            "?: not known. A run that was killed (interrupted) or crashed before it finished shows as ok, failed and "
            "rejected what its audit rows hold (`syncer audit SYNC --run N`); what it planned is not recorded",
            highlight=False,
        )
    if older:
        out.print(more_line(len(rows), None, "run", limit), highlight=False)
    return 0


@app.command()
@_command
def audit(
    sync: str,
    config: ConfigOpt = None,
    key: Annotated[str | None, typer.Option(help="one record's primary key")] = None,
    run: Annotated[int | None, typer.Option("--run", help="one run id", min=1)] = None,
    status: Annotated[
        str | None,
        typer.Option(
            help="ok, rejected or failed; rejected: the rows rejected now (a rejection the row's later run resolved "
            "is left out; --history lists it too)"
        ),
    ] = None,
    history: Annotated[
        bool, typer.Option("--history", help="with --status rejected: also the rejections later runs resolved")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="show at most this many rows, newest first", min=0)] = 50,
    show_all: Annotated[bool, typer.Option("--all", help="every row")] = False,
    as_json: JsonOpt = False,
) -> int:
    """What was sent for records, when, and what the destination said. A rejection a later run resolved (the row
    was sent, or rejected again) is marked `resolved`."""
    one_of("--status", status, AUDIT_STATUSES)
    if history and status != "rejected":
        raise bad_option("--history", "lists resolved rejections: give it with --status rejected")
    cfg, state = _open(config)
    zone = team_zone(cfg.raw)  # the table a person reads; the audit rows and --json stay UTC ISO
    current = status == "rejected" and not history
    typed = key
    if typed is not None:
        key = state.stored_key(typed, sync)
        if key is None:
            raise UsageError(unknown_key_words(cfg, typed, sync, "no audit rows to show"))
    rows = state.audit_rows(sync, key, run, status, 1_000_000_000 if show_all else limit + 1, current=current)
    known_sync(cfg, sync, recorded=bool(rows) or bool(state.audit_rows(sync, None, None, None, 1)))
    rows, older = rows[: len(rows) if show_all else limit], len(rows) > limit and not show_all
    rows = [{**r, "key": key_text(r["key"])} for r in rows]
    if as_json:
        _print_json(rows)
        return 0
    if not rows:
        filters = " ".join(f"--{k} {v}" for k, v in (("key", typed), ("run", run), ("status", status)) if v is not None)
        why = f"no audit rows for {sync} match {filters}" if filters else f"no audit rows for {sync} yet"
        if current:
            why = f"no rows of {sync} are rejected now ({filters}; --history adds the rejections later runs resolved)"
        out.print(escape(f"{why}: every record a run sends is audited (`syncer runs` lists the runs)"), highlight=False)
        return 0
    table = Table("run", "at", "key", "op", "status", "dest id", "reason", "payload")
    for r in rows:
        cells = (
            r["run_id"],
            local_stamp(r["at"], zone),
            r["key"],
            r["op"],
            f"{r['status']} (resolved)" if r["resolved"] else r["status"],
            key_text(r["dest_id"]) if r["dest_id"] else None,  # the webhook's id is the record's key
            brief(r["reason"]),
            r["payload"],
        )
        table.add_row(*(c if isinstance(c, Message) else escape(mask(str(c))) if c is not None else "" for c in cells))
    print_table(table)
    if older:
        out.print(more_line(len(rows), None, "audit row", limit), highlight=False)
    return 0


@app.command()
@_command
def forget(
    key: Annotated[str | None, typer.Argument(help="the record's primary key; none: the whole --sync")] = None,
    config: ConfigOpt = None,
    sync: Annotated[str | None, typer.Option(help="only in this sync")] = None,
    suppress: Annotated[
        bool, typer.Option("--suppress", help="keep the key out of later runs until its row leaves the model")
    ] = False,
) -> int:
    """Erase a record from state, audit and rejects (GDPR erasure); says how many rows went and what
    the next run does with the key. `forget --sync NAME` alone: drop a sync no mapping defines any more."""
    from syncer.suppression import suppress as suppress_key
    from syncer.suppression import syncs_holding

    cfg, state = _open(config)
    if key is None:
        return _forget_sync(cfg, state, sync, suppress)
    syncs = [cfg.sync(sync).name] if sync else []
    stored = state.stored_key(key, sync)
    if stored is None and not suppress:  # an erasure that erased nothing must not look like one that did
        raise UsageError(unknown_key_words(cfg, key, sync, "nothing was erased"))
    key = stored if stored is not None else typed_keys(key)[0]
    syncs = syncs or syncs_holding(state.engine, key)
    held = {s: known for s in syncs if (known := state.lookup(s, [key]).get(key)) is not None}
    removed = state.forget(key, sync)
    out.print(
        f"forgot {key_text(key)!r}: {removed['state']} state, {removed['rejected']} rejected, "
        f"{removed['audit']} audit rows",
        highlight=False,
    )
    for name, known in held.items():
        if cfg.sync(name).mode == "mirror":  # its delete needed state's record: that record is gone now
            out.print(f"warning: {escape(orphan_words(cfg.sync(name), known, suppress))}", highlight=False)
    if not suppress:
        out.print(
            "the next run sends it again (as added) if its row is still in the model: erase the source row too, "
            "or run `syncer forget KEY --suppress` to keep the key out until its row leaves the model"
        )
        return 0
    if not syncs:
        raise ConfigError(
            [ConfigIssue(str(cfg.path), "", f"no sync knows key {key_text(key)!r}: give --sync to suppress it")]
        )
    suppress_key(state.engine, syncs, key)
    out.print(
        f"suppressed in {', '.join(syncs)}: later runs skip the key while its row is in the model; "
        "the suppression is lifted on the first run after the row has left it"
    )
    return 0


def unknown_key_words(cfg: Config, typed: str, sync: str | None, outcome: str) -> str:
    """Why a typed KEY / --key matched no record, and the form a composite key is typed in (`identity.key_text`),
    naming the key columns of the syncs (this one, or every one) whose key is composite."""
    words = f"no record of {f'sync {sync}' if sync else 'any sync'} has key {typed!r} (state, rejects and audit rows "
    words += f"hold none): {outcome}"
    composite = [s for s in cfg.syncs.values() if len(s.model.primary_key) > 1 and sync in (None, s.name)]
    for s in composite[:3]:
        columns = s.model.primary_key
        example = json.dumps([f"<{c}>" for c in columns], separators=(",", ":"))
        words += (
            f"; sync {s.name}'s key has {len(columns)} columns ({', '.join(columns)}): type it as a JSON array of "
            f"their values in that order, '{example}', as `syncer audit {s.name}` shows keys"
        )
    return words


def orphan_words(sync: SyncConfig, known: Known, suppressed: bool) -> str:
    """What a forgotten record of a mirror sync leaves at its destination, and how to remove it.

    A mirror deletes a record whose row left the model through state's record of it (its match value
    and destination id); `forget` erased that, so no later run deletes it, in any diff mode (the
    warehouse snapshot is rebuilt from state, the columnar sidecar is invalidated with it). The words
    name the record as the destination knows it, so the user can delete it there; or, unless the key
    is suppressed, let the sync learn it again (a run while its row is in the model sends it as added)
    and then remove the row, so the mirror deletes it."""
    where = f"{sync.connector} {sync.object} with {sync.match.field} = {known.match_value!r}"
    if known.dest_id:
        where += f" (id {known.dest_id})"
    words = (
        f"sync {sync.name} mirrors its model, but its record stays at the destination: {where}. syncer no longer "
        "knows it, so no run deletes it, even after its row leaves the model. To remove it, delete it there"
    )
    if suppressed:
        return words + " (the key is suppressed: runs skip its row until the row has left the model)"
    return (
        words + f", or, while its row is still in the model, run `syncer run {sync.name}` (the record is sent "
        "and known again), then remove the row and run again: the mirror deletes it"
    )


def _forget_sync(cfg: Config, state: StateStore, sync: str | None, suppress: bool) -> int:
    """`syncer forget --sync NAME`: drop an orphaned sync's state (syncer.orphans). Refused for a sync the config
    defines (its next run would send every row again as new) and without --sync."""
    if sync is None or suppress:
        why = "give a KEY, or --sync NAME alone to forget a sync no mapping defines"
        raise bad_option("--sync" if sync is None else "--suppress", why)
    if sync in cfg.syncs:
        raise bad_option(
            "--sync",
            f"sync {sync!r} is defined by {cfg.sync_files[sync]}: forgetting its state would send every row again "
            "as new. Remove (or rename) the mapping first; `syncer status` lists syncs no mapping defines",
        )
    held = state.held_syncs().get(sync)
    if held is None:
        names = ", ".join(o.sync for o in orphaned_syncs(cfg, state)) or "none"
        raise bad_option("--sync", f"state holds no records of a sync {sync!r}; syncs no mapping defines: {names}")
    removed = state.forget_sync(sync)
    out.print(
        f"forgot sync {sync!r}: {removed['records']} records, {removed['departed']} departed, {removed['rejected']} "
        "rejected dropped from state; its runs and audit rows stay. The records stay at their destination: "
        "syncer no longer knows them",
        highlight=False,
    )
    return 0


@app.command()
@_command
def status(config: ConfigOpt = None, as_json: JsonOpt = False) -> int:
    """Per sync: records in state, records that left the model but stay at the destination (departed), the last
    run; and syncs state holds records of that no mapping defines (exit 1 when there are any)."""
    cfg, state = _open(config)
    held = state.held_syncs()
    rejected = state.rejected_counts()
    orphans = orphaned_syncs(cfg, state)
    last = {r["sync"]: r for r in reversed(state.recent_runs(limit=1000))}
    rows: list[dict[str, Any]] = []
    for name in [*cfg.syncs, *(o.sync for o in orphans)]:
        live, gone = held.get(name, (0, 0))
        run = last.get(name)
        if run is None:  # not among the newest 1,000 runs
            found = state.recent_runs(name, 1)
            run = found[0] if found else None
        rows.append(
            {
                "sync": name,
                "mode": cfg.syncs[name].mode if name in cfg.syncs else None,
                "records": live,
                "departed": gone,
                "rejected": rejected.get(name, 0),  # rejected now: `audit NAME --status rejected` lists them
                "defined": name in cfg.syncs,
                "last_run": None if not run else {k: run[k] for k in ("id", "status", "started_at", "finished_at")},
            }
        )
    if as_json:
        _print_json({"syncs": rows, "orphaned": [o.advice(cfg) for o in orphans]})
        return 1 if orphans else 0
    zone = team_zone(cfg.raw)
    table = Table("sync", "mode", "records", "departed (still at destination)", "rejected now", "last run")
    for r in rows:
        run = r["last_run"]
        when = f"{run['id']} {run['status']} {local_stamp(run['started_at'], zone)}" if run else "-"
        mode = r["mode"] or "[red]no mapping[/red]"
        table.add_row(r["sync"], mode, str(r["records"]), str(r["departed"]), str(r["rejected"]), when)
    print_table(table)
    for r in rows:
        if r["departed"] and r["defined"] and r["mode"] != "mirror":
            out.print(
                f"sync {r['sync']}: {plural(r['departed'], 'record')} left the model, still at the destination "
                f"(mode {r['mode']} does not delete); in mirror mode the next run deletes them (max_delete_share)",
                highlight=False,
            )
    for orphan in orphans:
        err.print(f"[red]problem[/red] {escape(orphan.advice(cfg))}")
    return 1 if orphans else 0
