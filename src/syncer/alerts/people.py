"""Recipients and owners by name in what a person reads (CLI lines, previews), not by Slack id or address.

The name is the alert query's `owner_name` (top level, or in `context` when the query puts extra columns
there), as the renderers use it (connectors/slack/playbook.py `owner_name`). An alert carrying one names
its owner's email, Slack user id and the DM it went to. Without a name, the id or address is shown as
before. Machine-readable output (--json, audit rows, webhooks) keeps the ids.

    names = known_names(engine)             # {"U0OWNER001": "Sara Patel", "sara@example.com": "Sara Patel"}
    label("U0OWNER001", names)              # "Sara Patel (U0OWNER001)"
    label("C0DESK", names)                  # "C0DESK" (no name known)
    shown("digest -> C0ALERTS", names)      # "digest -> #syncer-alerts" (the channel named when it was routed)
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from syncer.alerts.store import alerts

if TYPE_CHECKING:
    from syncer.alerts.model import DigestConfig  # model imports budget, which imports this module


def owner_name(alert: dict[str, Any]) -> str | None:
    """The owner's name an alert dict carries (`owner_name`, top level or in `context`), else None."""
    context = alert.get("context")
    name = alert.get("owner_name") or (context.get("owner_name") if isinstance(context, dict) else None)
    return (str(name).strip() or None) if name else None


def known_names(engine: sa.Engine) -> dict[str, str]:
    """Owner email (lower case), Slack user id and DM target -> the owner's name, and Slack channel id -> its
    #name (`channel_name`, as Slack named it when the alert was routed), from the alerts that carry one; a later
    alert's name wins (an owner renamed in the warehouse reads by the new name)."""
    query = (
        sa.select(alerts.c.owner_email, alerts.c.owner_slack_id, alerts.c.channel, alerts.c.payload)
        .where(sa.or_(alerts.c.payload.like("%owner_name%"), alerts.c.payload.like("%channel_name%")))
        .order_by(alerts.c.id)
    )
    names: dict[str, str] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            payload = json.loads(row.payload)
            if payload.get("channel_name") and row.channel:
                names[str(row.channel)] = f"#{payload['channel_name']}"
            name = owner_name(payload)
            if name is None:
                continue
            if row.owner_email:
                names[str(row.owner_email).strip().lower()] = name
            if row.owner_slack_id:
                names[str(row.owner_slack_id)] = name
    return names


def recipient_emails(conn: sa.Connection, recipient: str) -> list[str]:
    """The owner emails of the alerts routed to Slack user `recipient` (an owner's DM goes to their user id),
    sorted; [] for a channel or an id no alert names."""
    query = (
        sa.select(alerts.c.owner_email)
        .where(alerts.c.owner_slack_id == recipient, alerts.c.owner_email.is_not(None))
        .distinct()
    )
    return sorted(str(e) for e in conn.scalars(query))


def reader_zone(conn: sa.Connection, digest: DigestConfig, recipient: str) -> ZoneInfo:
    """The zone `recipient` reads in: `[digest] timezones` keyed by the Slack id, the channel, the address, or
    (for a Slack user) the owner email the alerts routed to them carry, else `timezone`. The reference page
    documents email keys for Slack recipients (docs/reference/digest.md), so an id alone is not enough."""
    return digest.zone_for(recipient, *recipient_emails(conn, recipient))


def shown(text: Any, names: dict[str, str]) -> str:
    """`text` with every Slack id in it that has a name replaced by the name: a channel by its #name, a person by
    their name ("digest -> C0SYNCERALERTS (default)" -> "digest -> #syncer-alerts (default)"); unknown ids stay."""
    return re.sub(r"\b[CGUW][A-Z0-9]{2,}\b", lambda m: names.get(m.group(0), m.group(0)), str(text or ""))


def label(target: Any, names: dict[str, str]) -> str:
    """'Sara Patel (U0OWNER001)' for a recipient or owner whose name is known; the id or address as given
    otherwise. Several comma-separated addresses (an email route) are labelled one by one."""
    text = str(target or "")
    parts = [p.strip() for p in text.split(",")] if "@" in text else [text]
    shown = []
    for part in parts:
        name = names.get(part) or names.get(part.lower())
        shown.append(f"{name} ({part})" if name and name != part else part)
    return ", ".join(shown)
