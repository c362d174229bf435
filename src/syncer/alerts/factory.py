"""AlertEngine.from_config: validate [alerts]/[routing]/[digest] against config.toml's connectors, then
build the Slack, CRM task, email and tier-webhook connectors and the fired-triggers source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

from syncer.alerts.activation import fingerprint
from syncer.alerts.budget import prior_rate
from syncer.alerts.model import AlertSettings, check_connectors, load_alert_settings
from syncer.config import Config, ModelConfig
from syncer.connector import OWNER_DM, OWNER_NAMED, Destination
from syncer.errors import ConfigError, ConfigIssue, FatalError
from syncer.intraday.settings import intraday_settings
from syncer.outcomes.model import load_outcome_settings
from syncer.registry import build_connector
from syncer.runner import Runtime
from syncer.source import Source
from syncer.state import StateStore


class _Releases(Protocol):
    sources: list[Source]  # warehouse connections the engine releases on close()
    intraday: frozenset[str]  # triggers on the intraday lane: the daily evaluation leaves them alone
    worked_sla_hours: dict[str, float] | None  # [outcomes] sla_hours: the canary's worked-within-SLA hours


E = TypeVar("E", bound=_Releases)  # the engine class (AlertEngine), passed in: this module never imports engine.py


def alert_destinations(settings: AlertSettings, config: Config) -> dict[str, tuple[str, Destination]]:
    """Config key -> (connector name, destination) of every connector the alert engine (alerts, digests,
    escalation, tier actions) sends through, the connectors checked (`check_connectors`)."""
    message = Destination("message", "key", "insert")
    slack = Destination("message", "key", "insert", recipients=slack_recipients(settings))
    uses = {"alerts.slack": (settings.alerts.slack, slack)}
    tasks = settings.alerts.tasks
    if tasks is not None:
        obj = tasks.object or ("tasks" if config.connectors[tasks.connector].type == "hubspot" else "Task")
        uses["alerts.tasks.connector"] = (tasks.connector, Destination(obj, tasks.match_field, "insert"))
    if settings.alerts.email:
        uses["alerts.email"] = (settings.alerts.email, message)
    for tier, actions in settings.actions.tiers.items():
        if actions.webhook is not None:
            uses[f"actions.{tier}.webhook"] = (actions.webhook, Destination("pql_action", "key", "insert"))
    return uses


def slack_recipients(settings: AlertSettings) -> tuple[tuple[str, str], ...]:
    """(recipient, config key) of everyone the alert engine's Slack messages can go to (routing, fallback,
    escalation): `syncer check` verifies the Slack scopes of every call that takes (connectors/slack/checks.py).
    An owner is looked up by email whenever an alert goes to Slack (routing.Router names them), messaged
    directly when a rule or `default_to` says `owner`; escalation managers are found and messaged the same way."""
    routing, alerts = settings.routing, settings.alerts

    def by_slack(channel: str | None, email_to: object) -> bool:
        # routing.Router._route: email only with an email connector, channel "email" and addresses to send to; a
        # rule saying email without `email_to` (default_to has none) falls back to Slack (docs/tier-actions.md)
        return alerts.email is None or (channel or routing.channel) != "email" or not email_to

    targets = [(routing.default_to, "routing.default_to", by_slack(None, ()))]
    targets += [(r.to, f"routing.rules[{i}].to", by_slack(r.channel, r.email_to)) for i, r in enumerate(routing.rules)]
    found: list[tuple[str, str]] = []
    for to, key, slack in targets:
        if to == "owner":  # a recipient's own preference can choose Slack whatever the rule's channel
            found.append((OWNER_DM, key))
        elif slack:
            found.append((to, key))
    if any(slack for _, _, slack in targets) or any(to == "owner" for to, _, _ in targets):
        found.insert(0, (OWNER_NAMED, "alerts.model owner_email"))
    if routing.fallback_channel:
        found.append((routing.fallback_channel, "routing.fallback_channel"))
    if alerts.escalation_channel:
        found.append((alerts.escalation_channel, "alerts.escalation_channel"))
    if alerts.managers:
        found.append((OWNER_DM, "alerts.managers"))
    return tuple(found)


def engine_from_config(
    cls: Callable[..., E],
    config: Config,
    state: StateStore,
    runtime: Runtime | None,
    clock: Callable[[], dt.datetime],
) -> E:
    """Validate [alerts]/[routing]/[digest] (ConfigError lists every problem) and build the connectors."""
    runtime = runtime or Runtime()
    settings = load_alert_settings(config.raw, str(config.path))
    check_connectors(settings, {n: e.type for n, e in config.connectors.items()}, str(config.path))

    uses = alert_destinations(settings, config)
    built = {key: build_connector(config, name, runtime, destination) for key, (name, destination) in uses.items()}
    slack, crm, email = built["alerts.slack"], built.get("alerts.tasks.connector"), built.get("alerts.email")
    hooks = {uses[key][0]: built[key] for key in uses if key.startswith("actions.")}
    source = Source(config.warehouse, config.base_dir, str(config.path))
    default = settings.alerts.budget.default_conversion
    unrelated = {"source", "canary", "lane"}  # not part of what the trigger decides
    definitions = {t.name: fingerprint(t.model_dump(exclude=unrelated)) for t in config.scoring.triggers}
    priors = {t.name: prior_rate(t.expected_conversion, t.confidence, default) for t in config.scoring.triggers}
    model = settings.alerts.model
    engine = cls(
        settings,
        state,
        slack,
        crm,  # type: ignore[arg-type]  # a salesforce/hubspot connector: has task_status
        rows=lambda: model_rows(source, model, config),
        clock=clock,
        email=email,
        webhooks=hooks,  # type: ignore[arg-type]  # connectors are Senders
        definitions=definitions,
        priors=priors,
        canaried={t.name for t in config.scoring.triggers if t.canary is not None},
    )
    engine.sources.append(source)
    # the canary judges "worked within SLA" by the report's hours ([outcomes] sla_hours), as the report does
    engine.worked_sla_hours = dict(load_outcome_settings(config.raw, str(config.path)).outcomes.sla_hours)
    if intraday_settings(config.raw) is not None:  # [daemon.intraday]: these triggers belong to that lane
        engine.intraday = frozenset(t.name for t in config.scoring.triggers if t.lane == "intraday")
    return engine


def model_rows(source: Source, model: ModelConfig, config: Config) -> Iterator[dict[str, Any]]:
    """The fired-trigger rows of `[alerts.model]`, after one zero-row probe: a query the warehouse refuses, or one
    without `account_id` / `trigger`, is the user's to fix (ConfigError on key `alerts.model`, exit 2), not a
    KeyError deep in the evaluation (adv6 #5)."""
    try:
        columns = set(source.columns(model, config.base_dir))
    except FatalError as exc:
        raise ConfigError([ConfigIssue(str(config.path), "alerts.model", str(exc))]) from None
    missing = [c for c in ("account_id", "trigger") if c not in columns]
    if missing:
        found = ", ".join(sorted(columns)) or "none"
        why = f"the fired-triggers model has no {' or '.join(missing)} column (columns: {found})"
        raise ConfigError([ConfigIssue(str(config.path), "alerts.model", why)])
    yield from source.stream(model, config.base_dir)
