"""`syncer check` for Slack: the token works, has the scope of every Web API call syncer will make, and
every configured channel exists, is not archived and has the bot as a member (history lookups need it).

The calls follow from who is messaged: the connector's `channels` and `fallback_channel`, and the
destination's `recipients` (alert routing, escalation, ops alerts; a Slack sync's `channel` column, every
distinct value). A channel is posted to (chat.postMessage), read for the dedupe lookup
(conversations.history) and named (conversations.info); a user ID is first opened as a DM
(conversations.open); an owner is first found by email (users.lookupByEmail). Each missing scope is one
problem naming the calls that need it, who they are for and the fix, located at the `bot_token` setting
(the token the scopes belong to); a channel's problem is located at the key naming the channel.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Literal

from slack_sdk.web import SlackResponse

from syncer.connector import OWNER_DM, OWNER_NAMED, SettingProblem, check_problem
from syncer.errors import RejectedError, SyncerError

from .error_mapping import EVERY_MESSAGE_SCOPES, SCOPE_FIX, MissingScope

Api = Callable[..., dict[str, Any]]
ApiResponse = Callable[..., SlackResponse]
Kind = Literal["public", "private", "im"]

# The bot scope each call syncer makes needs, by conversation kind (docs.slack.dev/reference/methods/<method>,
# "Scopes"; the emulator's emulator_scopes.py encodes the same pages independently).
CALL_SCOPES: dict[str, dict[Kind, str]] = {
    "chat.postMessage": {"public": "chat:write", "private": "chat:write", "im": "chat:write"},
    "conversations.history": {"public": "channels:history", "private": "groups:history", "im": "im:history"},
    "conversations.info": {"public": "channels:read", "private": "groups:read", "im": "im:read"},
    "conversations.open": {"im": "im:write"},
    "users.lookupByEmail": {"public": "users:read.email", "private": "users:read.email", "im": "users:read.email"},
}
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")

Needs = dict[str, dict[str, list[str]]]  # scope -> call -> what for ("DM U0ANNA (routing.default_to)")
SYNC_FIELD = "fields."  # a recipient key naming a sync's mapped field: its problems belong to the mapping file
SHOWN = 3  # targets named per call in a missing-scope problem; the rest are counted


def check_workspace(
    api_response: ApiResponse,
    api: Api,
    channels: Iterable[tuple[str | None, str]],
    token_key: str = "bot_token",
) -> list[str]:
    """Every problem found, each a SettingProblem at the config key it is about (`token_key` for the token and
    its scopes, a recipient's key for its channel), or a plain problem naming a sync's mapped field (a key
    starting "fields."). `channels` are (recipient, config key) pairs: a channel or user ID, OWNER_DM (an owner
    found by email, messaged) or OWNER_NAMED (found, named)."""
    try:
        auth = api_response("auth_test")
    except SyncerError as exc:
        problem = check_problem(exc, f"slack auth.test failed: {exc}")
        return [problem if type(problem) is not str else SettingProblem(token_key, problem)]
    header = {k.lower(): v for k, v in (auth.headers or {}).items()}.get("x-oauth-scopes")
    granted = {s.strip() for s in header.split(",")} if header else None
    needs: Needs = {}
    problems: list[str] = []
    for channel, key in dict.fromkeys((c, k) for c, k in channels if c):
        problems += _reach(api, channel, key, needs)
    for scope in sorted(EVERY_MESSAGE_SCOPES):  # whatever the recipient: checked when none is known too (a plan)
        needs.setdefault(scope, {"chat.postMessage": ["every message"]})
    for scope, calls in needs.items():
        if granted is not None and scope not in granted:
            problems.append(SettingProblem(token_key, _missing(scope, calls)))
    return problems


def _at(key: str, text: str) -> str:
    """A problem with one recipient, located at `key`: the mapping's field for a sync's column, else config.toml's."""
    return f"{text} ({key})" if key.startswith(SYNC_FIELD) else SettingProblem(key, text)


def _reach(api: Api, target: str, key: str, needs: Needs) -> list[str]:
    """Note the calls messaging `target` (named by config `key`) takes; the problems found on the way."""

    def need(call: str, kind: Kind, what: str) -> None:
        needs.setdefault(CALL_SCOPES[call][kind], {}).setdefault(call, []).append(f"{what} ({key})")

    if target in (OWNER_DM, OWNER_NAMED):
        need("users.lookupByEmail", "im", "find account owners by email")
        if target == OWNER_NAMED:
            return []
        target, what = "", "DM account owners"
    elif _USER_ID.match(target):
        what = f"DM {target}"
    else:
        return _channel(api, target, key, need)
    for call in ("conversations.open", "conversations.history", "chat.postMessage"):
        need(call, "im", what)
    return []


def _channel(api: Api, channel: str, key: str, need: Callable[[str, Kind, str], None]) -> list[str]:
    if not _CHANNEL_ID.match(channel):
        return [_at(key, f"slack channel {channel!r}: use the channel ID (C.../G...), not its name")]
    try:
        info = api("conversations_info", channel=channel)["channel"]
    except MissingScope as exc:  # the check's own call: the scope it lacks says the channel's kind
        kind: Kind = "im" if channel.startswith("D") else "private" if "groups" in exc.needed else "public"
        _needs(channel, kind, need)  # every call messaging it, so one reinstall grants them all
        return []
    except RejectedError as exc:
        return [_at(key, f"slack channel {channel}: {exc}")]
    except SyncerError as exc:
        problem = check_problem(exc, f"slack channel {channel} ({key}): conversations.info failed: {exc}")
        return [problem if type(problem) is not str else _at(key, f"slack channel {channel}: {problem}")]
    kind = "im" if info.get("is_im") else "private" if info.get("is_private") else "public"
    _needs(channel, kind, need)
    if info.get("is_archived"):
        return [_at(key, f"slack channel {channel}: archived")]
    if not info.get("is_member", False) and kind != "im":
        return [_at(key, f"slack channel {channel}: the bot is not a member (invite it to the channel)")]
    return []


def _needs(channel: str, kind: Kind, need: Callable[[str, Kind, str], None]) -> None:
    """The calls a message to `channel` (of `kind`) takes: named, looked up for the dedupe, posted."""
    need("conversations.info", kind, f"name {channel}")
    need("conversations.history", kind, f"post to {channel}")
    need("chat.postMessage", kind, f"post to {channel}")


def _missing(scope: str, calls: dict[str, list[str]]) -> str:
    def listed(whats: list[str]) -> str:
        unique = list(dict.fromkeys(whats))
        more = f" and {len(unique) - SHOWN} more" if len(unique) > SHOWN else ""
        return ", ".join(unique[:SHOWN]) + more

    uses = "; ".join(f"{call} to {listed(whats)}" for call, whats in calls.items())
    return f"missing scope {scope}, needed by {uses}; {SCOPE_FIX}"
