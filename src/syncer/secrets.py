"""Secrets: read from the environment or /run/secrets, never from TOML, and masked everywhere.

A TOML value `${NAME}` (or `${NAME:-default}` for a non-secret setting) is resolved from the
environment variable NAME, else from the file
`$SYNCER_SECRETS_DIR/NAME` (default `/run/secrets/NAME`, where Docker and Kubernetes mount them).
Every secret resolved this way (a `${NAME}` without a default) is registered with the mask, and every
log line, error message and audit row passes through `mask()` before it leaves the process. A setting's
value (`${NAME:-default}`) is not masked: a rate of "1000" would mangle every row that contains it.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")  # ${NAME} or ${NAME:-default}
MASK = "***"


class SecretMask:
    """The set of secret values this process knows; replaces them with *** in any text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if len(value) < 4:  # too short to mask without mangling ordinary text
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None


mask = SecretMask()


def secrets_dir() -> Path:
    return Path(os.environ.get("SYNCER_SECRETS_DIR", "/run/secrets"))


def lookup(name: str) -> str | None:
    """The value of secret NAME from the environment or the secrets directory, or None."""
    if name in os.environ:
        return os.environ[name]
    path = secrets_dir() / name
    if path.is_file():
        return path.read_text().rstrip("\r\n")
    return None


def resolve(text: str) -> tuple[str, list[str]]:
    """Replace every ${NAME} in text; return the result and the names that could not be found."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        value = lookup(match.group(1))
        setting = match.group(2) is not None  # ${NAME:-default}: a non-secret setting (a secret has no default)
        if value is None:
            if setting:
                return match.group(2)
            missing.append(match.group(1))
            return match.group(0)
        if not setting:  # masking a setting's value (a rate of "1000") would mangle every row that contains it
            mask.add(value)
        return value

    return REFERENCE.sub(substitute, text), missing


def is_reference(text: str) -> bool:
    """True when the whole value is one ${NAME} reference (the only accepted form for a secret; no default)."""
    match = REFERENCE.fullmatch(text.strip())
    return match is not None and match.group(2) is None
