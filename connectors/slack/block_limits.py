"""Block Kit limits, and a validator that applies them the way Slack does.

The renderer packs messages against these numbers and the emulator refuses what breaks them
(`invalid_blocks`, `msg_blocks_too_long`), so a digest that would be refused by Slack fails the tests first. Numbers are
Slack's documented limits, except `MAX_PAYLOAD_CHARS`: Slack also caps the total size of a
message's blocks (about 13k characters observed), and the renderer keeps a margin under it.
"""

from __future__ import annotations

import json
from typing import Any

# Slack Block Kit reference ("Blocks", "Block elements", "Composition objects") for each number below
MAX_BLOCKS = 50  # chat.postMessage `blocks`: up to 50 blocks per message
MAX_SECTION_TEXT = 3000  # section block: text max 3000 characters
MAX_FIELDS = 10  # section block: at most 10 fields
MAX_FIELD_TEXT = 2000  # section block: each field's text max 2000 characters
MAX_HEADER_TEXT = 150  # header block: plain_text max 150 characters
MAX_CONTEXT_ELEMENTS = 10  # context block: at most 10 elements
MAX_ACTION_ELEMENTS = 25  # actions block: at most 25 elements
MAX_BUTTON_TEXT = 75  # button element: text max 75 characters
MAX_URL = 3000  # button element: url max 3000 characters
MAX_BLOCK_ID = 255  # every block: block_id max 255 characters, unique within the message
MAX_MESSAGE_TEXT = 40_000  # chat.postMessage "Truncating content": 40,000 characters (error msg_too_long)
# chat.postMessage error msg_blocks_too_long; slackapi/bolt-js#2509 measured ~13.2k characters of blocks
MAX_BLOCKS_JSON = 13_000  # what the emulator refuses
MAX_PAYLOAD_CHARS = 12_000  # what the renderer aims for: blocks JSON + fallback text

KNOWN_TYPES = frozenset({"section", "header", "context", "actions", "divider", "image", "rich_text"})


def payload_size(text: str, blocks: list[dict[str, Any]]) -> int:
    """Characters a message costs against MAX_PAYLOAD_CHARS (JSON as sent, ASCII-escaped)."""
    return len(json.dumps(blocks)) + len(text)


def message_errors(text: str, blocks: Any, metadata: Any) -> tuple[str, list[str]] | None:
    """What chat.postMessage refuses about a message, as (error code, details); None when fine."""
    if not text and not blocks:
        return "no_text", []
    if len(text) > MAX_MESSAGE_TEXT:
        return "msg_too_long", []
    if blocks is not None and isinstance(blocks, list) and len(json.dumps(blocks)) > MAX_BLOCKS_JSON:
        return "msg_blocks_too_long", []  # chat.postMessage errors: "Blocks submitted with this message are too long"
    if blocks is not None and (errors := validate_blocks(blocks)):
        return "invalid_blocks", errors
    if metadata is not None and not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload"), dict)
    ):
        return "invalid_metadata_format", []
    return None


def validate_blocks(blocks: Any) -> list[str]:
    """Every limit `blocks` breaks, phrased like Slack's `errors` list ([] when valid)."""
    if not isinstance(blocks, list):
        return ["must provide an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    seen_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{index}]"
        if not isinstance(block, dict) or block.get("type") not in KNOWN_TYPES:
            errors.append(f"unsupported block type {where}")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > MAX_BLOCK_ID or block_id in seen_ids:
                errors.append(f"invalid or duplicate block_id {where}")
            seen_ids.add(str(block_id))
        errors.extend(f"{e} {where}" for e in _block_errors(block))
    return errors


def _block_errors(block: dict[str, Any]) -> list[str]:
    kind = block["type"]
    if kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and not fields:
            return ["section needs text or fields"]
        errors = _text_errors(text, MAX_SECTION_TEXT, "text") if text is not None else []
        if fields:
            if len(fields) > MAX_FIELDS:
                errors.append(f"no more than {MAX_FIELDS} fields allowed")
            for field in fields:
                errors.extend(_text_errors(field, MAX_FIELD_TEXT, "fields"))
        return errors
    if kind == "header":
        return _text_errors(block.get("text"), MAX_HEADER_TEXT, "text", plain_only=True)
    if kind == "context":
        elements = block.get("elements") or []
        if not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
            return [f"context needs 1-{MAX_CONTEXT_ELEMENTS} elements"]
        return [e for el in elements if el.get("type") != "image" for e in _text_errors(el, 3000, "elements")]
    if kind == "actions":
        elements = block.get("elements") or []
        if not 1 <= len(elements) <= MAX_ACTION_ELEMENTS:
            return [f"actions needs 1-{MAX_ACTION_ELEMENTS} elements"]
        errors = []
        for element in elements:
            errors.extend(_text_errors(element.get("text"), MAX_BUTTON_TEXT, "button text", plain_only=True))
            if len(str(element.get("url") or "")) > MAX_URL:
                errors.append(f"button url longer than {MAX_URL}")
        return errors
    return []


def _text_errors(obj: Any, limit: int, what: str, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"{what} must be a text object"]
    if plain_only and obj["type"] != "plain_text":
        return [f"{what} must be plain_text"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"{what} must not be empty"]
    if len(text) > limit:
        return [f"{what} must be less than {limit + 1} characters"]
    return []
