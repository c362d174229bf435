"""State commands: state check, state rebuild (they open the state store without migrating it first), state
takeover."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from syncer.cli.base import ConfigOpt, JsonOpt, _command, _print_json, app, err, out
from syncer.config import load_config
from syncer.errors import ExitCode
from syncer.tables import brief, print_table

state_app = typer.Typer(help="The state store: check its health, rebuild a damaged one, take a sync over.")
app.add_typer(state_app, name="state")


@state_app.command("check")
@_command
def state_check(config: ConfigOpt = None, as_json: JsonOpt = False) -> int:
    """Integrity (SQLite PRAGMA integrity_check), migration version, orphan runs; exit 2 if damaged."""
    from syncer.state_health import describe_location
    from syncer.state_repair import check_state

    cfg = load_config(config)
    url = cfg.state_url()
    checks = check_state(url)
    damaged = any(not c.ok for c in checks if c.name in ("integrity", "readable"))
    if as_json:
        _print_json({"state": describe_location(url), "checks": [c.__dict__ for c in checks], "damaged": damaged})
    else:
        table = Table("check", "ok", "detail", title=f"state {escape(describe_location(url))}", expand=False)
        for c in checks:
            table.add_row(c.name, "yes" if c.ok else "NO", brief(c.detail))
        print_table(table)
        if damaged:
            err.print("the state is damaged: `syncer state rebuild` moves it aside and keeps every readable row")
    return ExitCode.CONFIG if damaged else ExitCode.OK


@state_app.command("rebuild")
@_command
def state_rebuild(config: ConfigOpt = None, as_json: JsonOpt = False) -> int:
    """Move the state file aside, start a fresh one with every readable row, say what the next run re-sends."""
    from syncer.state_repair import rebuild_state

    cfg = load_config(config)
    report = rebuild_state(cfg.state_url())
    if as_json:
        _print_json({**report.__dict__, "next_run": report.next_run()})
        return 0
    out.print(f"moved the old state to {escape(report.moved_to)} (keep it until the next runs are fine)")
    table = Table("table", "rows copied", "lost")
    for name, copied in sorted(report.copied.items()):
        table.add_row(name, str(copied), brief(report.lost.get(name)))
    print_table(table)
    for note in report.next_run():
        out.print(f"next run: {escape(note)}")
    return 0


@state_app.command("takeover")
@_command
def state_takeover(sync: str, config: ConfigOpt = None) -> int:
    """Make this project the owner of SYNC in its state store (one state store per project: README): after a
    change of its warehouse URL or `[syncer] project`, when a run is refused as another project's."""
    from syncer.cli.base import _open
    from syncer.ownership import project_of, take_over

    cfg, state = _open(config)
    cfg.sync(sync)  # a sync this config defines
    before = take_over(state, sync, cfg)
    was = f" (it was {before})" if before else " (nobody owned it)"
    out.print(escape(f"sync {sync} now belongs to this project ({project_of(cfg).described}){was}"), highlight=False)
    return 0
