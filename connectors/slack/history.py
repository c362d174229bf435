"""Find which outbox keys already have a message in a channel (or thread): the dedupe lookup.

Every message syncer posts carries `metadata.event_payload.key` and `.fingerprint` (the record's
idempotency key: its project, sync or outbox row, key and content); reading recent history with
`include_all_metadata=true` shows which landed, including posts whose reply was lost. A message counts
as this record's only when both match: a key can repeat across states, projects and syncs (a digest
key is `digest:<recipient>:<date>:<n>`, a sync's row key `n1`), and another's message under the same
key is a different message, not this one's acknowledgement. Messages without a fingerprint (posted
before it was stored) never match: a re-post is a possible duplicate, taking a stranger's message as
ours would lose this one. `previous` names, per key, the identity an earlier release gave the record
and when this state stopped using it (Record.previous): a message under it posted before then counts
too, so an upgrade does not post again what that release posted.
Thread replies are not in `conversations.history`, so a thread is read with `conversations.replies`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Api = Callable[..., dict[str, Any]]


def find_keys(
    api: Api,
    channel_id: str,
    thread_ts: str | None,
    wanted: dict[str, str],
    *,
    oldest: float,
    event_type: str,
    page_size: int = 200,
    max_pages: int = 10,
    previous: dict[str, tuple[str, float]] | None = None,
) -> dict[str, str]:
    """Return {key: ts} for the wanted keys ({key: fingerprint}) found, with that fingerprint, in messages
    newer than `oldest` (epoch seconds); or with the key's `previous` fingerprint ({key: (fingerprint,
    epoch seconds)}) in a message posted before that moment.

    Stops as soon as every wanted key is found, or after `max_pages` pages (a key older than the
    lookback, or beyond the page cap in a very busy channel, is treated as not posted).
    """
    found: dict[str, str] = {}
    previous = previous or {}
    cursor: str | None = None
    for _ in range(max_pages):
        kwargs: dict[str, Any] = {
            "channel": channel_id,
            "oldest": f"{oldest:.6f}",
            "limit": page_size,
            "include_all_metadata": True,
        }
        if cursor:
            kwargs["cursor"] = cursor
        if thread_ts:
            data = api("conversations_replies", ts=thread_ts, **kwargs)
        else:
            data = api("conversations_history", **kwargs)
        for message in data.get("messages") or []:
            key, fingerprint = message_key(message, event_type)
            if key in wanted and key not in found and _matches(message, fingerprint, wanted[key], previous.get(key)):
                found[key] = str(message["ts"])
        cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
        if len(found) == len(wanted) or not data.get("has_more") or not cursor:
            break
    return found


def _matches(message: dict[str, Any], fingerprint: str | None, wanted: str, previous: tuple[str, float] | None) -> bool:
    if fingerprint == wanted:
        return True
    if previous is None or fingerprint != previous[0]:
        return False
    try:
        return float(message["ts"]) < previous[1]
    except (KeyError, TypeError, ValueError):
        return False


def message_key(message: dict[str, Any], event_type: str) -> tuple[str | None, str | None]:
    """The outbox key and payload fingerprint syncer stored in a message's metadata, if it is one of ours."""
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != event_type:
        return None, None
    payload = metadata.get("event_payload") or {}
    key, fingerprint = payload.get("key"), payload.get("fingerprint")
    return (key if isinstance(key, str) else None), (fingerprint if isinstance(fingerprint, str) else None)
