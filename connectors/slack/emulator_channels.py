"""The emulated workspace's channels: messages with threads, history reads, and the per-channel
rate limit (a sliding window of `burst` messages per `burst / rate` seconds, like Slack's ~1/s)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .emulator_scopes import Kind

Message = dict[str, Any]


@dataclass
class Channel:
    id: str
    name: str
    is_member: bool = True
    is_archived: bool = False
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False
    messages: list[Message] = field(default_factory=list)
    posted_at: list[float] = field(default_factory=list)  # emulator clock, for the rate limit

    @property
    def kind(self) -> Kind:
        """What scopes are about (emulator_scopes): a DM, a group DM, a private or a public channel."""
        if self.is_im:
            return "im"
        if self.is_mpim:
            return "mpim"
        return "private" if self.is_private else "public"

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not (self.is_im or self.is_mpim),
            "is_im": self.is_im,
            "is_mpim": self.is_mpim,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_member": self.is_member,
        }

    def throttle(self, now: float, rate: float, burst: int) -> int | None:
        """Seconds to wait (Retry-After) when the burst is used up within the window, else None."""
        window = burst / rate
        self.posted_at = [t for t in self.posted_at if t > now - window]
        if len(self.posted_at) >= burst:
            return max(1, math.ceil(self.posted_at[0] + window - now))
        self.posted_at.append(now)
        return None

    def history(self, oldest: float) -> list[Message]:
        """Top-level messages newer than `oldest`, newest first (thread replies are not history)."""
        parents = [m for m in reversed(self.messages) if m.get("thread_ts", m["ts"]) == m["ts"]]
        return [m for m in parents if float(m["ts"]) > oldest]

    def replies(self, ts: str, oldest: float) -> list[Message] | None:
        """A thread, parent first then replies newer than `oldest`; None when there is no such thread."""
        thread = [m for m in self.messages if m["ts"] == ts or m.get("thread_ts") == ts]
        if not thread:
            return None
        return [m for m in thread if m["ts"] == ts or float(m["ts"]) > oldest]


def page(messages: list[Message], params: dict[str, Any]) -> dict[str, Any]:
    """One page of a message list: `limit` (max 999), an offset cursor, metadata only when asked for."""
    limit = max(1, min(int(params.get("limit") or 100), 999))
    start = int(params.get("cursor") or 0)
    chunk = messages[start : start + limit]
    if str(params.get("include_all_metadata")).lower() not in ("1", "true"):
        chunk = [{k: v for k, v in m.items() if k != "metadata"} for m in chunk]
    more = start + limit < len(messages)
    return {
        "messages": chunk,
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }
