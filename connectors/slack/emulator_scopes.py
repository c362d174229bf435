"""The bot token scope each Web API method the emulator serves needs, as Slack documents it.

A conversation method needs the scope of the conversation's kind (public channel, private channel,
DM, group DM); a call without it is answered the way Slack answers it, HTTP 200 with
`{"ok": false, "error": "missing_scope", "needed": "<scope>", "provided": "<granted, comma-separated>"}`
(the Web API's common errors; slack_sdk's `SlackApiError.response` carries `needed` / `provided`).

    needed_scope("conversations.history", "im") -> "im:history"
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["public", "private", "im", "mpim", "any"]

METHOD_SCOPES: dict[str, dict[Kind, str]] = {
    # docs.slack.dev/reference/methods/auth.test: no scope needed
    "auth.test": {},
    # docs.slack.dev/reference/methods/chat.postMessage: bot scope chat:write, whatever the conversation
    "chat.postMessage": {"any": "chat:write"},
    # docs.slack.dev/reference/methods/conversations.history: channels|groups|im|mpim:history by conversation type
    "conversations.history": {
        "public": "channels:history",
        "private": "groups:history",
        "im": "im:history",
        "mpim": "mpim:history",
    },
    # docs.slack.dev/reference/methods/conversations.replies: the same history scopes as conversations.history
    "conversations.replies": {
        "public": "channels:history",
        "private": "groups:history",
        "im": "im:history",
        "mpim": "mpim:history",
    },
    # docs.slack.dev/reference/methods/conversations.info: channels|groups|im|mpim:read by conversation type
    "conversations.info": {"public": "channels:read", "private": "groups:read", "im": "im:read", "mpim": "mpim:read"},
    # docs.slack.dev/reference/methods/conversations.open: im:write for one user, mpim:write for several
    "conversations.open": {"im": "im:write", "mpim": "mpim:write"},
    # docs.slack.dev/reference/methods/users.lookupByEmail: users:read.email
    "users.lookupByEmail": {"any": "users:read.email"},
}


def needed_scope(method: str, kind: Kind = "any") -> str | None:
    """The scope `method` needs on a conversation of `kind` ("any": not about a conversation), None if none."""
    scopes = METHOD_SCOPES.get(method, {})
    return scopes.get("any") or scopes.get(kind)


def missing_scope(method: str, kind: Kind, granted: tuple[str, ...]) -> dict[str, object] | None:
    """Slack's answer body when the token lacks the scope `method` needs on `kind`, else None."""
    needed = needed_scope(method, kind)
    if needed is None or needed in granted:
        return None
    return {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(granted)}
