"""The `syncer` command line. Exit codes: 0 ok, 1 records failed or were rejected, 2 config/usage error.

One module per command group; importing them registers their commands on `app`, in `--help` order.
"""

from __future__ import annotations

# isort: off
from syncer.cli import sync, daemon, scores, demo, alerts, emulator  # noqa: F401  (registers the commands in this order)
from syncer.cli.base import app

# isort: on

__all__ = ["app", "main"]


def main() -> None:
    app()
