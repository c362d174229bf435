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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from syncer.alerts.actions import ActionsConfig, actions_body
from syncer.alerts.activation import ActivationConfig
from syncer.alerts.budget import PingBudget
from syncer.alerts.canary import CanaryConfig
from syncer.alerts.holdout import HoldoutConfig
from syncer.config import ModelConfig, _did_you_mean, pydantic_issues
from syncer.errors import ConfigError, ConfigIssue

Priority = Literal["high", "medium", "low"]
Channel = Literal["slack", "email", "both"]
InDoubt = Literal["hold", "resend"]
TaskPriority = Literal["low", "normal", "high"]
# task priority words, both CRMs' spellings, by rank (Salesforce Low/Normal/High, HubSpot LOW/MEDIUM/HIGH)
PRIORITY_RANK = {"low": 0, "normal": 1, "medium": 1, "high": 2}
SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")
SLACK_TARGET = re.compile(r"^[CGUW][A-Z0-9]{2,}$")
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}{_did_you_mean(value, available_timezones())}") from exc
    return value


class CrmTasks(_Strict):
    """Where high-priority alerts get their follow-up task: a salesforce or hubspot connector."""

    connector: str
    """A `salesforce` or `hubspot` connector in `[connectors]` that gets the follow-up tasks."""
    object: str | None = None
    """Task object. Default: `Task` (Salesforce) or `tasks` (HubSpot)."""
    match_field: str = "External_Id__c"
    """The account's external-ID field (Salesforce) or unique company property (HubSpot) the task is attached to."""
    match_column: str = "account_id"
    """The alert model column holding the value of `match_field`."""
    due_days: int = Field(default=1, ge=0)
    """Task due date: the day the alert fired plus this many days (the 24 h SLA)."""
    priority: TaskPriority = "normal"
    """Priority of a created task (Salesforce `Normal`, HubSpot `MEDIUM`); escalation raises it to
    `alerts.escalated_priority`, which must be higher."""


class RecipientPreference(_Strict):
    """`[alerts.recipients] "owner@x.com" = { prefer = "email" }`: how one person wants alerts and digests."""

    prefer: Channel = "slack"
    """How this person gets alerts and digests: Slack, email or both."""
    address: str | None = None
    """Send email here instead of the key's address (e.g. a personal alias)."""


class EmailChannel(_Strict):
    """`[alerts.email_delivery]`: how the email channel behaves (the connector is `[alerts] email`)."""

    in_doubt: InDoubt = "hold"
    """A message interrupted mid-send (the server may have it): `hold` does not re-send it (no duplicate, maybe lost),
    `resend` sends it again (no loss, maybe a duplicate).
    """
    max_attempts: int = Field(default=10, ge=1)
    """Temporary failures (4xx, unreachable server) before a message is given up and reported."""
    not_in_slack: bool = True
    """An owner who is not in the Slack workspace gets email instead (when an email connector is configured)."""


class AlertsConfig(_Strict):
    """`[alerts]`: the fired-triggers model, lifecycle and escalation."""

    model: ModelConfig = ModelConfig(table="fired_triggers", primary_key=["account_id", "trigger"])
    """The fired-triggers model: one row per account x trigger with `account_id`, `trigger`, `priority` and optionally
    `value`, `threshold`, `owner_email`, `segment`, `tier`. Its `primary_key` is `["account_id", "trigger"]` (any
    other key is refused: alerts are keyed on those two columns; alias other names in a query).
    """
    slack: str = "slack"
    """Name of the slack connector in `[connectors]` that sends pings and digests."""
    tasks: CrmTasks | None = None
    """The CRM connector that gets a follow-up task for each high-priority alert; without it no tasks are created."""
    cooldown_days: float = Field(default=30.0, ge=0)
    """At most one alert per account x trigger within this many days."""
    worked_cooldown_days: float = Field(default=10.0, ge=0)
    """Quiet period after the owner worked the alert (seed 003: 7-14 days)."""
    clear_after_quiet: int = Field(default=2, ge=1)
    """Evaluations without the row before an alert clears (no flapping)."""
    hysteresis_margin: float = Field(default=0.05, ge=0, lt=1)
    """An alert also clears at once when its value drops below threshold x (1 - margin)."""
    margins: dict[str, float] = Field(default_factory=dict)
    """Trigger name -> its own `hysteresis_margin`."""
    sla_hours: float = Field(default=24.0, gt=0)
    """A high alert whose CRM task is still open after this many hours is escalated, once: the task's priority is raised
    to `escalated_priority` and the owner's manager / `escalation_channel` is told. The same hours as `[outcomes]
    sla_hours.high` (the report, dashboard and `alerts sla`): set either; both, with different values, is refused.
    """
    escalation_channel: str | None = None
    """Slack channel ID (C...) told about escalations, besides the manager."""
    managers: dict[str, str] = Field(default_factory=dict)
    """Owner email -> manager email, for escalation DMs (case-insensitive; both must be email addresses)."""
    escalated_priority: str = "High"
    """Priority an escalated task is raised to. Salesforce picklist value (`High`) or HubSpot value (`HIGH`); the
    HubSpot connector upper-cases it. Must be above the created task's priority (`Normal` / `MEDIUM`), or escalation
    changes nothing.
    """
    crm_url: str | None = None
    """Link to the account in messages; `{column}` placeholders are filled from the alert row, e.g.
    `https://acme.lightning.force.com/lightning/r/Account/{sf_account_id}/view`.
    """
    email: str | None = None
    """Name of an email connector in `[connectors]`; enables the email channel."""
    email_delivery: EmailChannel = EmailChannel()
    """How the email channel behaves (in-doubt handling, attempts)."""
    recipients: dict[str, RecipientPreference] = Field(default_factory=dict)
    """Owner email -> delivery preference, e.g. `"ann@x.com" = { prefer = "email" }` (case-insensitive)."""
    budget: PingBudget = PingBudget()
    """Immediate pings per recipient per local day; past it alerts go to the recipient's next digest, marked."""
    activation: ActivationConfig = ActivationConfig()
    """Quiet first activation: accounts already above a new or edited trigger's threshold get one digest summary."""
    holdout: HoldoutConfig = HoldoutConfig()
    """Control group per trigger (recorded, nobody pinged or tasked) for the causal lift in the outcomes report."""
    canary: CanaryConfig = CanaryConfig()
    """A changed trigger (`canary = {...}` on its definition) on a share of accounts, with automatic rollback."""

    @field_validator("model")
    @classmethod
    def _pair_key(cls, value: ModelConfig) -> ModelConfig:
        # the state keys every alert on the row's account_id and trigger (alert_pairs, the alert key): another
        # key would be accepted and never used, or fail at `alerts run` (adv6 #5, #6)
        if sorted(value.primary_key) != ["account_id", "trigger"]:
            raise ValueError(
                f'primary_key must be ["account_id", "trigger"] (one row per account x trigger; alias other '
                f"column names in a query), not {value.primary_key}"
            )
        return value

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
        bad = [f"{k!r} = {v!r}" for k, v in value.items() if not (EMAIL.match(k.strip()) and EMAIL.match(v.strip()))]
        if bad:  # a manager is found in Slack by email (users.lookupByEmail): anything else never escalates to them
            raise ValueError(f"owner email = manager email, both addresses; not {', '.join(bad)}")
        return {k.strip().lower(): v.strip().lower() for k, v in value.items()}

    def margin_for(self, trigger: str) -> float:
        return self.margins.get(trigger, self.hysteresis_margin)

    @model_validator(mode="after")
    def _escalation_raises(self) -> AlertsConfig:
        created = self.tasks.priority if self.tasks else "normal"
        escalated = PRIORITY_RANK.get(self.escalated_priority.strip().lower())
        if escalated is not None and escalated <= PRIORITY_RANK[created]:
            raise ValueError(
                f"escalated_priority {self.escalated_priority!r} is not above the created task priority "
                f"{created!r} (alerts.tasks.priority): escalation would change nothing"
            )
        return self


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class RoutingRule(_Strict):
    """One rule; every condition given must match (lists: any of). First matching rule wins."""

    name: str = ""
    """Label shown in logs and `syncer alerts`."""
    trigger: list[str] | None = None
    """Trigger names this rule matches (a string or a list; any of)."""
    priority: list[Priority] | None = None
    """Priorities this rule matches (a string or a list; any of)."""
    tier: list[str] | None = None
    """PQL tiers this rule matches (the row's `tier` column)."""
    segment: list[str] | None = None
    """Account segments this rule matches (the row's `segment` column)."""
    to: str = "owner"
    """`owner` (a DM to the account owner) or a Slack channel / user ID like `C0123ABCD`."""
    delivery: Literal["ping", "digest"] | None = None
    """`ping` now or into the daily `digest`. Default: by priority (`routing.immediate`)."""
    channel: Channel | None = None
    """Slack, email or both. Default: `routing.channel`; for `to = "owner"` a recipient's preference wins."""
    email_to: list[str] | None = None
    """Email addresses used when `to` is a channel and the channel is email."""
    budget: int | None = Field(default=None, ge=0)
    """Pings per recipient per local day for the alerts this rule routes (default: `[alerts.budget]`)."""

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
    """Routing rules, first match wins; every condition given must match."""
    default_to: str = "owner"
    """Target when no rule matches: `owner` or a Slack channel ID."""
    channel: Channel = "slack"
    """Where alerts and digests go unless a rule or the recipient says otherwise."""
    fallback_channel: str | None = None
    """Slack channel ID for alerts whose owner is not in Slack. Default: the slack connector's `fallback_channel`."""
    immediate: list[Priority] = Field(default_factory=lambda: list[Priority](["high"]))
    """Priorities pinged at once; the others wait for the daily digest."""
    user_cache_hours: float = Field(default=24.0, gt=0)
    """How long a users.lookupByEmail answer is trusted."""
    user_miss_cache_hours: float = Field(default=1.0, ge=0)
    """How long "not in Slack" is trusted before it is looked up again."""

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
    """Local time (`HH:MM`) of the daily digest of medium and low alerts."""
    timezone: str = "UTC"
    """IANA time zone of `time` (DST-correct), and of every time shown to people (message footers, `syncer runs`)."""
    timezones: dict[str, str] = Field(default_factory=dict)
    """Recipient (U... / C... / email address) -> its own IANA zone, for its digest and the times it reads. An
    owner's email also sets the zone of their Slack DM (digest, pings, ping budget day); addresses match in any case."""

    _zones = field_validator("timezone")(_zone)

    @field_validator("timezones")
    @classmethod
    def _each_zone(cls, value: dict[str, str]) -> dict[str, str]:
        return {k: _zone(v) for k, v in value.items()}

    def zone_for(self, *recipients: str | None) -> ZoneInfo:
        """The zone of the first of `recipients` (Slack id or address; an address in any case) listed in
        `timezones`, else `timezone`. A Slack user's zone keyed by their email is found by passing the
        email too (people.reader_zone does, from the alerts routed to that user)."""
        keyed = {k.strip().lower(): v for k, v in self.timezones.items()}
        for recipient in recipients:
            zone = keyed.get(recipient.strip().lower()) if recipient else None
            if zone is not None:
                return ZoneInfo(zone)
        return ZoneInfo(self.timezone)


class AlertSettings(_Strict):
    """The sections together, validated at once."""

    alerts: AlertsConfig = AlertsConfig()
    """The `[alerts]` section."""
    routing: RoutingConfig = RoutingConfig()
    """The `[routing]` section."""
    digest: DigestConfig = DigestConfig()
    """The `[digest]` section."""
    actions: ActionsConfig = ActionsConfig()
    """The `[actions]` section."""


def load_alert_settings(raw: dict[str, Any], file: str = "config.toml") -> AlertSettings:
    """Validate `config.raw`'s alerts/routing/digest sections; every problem in one ConfigError. The high
    alert's SLA is `outcomes.model.high_sla_hours`: `[outcomes] sla_hours.high` when `[alerts]` sets none."""
    from syncer.outcomes.model import high_sla_hours

    high, issues = high_sla_hours(raw, file)
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
        if section == "alerts" and high is not None:
            body = {**body, "sla_hours": high}
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

    def named(kinds: tuple[str, ...], name: str) -> str:
        """The closest connector of these kinds to `name`, as ` (did you mean 'slack'?)`."""
        return _did_you_mean(name, [n for n, kind in connectors.items() if kind in kinds])

    slack = settings.alerts.slack
    if connectors.get(slack) != "slack":
        meant = named(("slack",), slack)
        issues.append(ConfigIssue(file, "alerts.slack", f"no slack connector named {slack!r}{meant} in [connectors]"))
    tasks = settings.alerts.tasks
    if tasks and connectors.get(tasks.connector) not in ("salesforce", "hubspot"):
        meant = named(("salesforce", "hubspot"), tasks.connector)
        issues.append(
            ConfigIssue(
                file, "alerts.tasks.connector", f"no salesforce or hubspot connector named {tasks.connector!r}{meant}"
            )
        )
    email = settings.alerts.email
    if email is not None and connectors.get(email) != "email":
        meant = named(("email",), email)
        issues.append(ConfigIssue(file, "alerts.email", f"no email connector named {email!r}{meant} in [connectors]"))
    wants_email = settings.routing.channel != "slack" or any(
        r.channel not in (None, "slack") for r in settings.routing.rules
    )
    wants_email = wants_email or any(p.prefer != "slack" for p in settings.alerts.recipients.values())
    if wants_email and email is None:
        issues.append(ConfigIssue(file, "alerts.email", "the email channel is used but no email connector is named"))
    for tier, actions in settings.actions.tiers.items():
        if actions.webhook is not None and connectors.get(actions.webhook) != "webhook":
            issues.append(
                ConfigIssue(
                    file,
                    f"actions.{tier}.webhook",
                    f"no webhook connector named {actions.webhook!r}{named(('webhook',), actions.webhook)}",
                )
            )
        if (actions.crm_task or actions.sdr_task is not None) and tasks is None:
            issues.append(ConfigIssue(file, f"actions.{tier}", "CRM tasks need [alerts.tasks] (a CRM connector)"))
    if issues:
        raise ConfigError(issues)
