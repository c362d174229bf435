"""Configuration of the alert engine: the `[alerts]`, `[routing]` and `[digest]` sections of config.toml.

Every threshold, cooldown and route is data with a default taken from the seeds (002: dedupe,
cooldown, high -> Slack + CRM task, medium/low -> daily digest, escalate unworked alerts; 003: one
alert per account per trigger per 30 days, 7-14 days after an interaction, 24 h SLA for high).
Problems are reported like the rest of the config: one ConfigError listing every issue with its key.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from syncer.alerts.actions import ActionsConfig, actions_body
from syncer.config import ModelConfig, pydantic_issues
from syncer.errors import ConfigError, ConfigIssue

Priority = Literal["high", "medium", "low"]
Channel = Literal["slack", "email", "both"]
InDoubt = Literal["hold", "resend"]
SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")
SLACK_TARGET = re.compile(r"^[CGUW][A-Z0-9]{2,}$")
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


class CrmTasks(_Strict):
    """Where high-priority alerts get their follow-up task: a salesforce or hubspot connector."""

    connector: str  # name in [connectors]
    object: str | None = None  # default: "Task" (salesforce) / "tasks" (hubspot)
    match_field: str = "External_Id__c"  # the account's external-ID field / unique property
    match_column: str = "account_id"  # the model column holding that field's value
    due_days: int = Field(default=1, ge=0)  # task due date: fired day + due_days (the 24 h SLA)


class RecipientPreference(_Strict):
    """`[alerts.recipients] "owner@x.com" = { prefer = "email" }`: how one person wants alerts and digests."""

    prefer: Channel = "slack"
    address: str | None = None  # send email here instead of the key (e.g. a personal alias)


class EmailChannel(_Strict):
    """`[alerts.email_delivery]`: how the email channel behaves (the connector is `[alerts] email`)."""

    in_doubt: InDoubt = "hold"  # a message interrupted mid-send: not re-sent (hold) or re-sent (resend)
    max_attempts: int = Field(default=10, ge=1)  # temporary failures (4xx, unreachable) before giving up
    not_in_slack: bool = True  # an owner not in Slack gets email (when an email connector is configured)


class AlertsConfig(_Strict):
    """`[alerts]`: the fired-triggers model, lifecycle and escalation."""

    model: ModelConfig = ModelConfig(table="fired_triggers", primary_key=["account_id", "trigger"])
    slack: str = "slack"  # connector name in [connectors]
    tasks: CrmTasks | None = None
    cooldown_days: float = Field(default=30.0, ge=0)  # at most one alert per account x trigger per window
    worked_cooldown_days: float = Field(default=10.0, ge=0)  # quiet after the owner worked it (seed: 7-14)
    clear_after_quiet: int = Field(default=2, ge=1)  # evaluations without the row before an alert clears
    hysteresis_margin: float = Field(default=0.05, ge=0, lt=1)  # clear at once below threshold * (1 - margin)
    margins: dict[str, float] = Field(default_factory=dict)  # per-trigger override of the margin
    sla_hours: float = Field(default=24.0, gt=0)  # a high alert whose task is still open then is escalated
    escalation_channel: str | None = None
    managers: dict[str, str] = Field(default_factory=dict)  # owner email -> manager email
    escalated_priority: str = "High"  # what the CRM task is raised to (Salesforce "High", HubSpot "HIGH")
    crm_url: str | None = None  # "https://acme.lightning.force.com/{account_id}": link in messages
    email: str | None = None  # email connector name in [connectors]: enables the email channel
    email_delivery: EmailChannel = EmailChannel()
    recipients: dict[str, RecipientPreference] = Field(default_factory=dict)  # owner email -> preference

    @field_validator("recipients")
    @classmethod
    def _lower_recipients(cls, value: dict[str, RecipientPreference]) -> dict[str, RecipientPreference]:
        return {k.strip().lower(): v for k, v in value.items()}

    def preference(self, email: str | None) -> RecipientPreference | None:
        return self.recipients.get((email or "").strip().lower())

    @field_validator("escalation_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not SLACK_CHANNEL.match(value):
            raise ValueError(f"must be a Slack channel ID like C0123ABCD, not {value!r}")
        return value

    @field_validator("managers")
    @classmethod
    def _lower(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.strip().lower(): v.strip().lower() for k, v in value.items()}

    def margin_for(self, trigger: str) -> float:
        return self.margins.get(trigger, self.hysteresis_margin)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class RoutingRule(_Strict):
    """One rule; every condition given must match (lists: any of). First matching rule wins."""

    name: str = ""
    trigger: list[str] | None = None
    priority: list[Priority] | None = None
    tier: list[str] | None = None
    segment: list[str] | None = None
    to: str = "owner"  # "owner" (DM the account owner) or a channel ID "C0123ABCD"
    delivery: Literal["ping", "digest"] | None = None  # default: by priority (routing.immediate)
    channel: Channel | None = None  # default: routing.channel; a recipient's preference wins for "owner"
    email_to: list[str] | None = None  # addresses for a channel target (to = "C...") on the email channel

    _listify = field_validator("trigger", "priority", "tier", "segment", "email_to", mode="before")(_as_list)

    @field_validator("email_to")
    @classmethod
    def _addresses(cls, value: list[str] | None) -> list[str] | None:
        for address in value or []:
            if not EMAIL.match(address.strip()):
                raise ValueError(f"not an email address: {address!r}")
        return [a.strip() for a in value] if value is not None else None

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        if value != "owner" and not SLACK_TARGET.match(value):
            raise ValueError(f"must be 'owner' or a Slack channel/user ID like C0123ABCD, not {value!r}")
        return value

    def matches(self, alert: dict[str, Any]) -> bool:
        for key in ("trigger", "priority", "tier", "segment"):
            wanted = getattr(self, key)
            if wanted is not None and str(alert.get(key) or "") not in wanted:
                return False
        return True


class RoutingConfig(_Strict):
    """`[routing]`: rules, the fallback channel, the user lookup cache and which priorities ping."""

    rules: list[RoutingRule] = Field(default_factory=list)
    default_to: str = "owner"
    channel: Channel = "slack"  # where alerts and digests go unless a rule or the recipient says otherwise
    fallback_channel: str | None = None  # default: the slack connector's fallback_channel
    immediate: list[Priority] = Field(default_factory=lambda: list[Priority](["high"]))  # ping now; others -> digest
    user_cache_hours: float = Field(default=24.0, gt=0)  # users.lookupByEmail hits are trusted this long
    user_miss_cache_hours: float = Field(default=1.0, ge=0)  # "not in Slack" is re-checked sooner

    @field_validator("fallback_channel")
    @classmethod
    def _fallback(cls, value: str | None) -> str | None:
        if value is not None and not SLACK_CHANNEL.match(value):
            raise ValueError(f"must be a Slack channel ID like C0123ABCD, not {value!r}")
        return value

    @field_validator("default_to")
    @classmethod
    def _default_to(cls, value: str) -> str:
        return RoutingRule._to(value)


class DigestConfig(_Strict):
    """`[digest]`: one digest per recipient per local day at `time` in `timezone` (IANA)."""

    time: dt.time = dt.time(9, 0)
    timezone: str = "UTC"
    timezones: dict[str, str] = Field(default_factory=dict)  # recipient (U.../C...) -> its own zone

    _zones = field_validator("timezone")(_zone)

    @field_validator("timezones")
    @classmethod
    def _each_zone(cls, value: dict[str, str]) -> dict[str, str]:
        return {k: _zone(v) for k, v in value.items()}

    def zone_for(self, recipient: str) -> ZoneInfo:
        return ZoneInfo(self.timezones.get(recipient, self.timezone))


class AlertSettings(_Strict):
    """The sections together, validated at once."""

    alerts: AlertsConfig = AlertsConfig()
    routing: RoutingConfig = RoutingConfig()
    digest: DigestConfig = DigestConfig()
    actions: ActionsConfig = ActionsConfig()


def load_alert_settings(raw: dict[str, Any], file: str = "config.toml") -> AlertSettings:
    """Validate `config.raw`'s alerts/routing/digest sections; every problem in one ConfigError."""
    issues: list[ConfigIssue] = []
    parts: dict[str, Any] = {}
    models: dict[str, type[BaseModel]] = {
        "alerts": AlertsConfig,
        "routing": RoutingConfig,
        "digest": DigestConfig,
        "actions": ActionsConfig,
    }
    for section, model in models.items():
        body = raw.get(section) or {}
        if not isinstance(body, dict):
            issues.append(ConfigIssue(file, section, "must be a table"))
            continue
        if section == "actions":
            body = actions_body(body)
        try:
            parts[section] = model.model_validate(body)
        except ValidationError as exc:
            issues += pydantic_issues(file, section, exc, hidden="tiers" if section == "actions" else None)
    if issues:
        raise ConfigError(issues)
    return AlertSettings(**parts)


def check_connectors(settings: AlertSettings, connectors: dict[str, str], file: str = "config.toml") -> None:
    """The alert sections name connectors (name -> type) that must exist with the right type."""
    issues = []
    slack = settings.alerts.slack
    if connectors.get(slack) != "slack":
        issues.append(ConfigIssue(file, "alerts.slack", f"no slack connector named {slack!r} in [connectors]"))
    tasks = settings.alerts.tasks
    if tasks and connectors.get(tasks.connector) not in ("salesforce", "hubspot"):
        issues.append(
            ConfigIssue(file, "alerts.tasks.connector", f"no salesforce or hubspot connector named {tasks.connector!r}")
        )
    email = settings.alerts.email
    if email is not None and connectors.get(email) != "email":
        issues.append(ConfigIssue(file, "alerts.email", f"no email connector named {email!r} in [connectors]"))
    wants_email = settings.routing.channel != "slack" or any(
        r.channel not in (None, "slack") for r in settings.routing.rules
    )
    wants_email = wants_email or any(p.prefer != "slack" for p in settings.alerts.recipients.values())
    if wants_email and email is None:
        issues.append(ConfigIssue(file, "alerts.email", "the email channel is used but no email connector is named"))
    for tier, actions in settings.actions.tiers.items():
        if actions.webhook is not None and connectors.get(actions.webhook) != "webhook":
            issues.append(
                ConfigIssue(file, f"actions.{tier}.webhook", f"no webhook connector named {actions.webhook!r}")
            )
        if (actions.crm_task or actions.sdr_task is not None) and tasks is None:
            issues.append(ConfigIssue(file, f"actions.{tier}", "CRM tasks need [alerts.tasks] (a CRM connector)"))
    if issues:
        raise ConfigError(issues)
