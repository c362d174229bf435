"""Alert commands: alerts (list, run, sla, resend, escalate) and digest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from syncer.cli.base import ConfigOpt, JsonOpt, _command, _json, _open, _print_json, app, err, one_of, out
from syncer.errors import UsageError
from syncer.tables import Message, brief, more_line, print_table
from syncer.wording import plural, readable

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


LimitOpt = Annotated[
    int | None, typer.Option("--limit", "-n", help="show at most this many rows (default 20; --json: all)", min=0)
]
AllOpt = Annotated[bool, typer.Option("--all", help="show every row (no --limit)")]
StatusOpt = Annotated[
    str | None,
    typer.Option(help="only alerts delivered this way (ping, digest, backlog, holdout), with this task state "
                 "(pending, open, completed), or escalated / fallback"),
]  # fmt: skip
# select_open's statuses: deliveries, task states, escalated, fallback
ALERT_STATUSES = ("ping", "digest", "backlog", "holdout", "none", "pending", "open", "completed",
                  "rejected", "escalated", "fallback")  # fmt: skip
OwnerOpt = Annotated[str | None, typer.Option(help="only this owner's alerts (part of the email is enough)")]
AccountOpt = Annotated[str | None, typer.Option(help="only this account (its id, or part of its name)")]
WideOpt = Annotated[bool, typer.Option("--wide", help="every column: state, task, route, SLA, delivery problem")]


@alerts_app.callback(invoke_without_command=True)
def alerts(
    ctx: typer.Context,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    limit: LimitOpt = None,
    show_all: AllOpt = False,
    status: StatusOpt = None,
    owner: OwnerOpt = None,
    account: AccountOpt = None,
    wide: WideOpt = False,
) -> None:
    """Alerts from fired triggers. Without a subcommand: the open alerts (as `syncer alerts list`)."""
    # Not wrapped in _command: that exits, and a group callback that exits runs no subcommand.
    if ctx.invoked_subcommand is None:
        alerts_list(
            config=config, as_json=as_json, limit=limit, show_all=show_all, status=status, owner=owner,
            account=account, wide=wide,
        )  # fmt: skip


def _age(hours: float | None) -> str:
    """Hours as people say an age: 45m, 5h, 3d."""
    h = hours or 0.0
    return f"{h * 60:.0f}m" if h < 1 else f"{h:.0f}h" if h < 48 else f"{h / 24:.0f}d"


@alerts_app.command("list")
@_command
def alerts_list(
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    limit: LimitOpt = None,
    show_all: AllOpt = False,
    status: StatusOpt = None,
    owner: OwnerOpt = None,
    account: AccountOpt = None,
    wide: WideOpt = False,
) -> int:
    """Open alerts, newest first: age, priority, account, trigger, owner (--wide: state, task, route, SLA)."""
    from syncer.alerts.open_alerts import select_open

    one_of("--status", status, ALERT_STATUSES)
    with _alert_engine(config) as engine:
        every = engine.open_alerts()
        use = engine.budget_use()
        names = engine.names()
    rows = select_open(every, status, owner, account)
    limit = limit if limit is not None else None if as_json else 20  # a script reads everything; a person 20
    shown = rows if show_all or limit is None else rows[: max(0, limit)]
    if as_json:
        _print_json(shown)
        return 0
    filters = " ".join(f"--{k} {v}" for k, v in (("status", status), ("owner", owner), ("account", account)) if v)
    if not rows:
        out.print(escape(_no_alerts(len(every), filters)), highlight=False)
        _print_budget_use(use, names)
        return 0
    _print_alerts(shown, wide, names)
    matched = f"{len(rows)} of {plural(len(every), 'open alert')} match {filters}" if filters else ""
    firing = f"{plural(len(rows), 'open alert')} (firing now, not cleared)"
    out.print(escape(matched or firing), highlight=False)
    more = None if show_all or limit is None else more_line(len(shown), len(rows), "open alert", limit)
    if more:
        out.print(more, highlight=False)
    _print_budget_use(use, names)
    return 0


def _print_alerts(shown: list[dict[str, Any]], wide: bool, names: dict[str, str] | None = None) -> None:
    """The alert listing: age, priority, account, trigger, owner; `wide`: every column (WIDE), Slack ids shown by
    name where one is known (`names`: AlertEngine.names)."""
    table = Table("age", "pri", "account", "trigger", "owner") if not wide else Table(*WIDE)
    for column, width in zip(table.columns, (None, None, 22, 20, 22) if not wide else (), strict=False):
        column.max_width = width  # long names wrap onto a second line (never cut): 80 columns stay readable
    for r in shown:
        short = {"medium": "med"}.get(str(r.get("priority")), r.get("priority"))
        trigger = readable(str(r.get("trigger") or ""))  # wraps between words
        name = r.get("account_name") or r.get("account_id")
        owner = r.get("owner_name") or r.get("owner")  # a person reads a name; --json keeps the email
        cells = _wide(r, names or {}) if wide else (_age(r.get("age_hours")), short, name, trigger, owner)
        table.add_row(*(c if isinstance(c, Message) else escape(str(c)) if c is not None else "" for c in cells))
    print_table(table)


# "action tier": the tier whose actions ran ([actions]; the row's `tier` when [actions] configures it, else
# by_priority[priority]), not the account's PQL tier (adv6 #9: a warehouse `escalate` account showed as nurture)
WIDE = ("alert", "trigger", "priority", "action tier", "state", "owner", "age (h)", "task", "route", "SLA",
        "to action (h)", "fallback / delivery problem")  # fmt: skip


def _wide(r: dict[str, Any], names: dict[str, str]) -> tuple[Any, ...]:
    """One --wide row; channels and people in the state and route columns by name (#syncer-alerts, not C0...)."""
    from syncer.alerts.people import shown  # the alert stack loads only for alert commands

    to_action = r.get("time_to_action_hours")
    problem = r.get("fallback_reason") or r.get("delivery_error") or r.get("email_error")
    owner = f"{r['owner_name']} ({r.get('owner')})" if r.get("owner_name") else r.get("owner")
    trigger = readable(str(r.get("trigger") or ""))
    return (r.get("id"), trigger, r.get("priority"), r.get("tier"), shown(r.get("state"), names), owner,
            f"{r.get('age_hours') or 0:.1f}", r.get("task"), shown(r.get("route"), names), r.get("sla"),
            f"{to_action:.2f}" if isinstance(to_action, int | float) else None, brief(problem))  # fmt: skip


def _no_alerts(total: int, filters: str) -> str:
    """Why the listing is empty, and what to do."""
    if total:
        return f"no open alert matches {filters} ({plural(total, 'open alert')}: drop a filter to see them)"
    return (
        "no open alerts: no trigger is firing, or no evaluation has run yet "
        "(`syncer alerts run` evaluates now; `syncer daemon` does it on its schedule)"
    )


def _print_budget_use(use: list[dict[str, Any]], names: dict[str, str]) -> None:
    """Pings per recipient today against their budget ([alerts.budget]); deferred ones wait for the digest."""
    from syncer.alerts.people import label  # the alert stack loads only for alert commands

    if not use:
        return
    table = Table("recipient", "pings today", "budget", "deferred to digest")
    for u in use:
        table.add_row(escape(label(u["recipient"], names)), str(u["pings"]), str(u["budget"]), str(u["deferred"]))
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
            names = engine.names()
        _print_json(plan) if as_json else _print_plan(plan, names)
        return 0
    with _alert_engine(config) as engine:
        done = engine.evaluate_and_deliver()
    report = done.as_dict()
    _print_json(report) if as_json else out.print(escape(_json(report)))
    return _undelivered(done.undelivered)


def _undelivered(count: int) -> int:
    """Exit 1 (README "Exit codes": records failed or rejected) when something was not delivered, saying so on
    stderr; 0 otherwise. Failed rows are retried by the next run; `syncer alerts --wide` shows each problem."""
    if not count:
        return 0
    err.print(
        f"[yellow]not delivered[/yellow] {plural(count, 'message or task')} failed or were rejected: failed ones are "
        "retried by the next run, `syncer alerts --wide` shows why"
    )
    return 1


def _print_plan(plan: dict[str, Any], names: dict[str, str]) -> None:
    from syncer.alerts.people import label  # the alert stack loads only for alert commands

    table = Table("recipient", "ping", "deferred (budget)", "backlog summary", "digest", "held out")
    for who, kinds in sorted(plan["recipients"].items()):
        cells = [kinds[k] for k in ("ping", "deferred", "backlog", "digest", "holdout")]
        table.add_row(
            escape(label(who, names)),
            *(escape(f"{len(c)}: {', '.join(c[:3])}{' ...' if len(c) > 3 else ''}") for c in cells),
        )
    print_table(table)
    activated = ", ".join(plan["activated"]) or "none"
    out.print(f"dry run, nothing sent or written: {escape(_json(plan['totals']))}; activating: {escape(activated)}")


@alerts_app.command("sla")
@_command
def alerts_sla(config: ConfigOpt = None, as_json: JsonOpt = False) -> int:
    """Per tier: signal to actions delivered (met / missed / failed / breached / pending add up to alerts, p50 / p90
    / max hours); per priority: fired to CRM task worked, as `syncer report` counts it; per lane (p50/p95/max s)."""
    from syncer.alerts.sla import worked_report
    from syncer.config import load_config
    from syncer.intraday.latency import lane_latency
    from syncer.outcomes.model import load_outcome_settings

    cfg = load_config(config)
    sla_hours = load_outcome_settings(cfg.raw, str(cfg.path)).outcomes.sla_hours
    with _alert_engine(config) as engine:
        now = engine.clock()
        report = engine.sla_report(now)
        worked = worked_report(engine.engine, now, sla_hours)
        lanes = lane_latency(engine.engine)
    if as_json:
        _print_json({"delivered": report, "worked": worked} | ({"lanes": lanes} if lanes else {}))
        return 0
    _print_sla(report, worked, lanes)
    return 0


def _print_sla(report: dict[str, dict[str, Any]], worked: dict[str, dict[str, Any]], lanes: dict[str, Any]) -> None:
    """The `alerts sla` tables: per action tier (delivered), per priority (worked), per lane."""
    if not report:
        out.print(escape("no tier actions with an SLA yet (see [actions] in docs/tier-actions.md)"))
    else:
        title = "delivered: signal to every action of the alert's tier acknowledged (tier: [actions], else by priority)"
        table = Table("action tier", *SLA_COLUMNS, title=title)
        for tier, row in report.items():
            table.add_row(escape(str(tier)), *(escape(_sla_cell(row, c)) for c in SLA_COLUMNS))
        print_table(table)
    if worked:
        table = Table("priority", *SLA_COLUMNS, title="worked: fired to CRM task completed (as `syncer report`)")
        for priority, row in worked.items():
            table.add_row(escape(priority), *(escape(_sla_cell(row, c)) for c in SLA_COLUMNS))
        print_table(table)
    _print_lanes(lanes)


def _sla_cell(row: dict[str, Any], column: str) -> str:
    """One cell of an SLA table: an hours quantile that is None while alerts are due fell on an alert never
    acted on (alerts.sla.summarize), shown as "never", not as "-" (nothing to measure)."""
    if column in HOURS_COLUMNS and row.get(column) is None and row.get("due"):
        return "never"
    return _cell(row.get(column))


def _cell(value: Any) -> str:
    """A figure as a table shows it: hours and seconds to one decimal (10.39, 106.756 -> 10.4, 106.8), counts
    as they are, none as "-"; --json keeps every digit."""
    if value is None:
        return "-"
    if isinstance(value, float) and 0 < abs(value) < 0.1:  # an SLA of 0.02 h is not "0.0"
        return f"{value:.2g}"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


SLA_COLUMNS = ("sla_hours", "alerts", "met", "missed", "failed", "breached", "pending", "p50_hours", "p90_hours",
               "max_hours")  # fmt: skip
HOURS_COLUMNS = ("p50_hours", "p90_hours", "max_hours")


def _print_lanes(lanes: dict[str, dict[str, Any]]) -> None:
    """Event-to-action seconds per trigger lane (syncer.intraday.latency), under the tier table."""
    if not lanes:
        return
    columns = ("alerts", "p50_seconds", "p95_seconds", "max_seconds")
    table = Table("lane", *columns, title="event to action")
    for lane, row in lanes.items():
        table.add_row(escape(lane), *(escape(_cell(row.get(c))) for c in columns))
    print_table(table)


@alerts_app.command("resend")
@_command
def alerts_resend(
    keys: Annotated[list[str] | None, typer.Argument(help="outbox keys; none = every email in doubt")] = None,
    config: ConfigOpt = None,
) -> int:
    """Release emails cut off mid-send (held to avoid duplicates) so they go out again, same Message-ID."""
    with _alert_engine(config) as engine:
        statuses = engine.email_outbox.statuses(keys) if keys else {}
        missing = [k for k in keys or [] if k not in statuses]
        if missing:
            raise UsageError(f"KEYS: no email in the outbox with key {', '.join(map(repr, missing))}")
        released = engine.release_in_doubt(keys or None)
    out.print(f"released {plural(released, 'email')} for re-sending")
    held = {k: s for k, s in statuses.items() if s != "in_doubt"}
    for key, status in held.items():
        out.print(f"{escape(key)}: {status}, not in doubt (only an email cut off mid-send is held): not re-sent")
    return 1 if held else 0


@alerts_app.command("escalate")
@_command
def alerts_escalate(config: ConfigOpt = None) -> int:
    """Escalate high alerts whose CRM task is still open past the SLA (each at most once)."""
    with _alert_engine(config) as engine:
        done = engine.escalate()
    sent = done.delivered.sent.get("escalation", 0)
    out.print(
        f"checked {done.checked}, worked {done.worked}, escalated {len(done.escalated)}, "
        f"escalation messages delivered {sent} (failed {done.delivered.failed}, rejected {done.delivered.rejected}), "
        f"task priority raised {done.priority_raised} (rejected {done.priority_rejected}, "
        f"unsupported {done.priority_unsupported})"
    )
    return _undelivered(done.undelivered)


@app.command()
@_command
def digest(
    config: ConfigOpt = None,
    preview: Annotated[bool, typer.Option("--preview", help="render without sending")] = False,
    recipient: Annotated[
        str | None, typer.Option(help="one recipient (Slack user or channel id, or email address): only its digest")
    ] = None,
) -> int:
    """Send the daily digests that are due (one per recipient per local day), or preview them."""
    from syncer.alerts.people import label
    from syncer.config import _did_you_mean

    with _alert_engine(config) as engine:
        if recipient is not None and not engine.digests.resolve(recipient):
            known = engine.digests.known()
            listed = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "") if known else "none yet"
            raise UsageError(
                f"--recipient {recipient!r}: no digest was ever queued for it{_did_you_mean(recipient, known)}; "
                f"recipients: {listed}"
            )
        if preview:
            previews = engine.preview_digest(recipient)
            names = engine.names()
            if not any(previews.values()):
                last = engine.digests.last_sent(engine.clock(), recipient)
                out.print(_nothing_queued(last, label(recipient, names) if recipient else None), highlight=False)
            _print_previews(previews, names)
            return 0
        result = engine.send_due_digests(recipient=recipient)
    out.print(escape(_json(result)), highlight=False)
    return _undelivered(sum(int(result.get(k) or 0) for k in ("rejected", "failed", "email_rejected", "email_failed")))


def _print_previews(previews: dict[str, list[tuple[str, list[dict[str, Any]]]]], names: dict[str, str]) -> None:
    """Each recipient's digest by name ("digest for Sara Patel (U0AE1): 2 messages"), then its messages."""
    from syncer.alerts.people import label

    for who, messages in previews.items():
        if not messages:
            continue
        out.print(f"[bold]digest for {escape(label(who, names))}: {plural(len(messages), 'message')}[/bold]")
        for text, blocks in messages:
            out.print(escape(text), highlight=False)
            out.print(f"  ({plural(len(blocks), 'block')})")


def _nothing_queued(last: dict[str, Any], recipient: str | None) -> str:
    """An empty digest preview says why (the last digests went out, or none has been built) and when the next is."""
    zone = last["zone"]

    def local(when: Any) -> str:
        return f"{when.astimezone(zone):%a %b %-d %H:%M} {zone.key}"

    who = f" to {recipient}" if recipient else ""
    if last["frozen_at"] is None:
        return (
            f"no alert is queued for a digest{who}, and no digest has been built yet: medium and low alerts queue "
            f"here when `syncer alerts run` (or the daemon) opens them; the next digest is due {local(last['next_at'])}"
        )
    sent = f"{plural(last['messages'], 'message')} to {plural(last['recipients'], 'recipient')}"
    return (
        f"no alert is queued for a digest{who}: the last digests went out {local(last['frozen_at'])} ({sent}, "
        f"{plural(last['alerts'], 'alert')}); alerts opened from now on queue for the next, due "
        f"{local(last['next_at'])}. `syncer alerts --status digest` lists the open ones"
    )
