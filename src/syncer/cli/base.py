"""Shared pieces of the command line: the app, consoles, options, the error boundary."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from syncer.config import Config, _did_you_mean, load_config, openable
from syncer.errors import (
    ConfigError,
    ConfigIssue,
    CredentialRefused,
    DestinationUnreachable,
    ExitCode,
    SyncerError,
    UsageError,
    described,
)
from syncer.logs import setup_logging
from syncer.secrets import mask, mask_tree
from syncer.state import StateStore

# Plain (click) help: it wraps to the terminal, pipes as plain text and shows a flag as a flag, not `<bool>`.
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Reverse-ETL for usage scores, alerts and tasks.",
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True, highlight=False)
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", envvar="SYNCER_CONFIG", help="config.toml path")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object")]


class Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"syncer {version('syncer')}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Reverse-ETL for usage scores, alerts and tasks. Exit codes: see the README ("Exit codes")."""


@contextmanager
def _errors() -> Iterator[None]:
    """The one error path: each failure printed once, exit code from the exception; never a traceback.

    ConfigError and other SyncerErrors carry their exit code (syncer.errors.ExitCode); anything else
    is a bug: its traceback goes to a log file whose path is printed, exit 70.
    """
    try:
        yield
    except ConfigError as exc:
        for issue in [str(i) for i in exc.issues] or [str(exc)]:
            err.print(f"[red]config error[/red] {escape(mask(str(issue)))}")
        raise Exit(exc.exit_code) from None
    except SyncerError as exc:  # fatal, lease held, or a transient failure that outlasted its retries
        if isinstance(exc, CredentialRefused) and exc.issue is not None:  # at the setting to fix (Connector.refused)
            err.print(f"[red]config error[/red] {escape(mask(str(exc.issue)))}")
            raise Exit(exc.exit_code) from None
        if isinstance(exc, DestinationUnreachable) and not exc.hint and in_demo_folder():
            exc.hint = DEMO_HINT  # every command, not only those that name the sync (report, alerts, digest)
        err.print(f"[red]error[/red] {escape(mask(described(exc)))}")
        raise Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise Exit(ExitCode.INTERRUPTED) from None
    except Exception as exc:
        if os.environ.get("SYNCER_DEBUG"):
            raise
        where = _crash_log(exc)
        err.print(
            f"[red]internal error[/red] {type(exc).__name__}: {escape(mask(str(exc)))} — a bug in syncer; "
            f"the traceback is in {escape(where)} (SYNCER_DEBUG=1 shows it here)"
        )
        raise Exit(ExitCode.INTERNAL) from None


def _crash_log(exc: BaseException) -> str:
    """Write the traceback (secrets masked) to a file the user can attach to a bug report."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = Path(os.environ.get("SYNCER_CRASH_DIR") or tempfile.gettempdir()) / f"syncer-crash-{stamp}-{os.getpid()}.log"
    try:
        path.write_text(mask("".join(traceback.format_exception(exc))))
    except OSError:
        return "(no log: the crash directory is not writable; set SYNCER_CRASH_DIR)"
    return str(path)


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


DEMO_HINT = "the demo's emulators stopped with it: run `syncer demo --serve` to keep them up"
_OPENED: list[Path] = []  # the folder of the config this command opened


def in_demo_folder() -> bool:
    """The command's config is the demo's (`syncer demo` writes demo.env next to its config.toml)."""
    return bool(_OPENED) and (_OPENED[-1] / "demo.env").is_file()


def _open(config_path: Path | None) -> tuple[Config, StateStore]:
    config = load_config(config_path)
    _OPENED[:] = [config.base_dir]
    setup_logging(config.app.log_format, config.app.log_level)
    return config, config.open_state()


def bad_option(option: str, message: str) -> ConfigError:
    """A command-line value the command cannot use: one message naming the option ("config error command line:
    --as-of: ..."), exit 2, never a traceback (adv6 #5)."""
    return ConfigError([ConfigIssue("command line", option, message)])


def port_free(option: str, port: int) -> None:
    """Refuse (exit 2, naming `option`) a port on 127.0.0.1 another process listens on; 0 (any free port) passes."""
    import socket

    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is no owner
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise bad_option(option, f"127.0.0.1:{port} cannot be used ({exc.strerror}): pick another, or 0") from None


def one_of(option: str, value: str | None, choices: Sequence[str]) -> None:
    """Refuse (UsageError, exit 2) a `value` of `option` outside `choices` (compared case-insensitively)."""
    if value is not None and value.strip().lower() not in choices:
        raise UsageError(f"{option} {value!r} is not one of {', '.join(choices)}{_did_you_mean(value, choices)}")


def known_sync(cfg: Config, sync: str | None, recorded: bool) -> None:
    """Refuse (UsageError, exit 2) a sync name the config does not have, unless state still holds
    `recorded` rows of it (a sync removed from the config keeps its history)."""
    if sync is None or sync in cfg.syncs or recorded:
        return
    names = ", ".join(sorted(cfg.syncs)) or "none"
    raise UsageError(f"no sync {sync!r} in {openable(cfg.path)}{_did_you_mean(sync, cfg.syncs)}; syncs: {names}")


def _print_json(data: Any) -> None:
    sys.stdout.write(mask(_json(mask_tree(data))) + "\n")  # masked before serialising (escaping), and after


def _json(data: Any) -> str:
    """JSON with text as itself (ü, not \\u00fc)."""
    return json.dumps(data, default=str, ensure_ascii=False)
