"""Scores and the outcomes report: score, report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from syncer.cli.base import ConfigOpt, JsonOpt, _command, _open, _print_json, app, bad_option, err, out
from syncer.source import Source
from syncer.tables import brief, print_table


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
    day = _day(as_of) if as_of else dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    source = Source(cfg.warehouse, cfg.base_dir, str(cfg.path))
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
            table.add_row(key, brief("; ".join(summary.guard.reasons)) if key == "reasons" else escape(str(value)))
        print_table(table)
    for reason in summary.guard.reasons:
        err.print(f"[yellow]data-quality guard[/yellow] {escape(reason)}")
    return 0 if summary.published else 1


def _day(text: str) -> dt.date:
    """`--as-of` as a calendar date (YYYY-MM-DD); anything else is refused naming the option (exit 2)."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise bad_option("--as-of", f"takes a date like 2026-03-01 (YYYY-MM-DD), not {text!r} ({exc})") from None


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
