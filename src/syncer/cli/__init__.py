"""The `syncer` command line. Exit codes: syncer.errors.ExitCode (README, "Exit codes").

One module per command group; importing them registers their commands on `app`, in `--help` order.
"""

from __future__ import annotations

import sys

# isort: off
from syncer.cli import sync, daemon, scores, demo, alerts, triggers, emulator, state  # noqa: F401  (registers the commands in this order)
from syncer.cli.base import app

# isort: on

__all__ = ["app", "main"]


# Options whose value may be left out: `--wait` alone means "as long as it takes" (click needs a value).
OPTIONAL_VALUES = {"--wait": "inf"}


def main(argv: list[str] | None = None) -> None:
    app(args=with_optional_values(sys.argv[1:] if argv is None else argv))


def with_optional_values(argv: list[str]) -> list[str]:
    """`--wait` followed by nothing or by something that is not a number becomes `--wait=inf`."""
    fixed = []
    for i, arg in enumerate(argv):
        following = argv[i + 1] if i + 1 < len(argv) else None
        if arg in OPTIONAL_VALUES and (following is None or not _is_number(following)):
            arg = f"{arg}={OPTIONAL_VALUES[arg]}"
        fixed.append(arg)
    return fixed


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
