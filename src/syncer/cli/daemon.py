"""The daemon command."""

from __future__ import annotations

from syncer.cli.base import ConfigOpt, _command, app


@app.command()
@_command
def daemon(config: ConfigOpt = None) -> int:
    """Run every sync on its schedule, with health, readiness and metrics endpoints."""
    from syncer.daemon import run_daemon  # the scheduler stack loads only for the daemon

    return int(run_daemon(config))
