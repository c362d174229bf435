"""Times in text people read: in the reader's configured IANA zone, with the zone named.

One rule for every message, page and CLI line a person reads (Slack ping footers, alert emails,
escalations, `syncer runs`): the instant in the zone the config gives for that recipient or team
(`[digest] timezone` / `timezones`; zoneinfo, DST-correct), and the zone's name after it, so
"08:00 UTC" and "03:00 EST" are never confused. UTC only where no zone is configured, and then it
says "UTC". Machine-readable outputs (--json, audit rows, webhooks) stay UTC ISO 8601 and never
come here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo


def zone_label(when: dt.datetime) -> str:
    """The zone's name at `when` as people read it: its abbreviation ("EST", "CEST", "UTC"), or the IANA key
    where the zone has no lettered abbreviation (tzdata writes "+03" for Europe/Istanbul)."""
    abbreviation = when.tzname() or ""
    if abbreviation.isalpha():
        return abbreviation
    key = getattr(when.tzinfo, "key", None)
    return str(key or abbreviation or "UTC")


def team_zone(raw: dict[str, Any]) -> str | None:
    """The team's IANA zone from config.toml's `[digest] timezone` (validated by alerts/model.py), or None
    when none is configured (then times say UTC). For lines not addressed to one recipient: runs, audit, the
    outcomes report."""
    digest = raw.get("digest")
    zone = digest.get("timezone") if isinstance(digest, dict) else None
    return str(zone) if zone else None


def local_stamp(when: dt.datetime | None, zone: str | ZoneInfo | None = None) -> str:
    """'2026-03-01 19:00:00 EST': a table cell that still sorts as text; '' for None (naive = UTC)."""
    if when is None:
        return ""
    aware = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    local = aware.astimezone(_tz(zone))
    return f"{local:%Y-%m-%d %H:%M:%S} {zone_label(local)}"


def _tz(zone: str | ZoneInfo | None) -> dt.tzinfo:
    return ZoneInfo(zone) if isinstance(zone, str) and zone else zone if isinstance(zone, ZoneInfo) else dt.UTC


def local_words(when: dt.datetime, zone: str | ZoneInfo | None = None) -> str:
    """'2 Mar 2026, 03:00 EST' for 08:00 UTC in America/New_York; '2 Mar 2026, 08:00 UTC' without a zone.

    `when` naive is taken as UTC (syncer's convention, timestamps.py). `zone` an IANA name or ZoneInfo;
    None or "" means UTC. Raises ZoneInfoNotFoundError for an unknown name (config validation refuses those)."""
    aware = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    local = aware.astimezone(_tz(zone))
    return f"{local:%-d %b %Y, %H:%M} {zone_label(local)}"
