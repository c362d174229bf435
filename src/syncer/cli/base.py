"""Shared pieces of the command line: the app, consoles, options, the error boundary."""

from __future__ import annotations

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

from syncer.config import Config, load_config
from syncer.errors import ConfigError, SyncerError
from syncer.logs import setup_logging
from syncer.secrets import mask
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
