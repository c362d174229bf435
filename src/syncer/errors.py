"""The one exception tree every stage of syncer raises from, and the exit code each one means.

    SyncerError                 exit 1  (a transient failure that outlasted its retries: rows not sent)
     +-- FatalError             exit 2  stop the whole sync: bad config, bad credentials, quota exhausted,
     |    |                             a missing table: something the user must fix or wait for
     |    +-- ConfigError       exit 2  invalid configuration; every problem found, each with file and key
     |    +-- WarehouseError    exit 2  a missing table, wrong password, missing grants (file and model key)
     |    +-- StateError        exit 2  the state store is damaged or unreadable (names it, says what to do)
     |    +-- UsageError        exit 2  a command-line value that names nothing (a sync, a status): the valid ones
     |    +-- CredentialRefused exit 2  the destination refused the credential (401, INVALID_LOGIN, invalid_auth,
     |                                  SMTP 535) or what it may do (403, a scope or permission missing); the
     |                                  connector names the setting and the fix (Connector.refused)
     +-- LeaseHeld              exit 3  another process runs this sync now (names host, pid, since)
     +-- RetryableError         exit 1  a transient failure (429, 5xx, timeout): back off and try again
     |    +-- DestinationUnreachable exit 2  nothing answers at the destination's address (refused, no such
     |                                    host, no route): a run retries it, a plan or check reports it at once
     +-- RejectedError          exit 1  this record can never succeed as it is: record the reason, move on

Anything else escaping is a bug in syncer: exit 70 (EX_SOFTWARE), traceback written to a log file.
Connectors raise these (or return per-record results); only the runner decides to retry; the CLI
prints each error once and exits with `exc.exit_code` (README, "Exit codes").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """What `syncer` exits with. Documented in the README; scripts and schedulers rely on them."""

    OK = 0
    ROWS = 1  # some records failed, were rejected or are held back (out of sync)
    CONFIG = 2  # configuration, usage or environment the user must fix (file and key, or the resource)
    LEASE_HELD = 3  # another runner holds this sync's lease
    INTERNAL = 70  # a bug in syncer (sysexits EX_SOFTWARE); the traceback is in a log file
    INTERRUPTED = 130  # Ctrl-C / SIGINT


class SyncerError(Exception):
    """Root of every error syncer raises on purpose."""

    exit_code: int = ExitCode.ROWS


class FatalError(SyncerError):
    """Stop the sync: retrying cannot help (auth, config, daily quota exhausted, missing table). `status`: the
    HTTP status (or SMTP reply code) of the answer that stopped it, when one did (`syncer.http.raise_for_response`)."""

    exit_code = ExitCode.CONFIG
    status: int | None = None


class CredentialRefused(FatalError):
    """The destination refused the connector's credential (HTTP 401 or the vendor's word for it: Salesforce
    INVALID_LOGIN / INVALID_SESSION_ID, Slack invalid_auth, SMTP 535), or, `forbidden`, took it but refused the
    call for a missing scope or permission (HTTP 403, Slack missing_scope). `what`: the call refused; `detail`: the
    status and the vendor's error code, never the body (it may echo the credential); `fix`: a remedy the answer
    itself tells (a Slack scope to add), else the connector's (`Connector.refused` names the setting). `issue`: the
    same refusal at the setting to fix in config.toml, set by the connector it escapes from when a config built that
    connector (`Connector.__init_subclass__`); the CLI prints it as a config error and `described` reads it."""

    issue: ConfigIssue | None = None

    def __init__(
        self, what: str, detail: str, forbidden: bool = False, status: int | None = None, fix: str = ""
    ) -> None:
        self.what, self.detail, self.forbidden, self.status, self.fix = what, detail, forbidden, status, fix
        super().__init__(f"{what}: {detail}" + (f"; {fix}" if fix else ""))


class WarehouseError(FatalError):
    """The warehouse refused a query or a connection: a missing table or column, a wrong password,
    missing grants. The runner adds the mapping file and model key that named the query (once: `located`)."""

    located = False


class StateError(FatalError):
    """The state store cannot be used as it is: `location`, what happened, and what is safe to do."""

    def __init__(self, location: str, what: str, remedy: str) -> None:
        self.location, self.what, self.remedy = location, what, remedy
        super().__init__(f"state {location}: {what}. {remedy}")


class UsageError(FatalError):
    """A command-line value outside its set: a sync name not in the config, a status that is no status.
    The message names the valid values."""


class LeaseHeld(SyncerError):
    """Another process holds the lease of this sync (one runner per sync, CLI and daemon alike)."""

    exit_code = ExitCode.LEASE_HELD


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


class DestinationUnreachable(RetryableError):
    """Nothing answers at the destination's address: the connection was refused, the host is unknown or
    there is no route to it (`syncer.http.unreachable_reason`, shared by every connector).

    No request was sent, so a run may retry it like any transient failure; a plan or `check` reports
    it at once (one line naming the sync, connector and `scheme://host:port`) with exit 2: the
    environment to fix (README, "Exit codes"). `url` never carries credentials, path or query.
    """

    exit_code = ExitCode.CONFIG

    def __init__(self, what: str, url: str, reason: str = "connection refused") -> None:
        self.what, self.url, self.reason = what, url, reason
        self.sync: str | None = None  # set by the command that knows which sync asked
        self.connector: str | None = None
        self.hint = ""
        super().__init__(self.line())

    def line(self) -> str:
        who = f"sync {self.sync} (connector {self.connector!r})" if self.sync else self.what
        hint = f"; {self.hint}" if self.hint else ""
        return f"{who}: destination not reachable at {self.url} ({self.reason}){hint}"

    def named(self, sync: str, connector: str, hint: str = "") -> DestinationUnreachable:
        """This error, now naming the sync and connector that met it (and a hint for the user)."""
        self.sync, self.connector, self.hint = sync, connector, hint
        self.args = (self.line(),)
        return self

    def __str__(self) -> str:
        return self.line()


def described(exc: BaseException) -> str:
    """How a failure that ended a run reads where the user sees it (`syncer runs`, the daemon's log and ops
    alerts): a syncer error in its own words, a transient one (RetryableError, raised only once the retry
    policy gave up) saying so and that the next run tries again; anything else is a bug, named by its class."""
    if isinstance(exc, RetryableError) and not isinstance(exc, DestinationUnreachable):  # that one says itself
        return f"{exc} (still failing after the retries; the next run tries again)"
    if isinstance(exc, CredentialRefused) and exc.issue is not None:  # the setting to fix (Connector.refused)
        return str(exc.issue)
    if isinstance(exc, SyncerError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
