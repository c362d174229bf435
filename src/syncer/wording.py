"""Counted nouns in text people read: "1 alert", "2 alerts", "1 reply", "3 replies".

One rule for every message, page and digest (Slack blocks, email, the demo pages, CLI lines), so a
count of one never reads "1 alerts". Not `inflect`: every noun here is known at the call site, so the
irregular plural is passed in rather than guessed, and the CLI does not pay for importing a grammar.
"""

from __future__ import annotations


def plural(count: int | float, singular: str, many: str | None = None) -> str:
    """`count` and the noun that agrees with it: plural(1, "alert") -> "1 alert";
    plural(0, "reply", "replies") -> "0 replies". `many` defaults to `singular + "s"`.
    Whole floats print without ".0"; a count is never rounded (1.5 -> "1.5 alerts")."""
    shown = f"{int(count)}" if float(count).is_integer() else f"{count}"
    return f"{shown} {singular if float(count) == 1 else (many or singular + 's')}"


# words a reader writes in capitals or with a hyphen, where a value (a segment, a tier) is stored in snake_case
READABLE = {"smb": "SMB", "api": "API", "pql": "PQL", "crm": "CRM", "sla": "SLA", "mid_market": "mid-market"}


def readable(value: str) -> str:
    """A stored snake_case value as a reader reads it: readable("mid_market") -> "mid-market", readable("smb") ->
    "SMB", readable("expansion_ready") -> "expansion ready"; anything without underscores and not an acronym
    stays as it is ("enterprise"). For labels on pages and in messages; filters and JSON keep the value."""
    if value in READABLE:
        return READABLE[value]
    return " ".join(READABLE.get(word, word) for word in value.split("_")) if "_" in value else value


def readable_title(value: str) -> str:
    """`readable(value)` opening a title or a sentence: only its first letter raised, so a trigger reads the same in
    a Slack ping, an email, a CRM task and the report: readable_title("api_limit_approaching") -> "API limit
    approaching", readable_title("seat_limit_approaching") -> "Seat limit approaching" (`str.capitalize` would
    lower "API" to "Api"). "" stays "" (callers say what an unnamed thing is)."""
    words = readable(value.strip())
    return words[:1].upper() + words[1:]
