"""Slack failures -> syncer errors, in one table.

Slack answers most failures with HTTP 200 and `{"ok": false, "error": "<code>"}`, so the shared
status table (`syncer.http.classify`) only decides for non-200 answers (429, 5xx); the Slack error
code decides the rest:

    fatal           invalid_auth, token_revoked, missing_scope ...   stop the sync (credentials/scopes; a scope of
                                                                     one conversation kind fails those messages)
    retry           ratelimited (+ Retry-After), internal_error ...  transient, maybe already applied
    undeliverable   channel_not_found, not_in_channel, is_archived   rejected "undeliverable:<code>", so
                                                                     the alert layer reroutes to a fallback
    reject          invalid_blocks, msg_too_long, anything unknown   rejected "<code>[: detail]"

Transport failures (reset, timeout) are retryable and ambiguous: the post may have landed, which is
why the connector looks the key up in channel history before posting again. A connection refused, an
unknown host or no route to it is a DestinationUnreachable (`syncer.http.retryable_from_transport`, as
every connector): nothing was sent; a run retries it, `check` and `plan` report it at once.
"""

from __future__ import annotations

import http.client
from typing import Any

from slack_sdk.errors import SlackApiError

from syncer.errors import (
    CredentialRefused,
    DestinationUnreachable,
    FatalError,
    RejectedError,
    RetryableError,
    SyncerError,
)
from syncer.http import Action, classify, parse_retry_after, retryable_from_transport
from syncer.secrets import masked_cut

UNDELIVERABLE_PREFIX = "undeliverable:"

# the token itself is refused (HTTP 401's meaning) / taken but not allowed this call (HTTP 403's): CredentialRefused
REFUSED_CODES = frozenset({"not_authed", "invalid_auth", "token_revoked", "token_expired", "account_inactive"})
FORBIDDEN_CODES = frozenset(
    {"no_permission", "org_login_required", "team_access_not_granted", "ekm_access_denied", "not_allowed_token_type"}
)
FATAL_CODES = (
    REFUSED_CODES
    | FORBIDDEN_CODES
    | {
        "missing_scope",
        "invalid_arguments",  # our request shape is wrong: a bug, not a record problem
    }
)
RETRY_CODES = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
UNDELIVERABLE_CODES = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "cannot_dm_bot",
        "user_not_found",
        "user_disabled",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "team_not_found",
    }
)
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (OSError, http.client.HTTPException)
SCOPE_FIX = "add it to the Slack app's Bot Token Scopes (OAuth & Permissions) and reinstall the app"


# chat.postMessage needs chat:write whatever the conversation (docs.slack.dev/reference/methods/chat.postMessage):
# without it no message can go anywhere. Every other scope syncer uses is one conversation kind's (im:write and
# im:history for DMs, groups:history for private channels ...): only the messages to that kind are held back.
EVERY_MESSAGE_SCOPES = frozenset({"chat:write"})


class MissingScope(CredentialRefused):
    """Slack refused `call` with `missing_scope`: the bot token lacks `needed` (Slack's `needed`, one scope or
    several comma-separated); `provided` is what it has. Nothing changes until the app is reinstalled: fatal for a
    scope every message needs (`every_message`), else the messages to that kind of conversation fail with it (the
    connector's write) and the rest are sent."""

    def __init__(self, call: str, needed: str, provided: str) -> None:
        self.call, self.needed, self.provided = call, needed, provided
        has = f" (it has {provided})" if provided else ""
        super().__init__(call, f"missing_scope: the bot token lacks {needed or 'a scope'}{has}", True, fix=SCOPE_FIX)

    @property
    def every_message(self) -> bool:
        """Whether every message needs the missing scope (or Slack did not say which it is)."""
        return not self.needed or bool(set(self.needed.split(",")) & EVERY_MESSAGE_SCOPES)


def is_undeliverable(reason: str | None) -> bool:
    """True when a rejection means "this channel cannot take messages": route to the fallback."""
    return bool(reason) and str(reason).startswith(UNDELIVERABLE_PREFIX)


def error_code(exc: SlackApiError) -> str:
    data: Any = exc.response.data
    if isinstance(data, dict):
        return str(data.get("error") or "unknown_error")
    return "unknown_error"


def to_syncer_error(exc: BaseException, what: str, url: str | None = None) -> SyncerError:
    """Classify one failed Slack call to `url` (the Web API root); the caller raises or records what comes back."""
    if isinstance(exc, TRANSPORT_ERRORS):
        unreachable = retryable_from_transport(exc, what, url) if url else None
        if isinstance(unreachable, DestinationUnreachable):
            return unreachable
        return RetryableError(f"{what}: {type(exc).__name__}: {exc}")
    if not isinstance(exc, SlackApiError):
        return FatalError(f"{what}: unexpected {type(exc).__name__}: {exc}")
    status = int(exc.response.status_code or 0)
    code = error_code(exc)
    headers = {str(k).lower(): str(v) for k, v in (exc.response.headers or {}).items()}
    if status != 200:
        action = classify(status)
        if action is Action.RETRY:
            hint = parse_retry_after(headers.get("retry-after"))
            error = RetryableError(f"{what}: HTTP {status} {code}", hint)
            error.throttled = status == 429  # type: ignore[attr-defined]
            return error
        if status in (401, 403):
            return CredentialRefused(what, f"HTTP {status} {code}", status == 403, status)
        if action is Action.FATAL:
            return FatalError(f"{what}: HTTP {status} {code}")
    if code == "missing_scope":
        data: Any = exc.response.data
        return MissingScope(what, str(data.get("needed") or ""), str(data.get("provided") or ""))
    if code in REFUSED_CODES or code in FORBIDDEN_CODES:
        return CredentialRefused(what, code, code in FORBIDDEN_CODES)
    if code in FATAL_CODES:
        return FatalError(f"{what}: {code}")
    if code in RETRY_CODES:
        error = RetryableError(f"{what}: {code}", parse_retry_after(headers.get("retry-after")))
        error.throttled = code in ("ratelimited", "rate_limited")  # type: ignore[attr-defined]
        return error
    if code in UNDELIVERABLE_CODES:
        return RejectedError(f"{UNDELIVERABLE_PREFIX}{code}")
    return RejectedError(code + _detail(exc))


def _detail(exc: SlackApiError) -> str:
    """Slack lists what is wrong with blocks in `errors` (or `response_metadata.messages`)."""
    data: Any = exc.response.data
    if not isinstance(data, dict):
        return ""
    details = data.get("errors") or (data.get("response_metadata") or {}).get("messages") or []
    return masked_cut(": " + "; ".join(str(d) for d in details), 500) if details else ""
