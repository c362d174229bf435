"""`syncer check` for Slack: the token works, has the scopes syncer needs, and every configured
channel exists, is not archived and has the bot as a member (history lookups need membership)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk.web import SlackResponse

from syncer.connector import check_problem
from syncer.errors import RejectedError, SyncerError

Api = Callable[..., dict[str, Any]]
ApiResponse = Callable[..., SlackResponse]

BASE_SCOPES = ("chat:write", "channels:read", "channels:history", "users:read", "users:read.email")
PRIVATE_SCOPES = ("groups:read", "groups:history")
DM_SCOPES = ("im:write", "im:history")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


def check_workspace(api_response: ApiResponse, api: Api, channels: Iterable[str | None]) -> list[str]:
    """Return every problem found, each naming the setting or channel it is about."""
    try:
        auth = api_response("auth_test")
    except SyncerError as exc:
        return [check_problem(exc, f"slack bot_token: auth.test failed: {exc}")]
    header = {k.lower(): v for k, v in (auth.headers or {}).items()}.get("x-oauth-scopes")
    granted = {s.strip() for s in header.split(",")} if header else None
    needed = set(BASE_SCOPES)
    problems: list[str] = []
    for channel in dict.fromkeys(c for c in channels if c):
        if _USER_ID.match(channel):
            needed.update(DM_SCOPES)
            continue
        if not _CHANNEL_ID.match(channel):
            problems.append(f"slack channel {channel!r}: use the channel ID (C.../G...), not its name")
            continue
        try:
            info = api("conversations_info", channel=channel)["channel"]
        except RejectedError as exc:
            problems.append(f"slack channel {channel}: {exc}")
            continue
        except SyncerError as exc:
            problems.append(check_problem(exc, f"slack channel {channel}: conversations.info failed: {exc}"))
            continue
        if info.get("is_private"):
            needed.update(PRIVATE_SCOPES)
        if info.get("is_archived"):
            problems.append(f"slack channel {channel}: archived")
        elif not info.get("is_member", False):
            problems.append(f"slack channel {channel}: the bot is not a member (invite it to the channel)")
    if granted is not None:
        missing = sorted(needed - granted)
        if missing:
            problems.append(f"slack bot_token: missing scopes {', '.join(missing)}")
    return problems
