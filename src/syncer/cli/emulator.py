"""`syncer emulator NAME [--port P]`: one bundled emulator in the foreground, for local trials."""

from __future__ import annotations

import signal
import tempfile
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from syncer.cli.base import _command, app, bad_option, out


class Service(StrEnum):
    """The names `STARTERS` knows (a test keeps the two lists equal)."""

    hubspot = "hubspot"
    salesforce = "salesforce"
    slack = "slack"
    webhook = "webhook"
    smtp = "smtp"
    email = "email"


@app.command()
@_command
def emulator(
    name: Annotated[Service, typer.Argument(help="the service to emulate", show_default=False)],
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0: a free one)", min=0, max=65535)] = 0,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="where the CA bundle / maildir go (default: a temporary folder)")
    ] = None,
) -> int:
    """Start one emulator (HubSpot, Salesforce, Slack, webhook, SMTP) until Ctrl-C; print its URL and env lines."""
    with tempfile.TemporaryDirectory(prefix="syncer-emulator-") as tmp:
        from syncer.emulator_launch import describe, launch  # the emulators and the demo's world: only here

        try:
            launched = launch(name.value, port, folder or Path(tmp))
        except OSError as exc:  # the port is taken (or not ours to bind): the user's to change, exit 2
            why = f"127.0.0.1:{port} cannot be used ({exc.strerror}): pick another, or 0"
            raise bad_option("--port", why) from None
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            for line in describe(launched):
                out.print(line, markup=False, highlight=False, soft_wrap=True)
            stop.wait()
        finally:
            launched.stop()
        out.print(f"{launched.name} emulator stopped", markup=False, highlight=False)
    return 0
