"""Connector discovery through the `syncer.connectors` entry-point group.

The engine never imports a connector by name: any installed package can add one by declaring an
entry point. Loading checks that what it found is a Connector subclass.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from syncer.connector import Connector
from syncer.errors import FatalError

GROUP = "syncer.connectors"


def available() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def load(name: str) -> type[Connector]:
    """Return the connector class registered as `name`, or fail with a clear message."""
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not matches:
        known = ", ".join(available()) or "none installed"
        raise FatalError(f"unknown connector {name!r} (available: {known})")
    try:
        cls = matches[0].load()
    except Exception as exc:  # an installed plugin that cannot import is a deployment problem
        raise FatalError(f"connector {name!r} failed to load: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise FatalError(f"connector {name!r} ({matches[0].value}) is not a syncer Connector subclass")
    return cls
