"""Alert commands: alerts (list, run, sla, resend, escalate) and digest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from syncer.cli.base import ConfigOpt, JsonOpt, _command, _json, _open, _print_json, app, out
from syncer.tables import print_table
from syncer.wording import plural

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
def alerts(ctx: typer.Context, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Alerts from fired triggers. Without a subcommand: the open alerts (as `syncer alerts list`)."""
    # Not wrapped in _command: that exits, and a group callback that exits runs no subcommand.
    if ctx.invoked_subcommand is None:
        alerts_list(config=config, as_json=as_json)


@alerts_app.command("list")
@_command
def alerts_list(config: ConfigOpt = None, as_json: JsonOpt = False) -> int:
    """List open alerts: state, owner, age, task status, route and any fallback reason."""
    with _alert_engine(config) as engine:
        rows = engine.open_alerts()
        use = engine.budget_use()
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
    print_table(table)
    out.print(plural(len(rows), "open alert"))
    _print_budget_use(use)
    return 0


def _print_budget_use(use: list[dict[str, Any]]) -> None:
    """Pings per recipient today against their budget ([alerts.budget]); deferred ones wait for the digest."""
    if not use:
        return
    table = Table("recipient", "pings today", "budget", "deferred to digest")
    for u in use:
        table.add_row(escape(str(u["recipient"])), str(u["pings"]), str(u["budget"]), str(u["deferred"]))
    print_table(table)


@alerts_app.command("run")
@_command
def alerts_run(
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print per recipient what would be pinged, deferred, summarised")
    ] = False,
) -> int:
    """Evaluate fired triggers now: open / clear alerts, ping high priority, create CRM tasks."""
    if dry_run:
        with _alert_engine(config) as engine:
            plan = engine.dry_run()
        _print_json(plan) if as_json else _print_plan(plan)
        return 0
    with _alert_engine(config) as engine:
        report = engine.evaluate_and_deliver().as_dict()
    _print_json(report) if as_json else out.print(escape(_json(report)))
    return 0


def _print_plan(plan: dict[str, Any]) -> None:
    table = Table("recipient", "ping", "deferred (budget)", "backlog summary", "digest", "held out")
    for who, kinds in sorted(plan["recipients"].items()):
        cells = [kinds[k] for k in ("ping", "deferred", "backlog", "digest", "holdout")]
        table.add_row(
            escape(who), *(escape(f"{len(c)}: {', '.join(c[:3])}{' ...' if len(c) > 3 else ''}") for c in cells)
        )
    print_table(table)
    activated = ", ".join(plan["activated"]) or "none"
    out.print(f"dry run, nothing sent or written: {escape(_json(plan['totals']))}; activating: {escape(activated)}")


@alerts_app.command("sla")
@_command
def alerts_sla(config: ConfigOpt = None, as_json: JsonOpt = False) -> int:
    """Time from signal to action per tier (count, within SLA, p50 / p90 / max hours) and per lane (p50/p95/max s)."""
    from syncer.intraday.latency import lane_latency

    with _alert_engine(config) as engine:
        report = engine.sla_report()
        lanes = lane_latency(engine.engine)
    if as_json:
        _print_json(report | ({"lanes": lanes} if lanes else {}))
        return 0
    if not report:
        out.print("no tier actions with an SLA yet (see [actions] in docs/tier-actions.md)")
        _print_lanes(lanes)
        return 0
    columns = ("sla_hours", "alerts", "met", "missed", "pending", "within_sla", "p50_hours", "p90_hours", "max_hours")
    table = Table("tier", *columns)
    for tier, row in report.items():
        table.add_row(escape(str(tier)), *(escape(str(row.get(c))) for c in columns))
    print_table(table)
    _print_lanes(lanes)
    return 0


def _print_lanes(lanes: dict[str, dict[str, Any]]) -> None:
    """Event-to-action seconds per trigger lane (syncer.intraday.latency), under the tier table."""
    if not lanes:
        return
    columns = ("alerts", "p50_seconds", "p95_seconds", "max_seconds")
    table = Table("lane", *columns, title="event to action")
    for lane, row in lanes.items():
        table.add_row(escape(lane), *(escape(str(row.get(c))) for c in columns))
    print_table(table)


@alerts_app.command("resend")
@_command
def alerts_resend(
    keys: Annotated[list[str] | None, typer.Argument(help="outbox keys; none = every email in doubt")] = None,
    config: ConfigOpt = None,
) -> int:
    """Release emails cut off mid-send (held to avoid duplicates) so they go out again, same Message-ID."""
    with _alert_engine(config) as engine:
        released = engine.release_in_doubt(keys or None)
    out.print(f"released {plural(released, 'email')} for re-sending")
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
                out.print(f"[bold]digest for {escape(who)}: {plural(len(messages), 'message')}[/bold]")
                for text, blocks in messages:
                    out.print(escape(text), highlight=False)
                    out.print(f"  ({plural(len(blocks), 'block')})")
            return 0
        result = engine.send_due_digests()
    out.print(escape(_json(result)), highlight=False)
    return 1 if result.get("rejected") or result.get("failed") else 0
