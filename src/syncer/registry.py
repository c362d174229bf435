"""Connector discovery through the `syncer.connectors` entry-point group, and the one builder of a connector from
config.toml (`build_connector`).

The engine never imports a connector by name: any installed package can add one by declaring an
entry point. Loading checks that what it found is a Connector subclass.
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from syncer.connector import Connector, Destination
from syncer.errors import FatalError
from syncer.ratelimit import RateLimiter

if TYPE_CHECKING:
    from syncer.config import Config
    from syncer.runner import Runtime

GROUP = "syncer.connectors"


@functools.cache
def _entry_points() -> tuple[EntryPoint, ...]:
    """Scanned once per process: installed packages do not change while syncer runs."""
    return tuple(entry_points(group=GROUP))


def available() -> list[str]:
    return sorted(ep.name for ep in _entry_points())


def load(name: str) -> type[Connector]:
    """Return the connector class registered as `name`, or fail with a clear message."""
    matches = [ep for ep in _entry_points() if ep.name == name]
    if not matches:
        from syncer.config import _did_you_mean  # config loads connectors through this module

        known = ", ".join(available()) or "none installed"
        raise FatalError(f"unknown connector {name!r}{_did_you_mean(name, available())} (available: {known})")
    return _load(matches[0])


@functools.cache
def _load(entry: EntryPoint) -> type[Connector]:
    name = entry.name
    try:
        cls = entry.load()
    except Exception as exc:  # an installed plugin that cannot import is a deployment problem
        raise FatalError(f"connector {name!r} failed to load: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise FatalError(f"connector {name!r} ({entry.value}) is not a syncer Connector subclass")
    return cls


def build_connector(config: Config, name: str, runtime: Runtime, destination: Destination) -> Connector:
    """The connector `[connectors.<name>]` of `config` defines, writing to `destination`, with `runtime`'s retry
    policy and clock. Every connector is built here (a sync's runner, `check`, the alert engine, the daemon's ops
    alerts), so each knows its section and file (`Connector.section`, `.file`) and a refused credential names the
    setting to fix wherever it is used (`Connector.refused`)."""
    entry = config.connectors[name]
    kind = load(entry.type)
    limiter = RateLimiter(kind.rate_limit, clock=runtime.clock, sleep=runtime.sleep)
    connector = kind(entry.settings, destination, retry=runtime.retry, limiter=limiter)
    connector.section, connector.file = f"connectors.{name}", entry.file
    return connector
