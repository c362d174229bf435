"""Secrets: read from the environment or /run/secrets, never from TOML, and masked everywhere.

A TOML value `${NAME}` (or `${NAME:-default}` for a non-secret setting) is resolved from the
environment variable NAME, else from the file
`$SYNCER_SECRETS_DIR/NAME` (default `/run/secrets/NAME`, where Docker and Kubernetes mount them).
Every log line, error message and audit row passes through `mask()` before it leaves the process.
What is masked (the rule): the value of every `${NAME}` written in a secret field (a `SecretStr`, or
one marked `x-secret`: `resolve(text, secret=True)`), and the password of any URL a setting resolves
to (`postgresql://user:PASSWORD@host`). A setting's value is not masked otherwise, even from
`${NAME}`: a base URL, a host or a channel ID is no secret, and masking "127.0.0.1" or a rate of
"1000" would mangle every message and row that contains it.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

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


def resolve(text: str, secret: bool = True) -> tuple[str, list[str]]:
    """Replace every ${NAME} in text; return the result and the names that could not be found.

    `secret`: text is a secret field's value, so each value read is masked from now on; otherwise
    only the password of the URL it resolves to is (see the module docstring for the rule)."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        value = lookup(match.group(1))
        setting = match.group(2) is not None  # ${NAME:-default}: a non-secret setting (a secret has no default)
        if value is None:
            if setting:
                return match.group(2)
            missing.append(match.group(1))
            return match.group(0)
        if secret and not setting:  # a setting's value ("1000", a host) would mangle every row containing it
            mask.add(value)
        return value

    resolved = REFERENCE.sub(substitute, text)
    if not secret:
        mask_url_password(resolved)
    return resolved, missing


def mask_url_password(text: str) -> None:
    """Mask the password of `text` when it is a URL carrying one (`scheme://user:PASSWORD@host`)."""
    try:
        password = urlsplit(text.strip()).password
    except ValueError:  # not a URL (an unmatched '[' and the like)
        return
    if password:
        mask.add(password)


def is_reference(text: str) -> bool:
    """True when the whole value is one ${NAME} reference (the only accepted form for a secret; no default)."""
    match = REFERENCE.fullmatch(text.strip())
    return match is not None and match.group(2) is None
