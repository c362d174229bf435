"""Trigger commands: backtest a change before making it (and the canary around it)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.markup import escape
from rich.table import Table

from syncer.cli.base import ConfigOpt, JsonOpt, _command, _open, _print_json, app, bad_option, out
from syncer.config import Config, _did_you_mean
from syncer.errors import ConfigError, ConfigIssue, SyncerError
from syncer.tables import print_table

triggers_app = typer.Typer(
    help="Triggers: backtest a change over the warehouse history, canary it, promote or roll back."
)
app.add_typer(triggers_app, name="triggers")

_SPAN = re.compile(r"^(\d+)d$")


_usage = bad_option


def _days(text: str, option: str) -> int:
    match = _SPAN.match(text.strip())
    if not match or int(match.group(1)) < 1:
        raise _usage(option, f"takes a number of days like 180d, not {text!r}")
    return int(match.group(1))


def _changes(pairs: list[str]) -> dict[str, Any]:
    """`threshold=0.7` -> {"threshold": 0.7}: numbers as numbers, the rest as text (a SQL expression)."""
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key.strip() not in ("threshold", "value", "op", "alternative", "extra"):
            raise _usage("--set", f"takes threshold=, value=, op=, alternative= or extra=, not {pair!r}")
        try:
            changes[key.strip()] = float(value)
        except ValueError:
            changes[key.strip()] = value.strip()
    return changes


def _changed(definition: Any, changes: dict[str, Any]) -> None:
    """Refuse (exit 2, naming --set) a change the trigger definition cannot take: a threshold that is no finite
    number, an op that is not >= or >, an expression with `;` or a comment (TriggerDef's own rules)."""
    from pydantic import ValidationError

    from syncer.scoring.triggers import TriggerDef

    try:
        TriggerDef.model_validate({**definition.model_dump(), **changes})
    except ValidationError as exc:
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e['input']!r})" for e in exc.errors())
        raise _usage("--set", why) from None


def _trigger(config: Config, name: str) -> Any:
    found = {t.name: t for t in config.scoring.triggers}
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        meant = _did_you_mean(name, found)
        issue = ConfigIssue(str(config.path), "scoring.triggers", f"no trigger {name!r}{meant} (known: {known})")
        raise ConfigError([issue])
    return found[name]


@triggers_app.command("backtest")
@_command
def backtest(
    trigger: Annotated[str, typer.Argument(help="trigger name, e.g. seat_limit_approaching")],
    set_: Annotated[list[str], typer.Option("--set", help="the change to try, e.g. threshold=0.7")],
    since: Annotated[str, typer.Option(help="history to replay, in days")] = "180d",
    every: Annotated[str, typer.Option(help="evaluation cadence over that history")] = "7d",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> int:
    """Replay a trigger change over the warehouse history (in the warehouse): alerts, conversions, pings."""
    from syncer.alerts.model import load_alert_settings
    from syncer.outcomes.backtest import backtest as run_backtest
    from syncer.outcomes.backtest import last_usage_day
    from syncer.outcomes.model import load_outcome_settings
    from syncer.source import Source

    span, step = _days(since, "--since"), _days(every, "--every")
    changes = _changes(set_)
    cfg, state = _open(config)
    state.close()
    definition = _trigger(cfg, trigger)
    _changed(definition, changes)
    settings = load_alert_settings(cfg.raw, str(cfg.path))
    outcomes = load_outcome_settings(cfg.raw, str(cfg.path)).outcomes
    source = Source(cfg.warehouse, cfg.base_dir, str(cfg.path))
    try:
        last = last_usage_day(source.engine, cfg.scoring)
        if last is None:
            out.print("no usage history in the warehouse yet: nothing to replay")
            return 0
        first = last - dt.timedelta(days=span)
        days = [first + dt.timedelta(days=n) for n in range(0, span + 1, step)]
        expansions = _expansion_rows(source, cfg, outcomes.expansions)
        try:
            result = run_backtest(
                source.engine, cfg.scoring, settings, definition, changes, days, expansions, outcomes.window_days
            )
        except sa.exc.DBAPIError as exc:  # the warehouse refused an expression: the user's, not a bug
            if exc.connection_invalidated:
                raise
            sql = [k for k in ("value", "alternative", "extra") if k in changes]
            where = ("--set", f"{', '.join(sql)}: ") if sql else ("scoring.triggers", f"{trigger}: ")
            raise _usage(where[0], f"{where[1]}the warehouse refused the trigger's query: {exc.orig}") from None
    finally:
        source.close()
    data = result.as_dict()
    if as_json:
        _print_json(data)
        return 0
    table = Table("week", "alerts now", "converted now", f"alerts at {data['new_threshold']:g}", "converted")
    weeks = sorted(set(data["current"]["by_week"]) | set(data["changed"]["by_week"]))
    for week in weeks:
        cur = data["current"]["by_week"].get(week, {"alerts": 0, "converted": 0})
        new = data["changed"]["by_week"].get(week, {"alerts": 0, "converted": 0})
        table.add_row(week, str(cur["alerts"]), str(cur["converted"]), str(new["alerts"]), str(new["converted"]))
    print_table(table)

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.0f}%"

    cur, new = data["current"], data["changed"]
    out.print(
        f"{escape(trigger)}: threshold {data['current_threshold']:g} -> {data['new_threshold']:g} over "
        f"{data['evaluations']} evaluations ({data['from']} to {data['to']}): "
        f"alerts {cur['alerts']} -> {new['alerts']}, "
        f"converted {cur['converted']} -> {new['converted']}, precision {pct(data['precision'])}, "
        f"recall {pct(data['recall'])} (vs the current threshold), pings per rep per day "
        f"{cur['pings_per_rep_day']:.2f} -> {new['pings_per_rep_day']:.2f} "
        f"({data['extra_pings_per_rep_per_day']:+.2f}, within the budget)"
    )
    return 0


@triggers_app.command("canary")
@_command
def canary(
    trigger: Annotated[str, typer.Argument(help="trigger name with a `canary = {...}` change")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> int:
    """Old vs new definition over the canary window: fired, worked in SLA, pings per rep per day; the status."""
    from syncer.alerts.canary import report
    from syncer.alerts.model import load_alert_settings
    from syncer.outcomes.model import load_outcome_settings

    cfg, state = _open(config)
    try:
        _canaried(cfg, trigger)
        window = load_alert_settings(cfg.raw, str(cfg.path)).alerts.canary.window_days
        outcomes = load_outcome_settings(cfg.raw, str(cfg.path)).outcomes
        expansions = _expansions(cfg, outcomes.expansions)
        now = dt.datetime.now(dt.UTC)
        data = report(state.engine, trigger, now, window, expansions, outcomes.window_days, dict(outcomes.sla_hours))
    finally:
        state.close()
    if as_json:
        _print_json(data)
        return 0
    table = Table("definition", "fired", "with task", "worked in SLA", "converted", "pings per rep per day")
    for name in ("current", "canary"):
        g = data[name]
        rate = "-" if g["worked_rate"] is None else f"{g['worked_in_sla']} ({100 * g['worked_rate']:.0f}%)"
        converted = "-" if g["converted"] is None else str(g["converted"])
        pings = f"{g['pings_per_rep_day']:.2f}"
        table.add_row(name, str(g["fired"]), str(g["with_task"]), rate, converted, pings)
    print_table(table)
    out.print(f"{escape(trigger)}: canary {data['status']} (last {window:g} days)")
    return 0


@triggers_app.command("promote")
@_command
def promote(trigger: Annotated[str, typer.Argument()], config: ConfigOpt = None) -> int:
    """Apply the canary definition to every account (until config.toml is edited to it)."""
    return _decide(config, trigger, "promoted")


@triggers_app.command("rollback")
@_command
def rollback(trigger: Annotated[str, typer.Argument()], config: ConfigOpt = None) -> int:
    """Back to the current definition for every account."""
    return _decide(config, trigger, "rolled_back")


def _canaried(cfg: Config, trigger: str) -> Any:
    definition = _trigger(cfg, trigger)
    if definition.canary is None:
        issue = ConfigIssue(str(cfg.path), "scoring.triggers", f"trigger {trigger!r} has no `canary = {{...}}` change")
        raise ConfigError([issue])
    return definition


def _decide(config: Any, trigger: str, status: str) -> int:
    from syncer.alerts.canary import decide

    cfg, state = _open(config)
    try:
        definition = _canaried(cfg, trigger)
        decide(state.engine, trigger, status, "by hand (syncer triggers)", dt.datetime.now(dt.UTC))
    finally:
        state.close()
    if status == "promoted":
        change = definition.canary.model_dump(exclude_none=True)
        out.print(f"{escape(trigger)}: promoted - every account now uses {escape(str(change))}.")
        out.print("Make it permanent: put these values in its [[scoring.triggers]] entry and remove `canary`.")
    else:
        out.print(f"{escape(trigger)}: rolled back - every account uses the current definition again.")
    return 0


def _expansion_rows(source: Any, cfg: Config, model: Any) -> list[dict[str, Any]]:
    """The outcomes `expansions` model's rows; none yet (no table): conversions show as 0."""
    try:
        return list(source.stream(model, cfg.base_dir))
    except (SyncerError, sa.exc.SQLAlchemyError):
        return []


def _expansions(cfg: Config, model: Any) -> dict[str, list[dt.datetime]]:
    """account -> expansion instants (aware UTC), for the canary's converted column."""
    from syncer.outcomes.tracking import as_datetime
    from syncer.source import Source

    source = Source(cfg.warehouse, cfg.base_dir, str(cfg.path))
    try:
        by_account: dict[str, list[dt.datetime]] = {}
        for row in _expansion_rows(source, cfg, model):
            by_account.setdefault(str(row["account_id"]), []).append(as_datetime(row["expanded_at"]))
        return by_account
    finally:
        source.close()
