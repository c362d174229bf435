"""Routing: which Slack channel or DM an alert goes to, and whether it pings now or waits for the digest.

    rules (first match wins) -> "owner" or a channel ID
    "owner" -> owner_email -> users.lookupByEmail (cached in state with a TTL) -> DM to U...
    no owner / owner not in Slack -> the fallback channel, with the reason kept on the alert
    priority in routing.immediate (default high) -> ping now (+ CRM task); otherwise -> digest

A post that Slack answers as undeliverable (channel_not_found, not_in_channel, is_archived, ...)
is rerouted to the fallback channel by the outbox (outbox.py), which also stores the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from syncer.alerts.model import AlertSettings
from syncer.alerts.store import aware, slack_users
from syncer.owner_email import owner_lookup_email

Lookup = Callable[[str], str | None]


@dataclass(frozen=True)
class Route:
    """Where one alert goes. `fallback_reason` is set when it could not go where the rule said."""

    channel: str  # C... channel or U... user (a DM); "email" when the alert goes by email only
    delivery: str  # ping | digest
    rule: str
    owner_slack_id: str | None
    fallback_reason: str | None = None
    email_to: tuple[str, ...] = ()  # addresses on the email channel (empty: no email)
    slack: bool = True  # False: email only
    channel_name: str | None = None  # the Slack channel's name when `channel` is a channel Slack named

    def describe(self) -> str:
        where = [self.channel] if self.slack else []
        where += [f"email {', '.join(self.email_to)}"] if self.email_to else []
        return " + ".join(where) or "nowhere"


class UserDirectory:
    """Owner email -> Slack user id through the connector, cached in state (hits and misses, each with a TTL)."""

    def __init__(self, engine: sa.Engine, lookup: Lookup, settings: AlertSettings) -> None:
        self.engine = engine
        self.lookup = lookup
        self.hit_ttl = dt.timedelta(hours=settings.routing.user_cache_hours)
        self.miss_ttl = dt.timedelta(hours=settings.routing.user_miss_cache_hours)
        self.calls = 0
        self._memo: dict[str, tuple[str | None, dt.datetime]] = {}

    def user_id(self, email: str, now: dt.datetime) -> str | None:
        found = owner_lookup_email(email)  # the lookup rule of every connector
        if found is None:
            return None
        email = found
        memo = self._memo.get(email)
        if memo is not None and now - memo[1] < (self.hit_ttl if memo[0] else self.miss_ttl) and now >= memo[1]:
            return memo[0]
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(slack_users.c.user_id, slack_users.c.checked_at).where(slack_users.c.email == email)
            ).first()
        if row is not None:
            checked = aware(row.checked_at)
            ttl = self.hit_ttl if row.user_id else self.miss_ttl
            if checked is not None and checked <= now < checked + ttl:
                self._memo[email] = (row.user_id, checked)
                return str(row.user_id) if row.user_id else None
        self.calls += 1
        user = self.lookup(email)
        with self.engine.begin() as conn:
            conn.execute(slack_users.delete().where(slack_users.c.email == email))
            conn.execute(slack_users.insert().values(email=email, user_id=user, checked_at=now))
        self._memo[email] = (user, now)
        return user


class Router:
    def __init__(
        self,
        settings: AlertSettings,
        users: UserDirectory,
        fallback_channel: str | None,
        channels: Lookup | None = None,
    ) -> None:
        self.settings = settings
        self.users = users
        self.fallback = settings.routing.fallback_channel or fallback_channel
        self.channels = channels  # channel id -> name (the Slack connector's channel_name), None: unnamed

    def route(self, alert: dict[str, Any], now: dt.datetime) -> Route:
        """Where `alert` goes (the module docstring's rules), naming a Slack channel target when Slack names it."""
        route = self._route(alert, now)
        if self.channels is not None and route.slack and route.channel[:1] in ("C", "G"):
            return replace(route, channel_name=self.channels(route.channel))
        return route

    def _route(self, alert: dict[str, Any], now: dt.datetime) -> Route:
        routing, cfg = self.settings.routing, self.settings.alerts
        target, rule_name, delivery = routing.default_to, "default", None
        channel: str = routing.channel
        email_to: list[str] = []
        for index, rule in enumerate(routing.rules):
            if rule.matches(alert):
                target, rule_name, delivery = rule.to, rule.name or f"rules[{index}]", rule.delivery
                channel, email_to = rule.channel or routing.channel, list(rule.email_to or [])
                break
        if delivery is None:
            delivery = "ping" if alert.get("priority") in routing.immediate else "digest"
        email = str(alert.get("owner_email") or "").strip()
        if target == "owner":
            preference = cfg.preference(email)
            if preference is not None:
                channel = preference.prefer
            email_to = [preference.address if preference is not None and preference.address else email] if email else []
        if cfg.email is None:
            channel = "slack"
        reason = None
        if channel != "slack" and not email_to:
            channel, reason = "slack", f"no_email_address: rule {rule_name} has no email_to"
            if target == "owner":
                reason = "no_email_address: no owner_email"
        if channel == "email":
            return Route("email", delivery, rule_name, None, reason, tuple(email_to), slack=False)
        emails = tuple(email_to) if channel == "both" else ()
        owner_id = self.users.user_id(email, now) if email else None
        if target != "owner":
            return Route(target, delivery, rule_name, owner_id, reason, emails)
        if owner_id:
            return Route(owner_id, delivery, rule_name, owner_id, reason, emails)
        why = "owner_unknown: no owner_email" if not email else f"owner_not_in_slack: {email}"
        if email and cfg.email is not None and cfg.email_delivery.not_in_slack:
            return Route("email", delivery, rule_name, None, f"{why} -> email", tuple(email_to), slack=False)
        return Route(self.fallback_or_raise(), delivery, rule_name, None, why, emails)

    def fallback_or_raise(self) -> str:
        if not self.fallback:
            # config validation makes this unreachable in a checked deployment; keep the alert visible
            return "NO_FALLBACK_CHANNEL"
        return self.fallback
