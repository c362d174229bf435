"""The `syncer` command line. Exit codes: 0 ok, 1 records failed or were rejected, 2 config/usage error."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from syncer.config import Config, load_config
from syncer.errors import ConfigError, FatalError, SyncerError
from syncer.logs import setup_logging
from syncer.runner import Runtime, Summary, SyncJob
from syncer.secrets import mask
from syncer.source import Source
from syncer.state import StateStore

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Reverse-ETL for usage scores, alerts and tasks.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True, highlight=False)
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", envvar="SYNCER_CONFIG", help="config.toml path")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object")]


class Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@contextmanager
def _errors() -> Iterator[None]:
    """Turn syncer's errors into one clear message and an exit code; never a traceback."""
    try:
        yield
    except ConfigError as exc:
        for issue in [str(i) for i in exc.issues] or [str(exc)]:
            err.print(f"[red]config error[/red] {escape(mask(str(issue)))}")
        raise Exit(2) from None
    except SyncerError as exc:  # fatal, or a transient failure that outlasted its retries
        err.print(f"[red]error[/red] {escape(mask(str(exc)))}")
        raise Exit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise Exit(130) from None
    except Exception as exc:
        if os.environ.get("SYNCER_DEBUG"):
            raise
        err.print(
            f"[red]internal error[/red] {type(exc).__name__}: {escape(mask(str(exc)))} (SYNCER_DEBUG=1 for details)"
        )
        raise Exit(1) from None


def _command(fn: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body inside the error boundary and exit with its code."""

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> None:
        code = 0
        try:
            with _errors():
                code = fn(**kwargs) or 0
        except Exit as exc:
            code = exc.code
        raise typer.Exit(code)

    return wrapper


def _open(config_path: Path | None) -> tuple[Config, StateStore]:
    config = load_config(config_path)
    setup_logging(config.app.log_format, config.app.log_level)
    return config, StateStore(config.state_url())


def _print_json(data: Any) -> None:
    sys.stdout.write(mask(json.dumps(data, default=str)) + "\n")


def _summary_table(summary: Summary) -> None:
    data = summary.as_dict()
    table = Table(title=f"sync {summary.sync}", show_header=False)
    for key in (
        "source_rows",
        "added",
        "changed",
        "removed",
        "unchanged",
        "held_rejected",
        "held_deletes",
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
            table.add_row(key, str(data[key]))
    out.print(table)
    for sample in data.get("samples", []):
        out.print(mask(json.dumps(sample, default=str)), highlight=False, markup=False)
    for bad in data["bad_row_samples"]:
        out.print(f"[yellow]bad row[/yellow] {escape(bad['key'])}: {escape(mask(bad['reason']))}", highlight=False)


@app.command()
@_command
def check(config: ConfigOpt = None) -> int:
    """Validate config and mappings, reach the warehouse, check model columns and every connector."""
    cfg, state = _open(config)
    problems: list[str] = []
    warehouse = Source(cfg.warehouse, cfg.base_dir, cfg.path.name)
    try:
        warehouse.ping()
    except ConfigError as exc:
        problems += [str(i) for i in exc.issues]
    except FatalError as exc:
        problems.append(str(exc))
    finally:
        warehouse.close()
    for name in cfg.syncs if not problems else []:
        job = SyncJob(cfg, name, state)
        try:
            job.validate_columns()
            connector = job.connector()
            try:
                problems += [f"{cfg.sync_files[name]}: {p}" for p in connector.check()]
            finally:
                connector.close()
        except ConfigError as exc:
            problems += [str(i) for i in exc.issues]
        except SyncerError as exc:  # auth refused, destination unreachable after retries
            problems.append(f"{cfg.sync_files[name]}: {exc}")
        finally:
            job.close()
    for problem in problems:
        err.print(f"[red]problem[/red] {escape(mask(problem))}")
    if problems:
        return 2
    out.print(f"ok: {len(cfg.syncs)} sync(s), {len(cfg.connectors)} connector(s), warehouse reachable")
    return 0


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


def _with_job(config: Path | None, sync: str, body: Callable[[SyncJob], Summary], as_json: bool) -> int:
    cfg, state = _open(config)
    with _progress() as on_progress:
        job = SyncJob(cfg, sync, state, Runtime(progress=on_progress))
        try:
            summary = body(job)
        finally:
            job.close()
            state.close()
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
    show: Annotated[int, typer.Option(help="show N sample changes with their field-level diffs")] = 0,
    full: Annotated[bool, typer.Option("--full", help="plan as if everything must be re-sent")] = False,
    as_json: JsonOpt = False,
) -> int:
    """Show what `run` would change. Writes nothing anywhere."""
    code = _with_job(config, sync, lambda job: job.plan(show=show, full=full), as_json)
    return 0 if code == 1 else code  # bad rows are reported, but a plan itself succeeded


@app.command()
@_command
def run(
    sync: str,
    config: ConfigOpt = None,
    full: Annotated[bool, typer.Option("--full", help="re-send every record, not only changes")] = False,
    allow_deletes: Annotated[
        bool, typer.Option("--allow-deletes", help="mirror: apply a mass removal that max_delete_share held back")
    ] = False,
    as_json: JsonOpt = False,
) -> int:
    """Sync the changes of one sync to its destination."""
    return _with_job(config, sync, lambda job: job.run(full=full, allow_deletes=allow_deletes), as_json)


@app.command()
@_command
def runs(
    config: ConfigOpt = None,
    sync: Annotated[str | None, typer.Option(help="only this sync")] = None,
    limit: int = 20,
    as_json: JsonOpt = False,
) -> int:
    """Recent runs: sync, start, duration, counts, status."""
    _, state = _open(config)
    rows = state.recent_runs(sync, limit)
    if as_json:
        _print_json(rows)
        return 0
    table = Table("run", "sync", "started", "secs", "added", "changed", "removed", "ok", "failed", "rejected", "status")
    for r in rows:
        secs = (r["finished_at"] - r["started_at"]).total_seconds() if r["finished_at"] else None
        table.add_row(
            str(r["id"]),
            r["sync"],
            str(r["started_at"])[:19],
            f"{secs:.1f}" if secs is not None else "-",
            *(str(r[k]) for k in ("added", "changed", "removed", "succeeded", "failed", "rejected")),
            r["status"] + (f": {r['error']}" if r["error"] else ""),
        )
    out.print(table)
    return 0


@app.command()
@_command
def audit(
    sync: str,
    config: ConfigOpt = None,
    key: Annotated[str | None, typer.Option(help="one record's primary key")] = None,
    run: Annotated[int | None, typer.Option("--run", help="one run id")] = None,
    status: Annotated[str | None, typer.Option(help="ok, rejected or failed")] = None,
    limit: int = 50,
    as_json: JsonOpt = False,
) -> int:
    """What was sent for records, when, and what the destination said."""
    _, state = _open(config)
    rows = state.audit_rows(sync, key, run, status, limit)
    if as_json:
        _print_json(rows)
        return 0
    table = Table("run", "at", "key", "op", "status", "dest id", "reason", "payload")
    for r in rows:
        cells = (
            r["run_id"],
            str(r["at"])[:19],
            r["key"],
            r["op"],
            r["status"],
            r["dest_id"],
            r["reason"],
            r["payload"],
        )
        table.add_row(*(escape(mask(str(c))) if c is not None else "" for c in cells))
    out.print(table)
    return 0


@app.command()
@_command
def forget(
    key: str,
    config: ConfigOpt = None,
    sync: Annotated[str | None, typer.Option(help="only in this sync")] = None,
) -> int:
    """Erase a record from state, audit and rejects (GDPR erasure); says how many rows went."""
    _, state = _open(config)
    removed = state.forget(key, sync)
    out.print(
        f"forgot {key!r}: {removed['state']} state, {removed['rejected']} rejected, {removed['audit']} audit rows"
    )
    return 0


@app.command()
@_command
def daemon(config: ConfigOpt = None) -> int:
    """Run every sync on its schedule, with health, readiness and metrics endpoints."""
    from syncer.daemon import run_daemon  # the scheduler stack loads only for the daemon

    return int(run_daemon(config))


@app.command()
@_command
def score(
    config: ConfigOpt = None,
    as_of: Annotated[
        str | None, typer.Option(help="last complete usage day (YYYY-MM-DD); default yesterday, UTC")
    ] = None,
    as_json: JsonOpt = False,
) -> int:
    """Compute usage health, PQL and fired triggers inside the warehouse (0 rows pulled into Python)."""
    from syncer.scoring.refresh import refresh_scores

    cfg, _ = _open(config)
    # as_of is the last complete usage day: with daily loads, yesterday
    day = dt.date.fromisoformat(as_of) if as_of else dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    source = Source(cfg.warehouse, cfg.base_dir, cfg.path.name)
    try:
        summary = refresh_scores(source.engine, cfg.scoring, day)
    finally:
        source.close()
    result = {
        "as_of": str(summary.as_of),
        "published": summary.published,
        "guard": summary.guard.state,
        "reasons": summary.guard.reasons,
        "accounts_scored": summary.accounts_scored,
        "triggers_fired": summary.triggers_fired,
        "triggers_by_name": summary.triggers_by_name,
        "pql_tiers": summary.pql_tiers,
        "health_bands": summary.health_bands,
        "rows_fetched": summary.rows_fetched,
    }
    if as_json:
        _print_json(result)
    else:
        table = Table(title=f"scores as of {day}", show_header=False)
        for key, value in result.items():
            table.add_row(key, escape(str(value)))
        out.print(table)
    for reason in summary.guard.reasons:
        err.print(f"[yellow]data-quality guard[/yellow] {escape(reason)}")
    return 0 if summary.published else 1


@app.command()
@_command
def report(
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    html: Annotated[Path | None, typer.Option("--html", help="also write the self-contained HTML report here")] = None,
    advise: Annotated[bool, typer.Option("--advise", help="per-trigger tuning advice with its evidence")] = False,
) -> int:
    """Alert -> action -> outcome per trigger: conversion with intervals, revenue, KPIs (and write-back)."""
    from syncer.outcomes import run_report

    cfg, state = _open(config)
    try:
        return int(run_report(cfg, state, as_json=as_json, html=html, advise=advise, echo=_echo))
    finally:
        state.close()


def _echo(text: str) -> None:
    out.print(escape(text), highlight=False)


@app.command()
@_command
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="where the demo leaves its config, warehouse and state")] = Path(
        "syncer-demo"
    ),
    accounts: Annotated[int, typer.Option(help="synthetic accounts")] = 2000,
    days: Annotated[int, typer.Option(help="days of usage history")] = 90,
    seed: int = 1,
) -> int:
    """The whole pipeline on local emulators: synthetic warehouse, scores, CRM fields, tasks, webhook."""
    from syncer.demo import Demo

    setup_logging("text", "warning")
    return Demo(folder, accounts, days, seed, out).run()


alerts_app = typer.Typer(help="Alerts from fired triggers: list, evaluate and deliver, escalate.")
app.add_typer(alerts_app, name="alerts")


@contextmanager
def _alert_engine(config: Path | None) -> Iterator[Any]:
    from syncer.alerts import AlertEngine  # the alert stack loads only for alert commands

    cfg, state = _open(config)
    engine = AlertEngine.from_config(cfg, state)
    try:
        yield engine
    finally:
        engine.close()
        state.close()


@alerts_app.callback(invoke_without_command=True)
@_command
def alerts(ctx: typer.Context, config: ConfigOpt = None, as_json: JsonOpt = False) -> int:
    """List open alerts: state, owner, age, task status, route and any fallback reason."""
    if ctx.invoked_subcommand is not None:
        return 0
    with _alert_engine(config) as engine:
        rows = engine.open_alerts()
    if as_json:
        _print_json(rows)
        return 0
    table = Table(
        "alert",
        "trigger",
        "priority",
        "tier",
        "state",
        "owner",
        "age h",
        "task",
        "route",
        "sla",
        "to action h",
        "fallback / delivery problem",
    )
    for r in rows:
        to_action = r.get("time_to_action_hours")
        problem = r.get("fallback_reason") or r.get("delivery_error") or r.get("email_error")
        cells = (
            r.get("id"),
            r.get("trigger"),
            r.get("priority"),
            r.get("tier"),
            r.get("state"),
            r.get("owner"),
            f"{r.get('age_hours') or 0:.1f}",
            r.get("task"),
            r.get("route"),
            r.get("sla"),
            f"{to_action:.2f}" if isinstance(to_action, int | float) else None,
            problem,
        )
        table.add_row(*(escape(str(c)) if c is not None else "" for c in cells))
    out.print(table)
    out.print(f"{len(rows)} open alert(s)")
    return 0


@alerts_app.command("run")
@_command
def alerts_run(config: ConfigOpt = None, as_json: JsonOpt = False) -> int:
    """Evaluate fired triggers now: open / clear alerts, ping high priority, create CRM tasks."""
    with _alert_engine(config) as engine:
        report = engine.evaluate_and_deliver().as_dict()
    _print_json(report) if as_json else out.print(escape(json.dumps(report, default=str)))
    return 0


@alerts_app.command("sla")
@_command
def alerts_sla(config: ConfigOpt = None, as_json: JsonOpt = False) -> int:
    """Time from signal to action per tier: count, within SLA, p50 / p90 / max hours."""
    with _alert_engine(config) as engine:
        report = engine.sla_report()
    if as_json:
        _print_json(report)
        return 0
    if not report:
        out.print("no tier actions with an SLA yet (see [actions] in docs/tier-actions.md)")
        return 0
    columns = ("sla_hours", "alerts", "met", "missed", "pending", "within_sla", "p50_hours", "p90_hours", "max_hours")
    table = Table("tier", *columns)
    for tier, row in report.items():
        table.add_row(escape(str(tier)), *(escape(str(row.get(c))) for c in columns))
    out.print(table)
    return 0


@alerts_app.command("resend")
@_command
def alerts_resend(
    keys: Annotated[list[str] | None, typer.Argument(help="outbox keys; none = every email in doubt")] = None,
    config: ConfigOpt = None,
) -> int:
    """Release emails cut off mid-send (held to avoid duplicates) so they go out again, same Message-ID."""
    with _alert_engine(config) as engine:
        released = engine.release_in_doubt(keys or None)
    out.print(f"released {released} email(s) for re-sending")
    return 0


@alerts_app.command("escalate")
@_command
def alerts_escalate(config: ConfigOpt = None) -> int:
    """Escalate high alerts whose CRM task is still open past the SLA (each at most once)."""
    with _alert_engine(config) as engine:
        done = engine.escalate()
    out.print(
        f"checked {done.checked}, worked {done.worked}, escalated {len(done.escalated)}, "
        f"task priority raised {done.priority_raised} (unsupported {done.priority_unsupported})"
    )
    return 0


@app.command()
@_command
def digest(
    config: ConfigOpt = None,
    preview: Annotated[bool, typer.Option("--preview", help="render without sending")] = False,
    recipient: Annotated[str | None, typer.Option(help="one recipient (Slack user or channel id)")] = None,
) -> int:
    """Send the daily digests that are due (one per recipient per local day), or preview them."""
    with _alert_engine(config) as engine:
        if preview:
            previews = engine.preview_digest(recipient)
            if not previews:
                out.print("no alerts are queued for a digest")
            for who, messages in previews.items():
                out.print(f"[bold]digest for {escape(who)}: {len(messages)} message(s)[/bold]")
                for text, blocks in messages:
                    out.print(escape(text), highlight=False)
                    out.print(f"  ({len(blocks)} blocks)")
            return 0
        result = engine.send_due_digests()
    out.print(escape(json.dumps(result, default=str)), highlight=False)
    return 1 if result.get("rejected") or result.get("failed") else 0


def main() -> None:
    app()
