"""The one exception tree every stage of syncer raises from.

    SyncerError
     +-- FatalError          stop the whole sync: bad config, bad credentials, quota exhausted
     |    +-- ConfigError    invalid configuration; carries every problem found, each with file and key
     +-- RetryableError      a transient failure (429, 5xx, timeout): back off and try again
     +-- RejectedError       this record can never succeed as it is: record the reason, move on

Connectors raise these (or return per-record results); only the runner decides to retry.
"""

from __future__ import annotations

from dataclasses import dataclass


class SyncerError(Exception):
    """Root of every error syncer raises on purpose."""


class FatalError(SyncerError):
    """Stop the sync: retrying cannot help (auth, config, daily quota exhausted)."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the configuration, located by file and dotted key."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.message}"


class ConfigError(FatalError):
    """The configuration is invalid; every problem found is listed, not only the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class RetryableError(SyncerError):
    """Transient: the same call may succeed later. `retry_after` is the server's hint in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RejectedError(SyncerError):
    """The destination refused this record (or batch) as it is; retrying the same data cannot help."""
