"""The zero-credential demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from syncer.cli.base import _command, app, out, port_free
from syncer.logs import setup_logging


@app.command()
@_command
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="where the demo leaves its config, warehouse and state")] = Path(
        "syncer-demo"
    ),
    accounts: Annotated[int, typer.Option(help="synthetic accounts (40 owners)", min=1)] = 1000,
    days: Annotated[
        int,
        typer.Option(
            help="days of usage, to yesterday (alerts replay daily from day 30: each looks back 30 days)", min=2
        ),
    ] = 181,
    seed: int = 1,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="then keep the emulators and a daemon up, serving the dashboard, until Ctrl-C"),
    ] = False,
    port: Annotated[
        int, typer.Option(help="with --serve: the dashboard's port on 127.0.0.1 (0: any free port)", min=0, max=65535)
    ] = 8108,
) -> int:
    """The whole pipeline on local emulators: synthetic warehouse, scores, CRM fields, tasks, webhook."""
    from syncer.demo import Demo

    if serve:
        port_free("--port", port)  # taken: refused now, not after the whole demo has run
    setup_logging("text", "warning")
    return Demo(folder, accounts, days, seed, out).run(serve_port=port if serve else None)
