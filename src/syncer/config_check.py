"""Every section of config.toml validated at once, as the daemon would at start-up: what `syncer check`
reports besides the syncs (which `load_config` validates) and the warehouse and destinations it reaches.

    [syncer] [warehouse] [connectors.*] mappings/*.toml   -> load_config (before this runs)
    [daemon] [daemon.<job>] schedules, dependencies       -> daemon.load_settings + scheduler.job_specs
    [alerts] [routing] [digest] [actions] (tier actions)  -> alerts.model.load_alert_settings
    [outcomes] [report]                                   -> outcomes.model.load_outcome_settings
    [scoring]                                             -> load_config and daemon.load_settings

Returns ConfigIssues (file, dotted key, message); an unknown key such as `[alerts] clear_after_quite`
is one of them. `other_connectors` contacts the connectors no sync uses (alerts, digests, ops alerts);
`warehouse_issues` reads what only the alert and score commands read (the alert model, the scoring tables).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from syncer.config import Config
from syncer.connector import Destination
from syncer.errors import ConfigError, ConfigIssue, FatalError, SyncerError
from syncer.secrets import masked_first_line

if TYPE_CHECKING:
    from syncer.source import Source


def section_issues(config: Config) -> list[ConfigIssue]:
    """Every problem in the non-sync sections of `config`, [] when there is none."""
    from syncer.daemon.settings import load_settings  # the daemon's own validation: one set of rules

    try:
        load_settings(config)  # [daemon], the sections its jobs read, and every schedule (scheduler.job_specs)
    except ConfigError as exc:
        return list(exc.issues)
    return []


def connector_uses(config: Config) -> dict[str, tuple[str, Destination]]:
    """Config key -> (connector name, destination) of each connector used outside the syncs, as the daemon
    uses it: the alert engine's when `[alerts]` is given (the alerts, digest and escalation jobs run then;
    `alerts.factory.alert_destinations`), and the ops alerts' Slack bot with `[daemon] ops_alert_channel`.
    Sections `section_issues` refuses give none."""
    from syncer.alerts.factory import alert_destinations
    from syncer.alerts.model import check_connectors, load_alert_settings
    from syncer.daemon.settings import load_settings

    uses: dict[str, tuple[str, Destination]] = {}
    try:
        if "alerts" in config.raw:
            settings = load_alert_settings(config.raw, str(config.path))
            check_connectors(settings, {n: e.type for n, e in config.connectors.items()}, str(config.path))
            uses |= alert_destinations(settings, config)
        daemon = load_settings(config)
    except ConfigError:
        return uses
    if daemon.ops_alert_channel:
        recipients = ((daemon.ops_alert_channel, "daemon.ops_alert_channel"),)
        uses["daemon.ops_alert_slack"] = (daemon.ops_alert_slack, Destination("message", "key", recipients=recipients))
    return uses


@dataclass
class ConnectorAnswer:
    """What one connector used outside the syncs said to `check`: `problems` (none: it answered), or the
    `error` that stopped the check (nothing listens, auth refused)."""

    key: str  # the config key naming it, e.g. "alerts.slack"
    connector: str
    problems: list[str]
    error: SyncerError | None = None


def other_connectors(config: Config, skip: set[str]) -> list[ConnectorAnswer]:
    """`connector_uses` but those in `skip` (the syncs' connectors, checked with them) unless they message
    recipients a sync does not (alert routing, ops alerts), each contacted the way `check` contacts a sync's
    (`runner.destination_problems`), in config-key order."""
    from syncer.daemon import build_connector
    from syncer.runner import Runtime, destination_problems

    answers = []
    runtime = Runtime()
    for key, (name, destination) in sorted(connector_uses(config).items()):
        if name in skip and not destination.recipients:  # whom alerts message: a sync's check does not know them
            continue
        answer = ConnectorAnswer(key, name, [])
        try:
            connector = build_connector(config, name, runtime, destination)
            try:
                answer.problems = destination_problems(connector, runtime.retry)
            finally:
                connector.close()
        except SyncerError as exc:
            answer.error = exc
        answers.append(answer)
    return answers


# Alert fields a `crm_url` / tier `message` may name besides the model's columns (lifecycle._open sets them).
ALERT_FIELDS = frozenset({"alert_id", "owner_slack_id", "fired_at", "previous_value", "channel_name"})


def warehouse_issues(config: Config, source: Source) -> tuple[list[ConfigIssue], list[str]]:
    """What only the alert and score commands would find in the warehouse, found by `syncer check` (adv6 #6):
    the `[alerts.model]` query runs (zero rows) and has `account_id` and `trigger`; `crm_url`, tier `message`
    and routing conditions name columns it has (else the link / text / match is silently empty); the scoring
    input tables exist and, once `score` has built the metrics table, every trigger's SQL runs. Returns
    (problems, notes): an alert model that reads a scoring output `score` has not built yet is a note."""
    notes: list[str] = []
    issues: list[ConfigIssue] = []
    if "alerts" in config.raw:
        issues += _alert_model_issues(config, source, notes)
    if "scoring" in config.raw:
        issues += _scoring_issues(config, source)
    return issues, notes


def _alert_model_issues(config: Config, source: Source, notes: list[str]) -> list[ConfigIssue]:
    from syncer.alerts.lifecycle import KNOWN
    from syncer.alerts.model import load_alert_settings

    file = str(config.path)
    try:
        settings = load_alert_settings(config.raw, file)
    except ConfigError:
        return []  # section_issues reports them
    try:
        columns = set(source.columns(settings.alerts.model, config.base_dir))
    except (ConfigError, FatalError) as exc:
        unbuilt = _unbuilt_outputs(config, source, source.sql(settings.alerts.model, config.base_dir))
        if unbuilt:
            notes.append(
                f"alerts.model reads {_names(unbuilt)}, which `syncer score` builds: checked after the first score"
            )
            return []
        issues = getattr(exc, "issues", None)
        return (
            [ConfigIssue(file, "alerts.model", i.message) for i in issues]
            if issues
            else [ConfigIssue(file, "alerts.model", str(exc))]
        )
    issues = [
        ConfigIssue(file, "alerts.model", f"the fired-triggers model has no `{c}` column (columns: {_names(columns)})")
        for c in ("account_id", "trigger")
        if c not in columns
    ]
    if settings.alerts.crm_url:
        issues += _placeholder_issues(file, "alerts.crm_url", settings.alerts.crm_url, columns | ALERT_FIELDS)
    said = set(KNOWN) | ALERT_FIELDS | {"crm_url"}  # a tier message formats the alert's own fields only
    for tier, actions in settings.actions.tiers.items():
        if actions.message:
            issues += _placeholder_issues(file, f"actions.{tier}.message", actions.message, said)
    for index, rule in enumerate(settings.routing.rules):
        for column in ("tier", "segment"):
            if getattr(rule, column) is not None and column not in columns:
                why = f"the fired-triggers model has no `{column}` column: this rule never matches"
                issues.append(ConfigIssue(file, f"routing.rules[{index}].{column}", why))
    return issues


def _unbuilt_outputs(config: Config, source: Source, sql: str) -> list[str]:
    """Scoring output tables (fired triggers, scores, metrics) that `sql` names and the warehouse lacks yet."""
    import re

    import sqlalchemy as sa

    tables = config.scoring.tables
    named = [t for t in (tables.triggers, tables.scores, tables.metrics) if re.search(rf"\b{re.escape(t)}\b", sql)]
    inspector = sa.inspect(source.engine)
    return [t for t in named if not inspector.has_table(t, schema=tables.schema_)]


def _placeholder_issues(file: str, key: str, template: str, known: set[str] | frozenset[str]) -> list[ConfigIssue]:
    """`{name}` fields of a format string that name nothing the alert has, or a template `str.format` refuses."""
    import string

    try:
        names = {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(template) if field}
    except ValueError as exc:
        return [ConfigIssue(file, key, f"not a format string: {exc}")]
    missing = sorted(n for n in names if n not in known)
    if not missing:
        return []
    return [ConfigIssue(file, key, f"names {_names(missing)}, which the alert does not have: it would always be "
                        f"left out (alert model columns and fields: {_names(known)})")]  # fmt: skip


def _scoring_issues(config: Config, source: Source) -> list[ConfigIssue]:
    import datetime as dt

    import sqlalchemy as sa

    from syncer.scoring import check_triggers
    from syncer.scoring.execution import WarehouseSession

    file, tables = str(config.path), config.scoring.tables
    inputs = {"accounts": tables.accounts, "usage_daily": tables.usage_daily, "events": tables.events}
    issues: list[ConfigIssue] = []
    with source.engine.connect() as conn:
        session = WarehouseSession(conn, tables.schema_)
        for key, name in [*inputs.items(), ("metrics", tables.metrics)]:
            if name is None:
                continue
            try:
                conn.exec_driver_sql(f"SELECT * FROM {session.table(name)} WHERE 1 = 0").close()
            except sa.exc.DBAPIError as exc:
                conn.rollback()
                if key == "metrics":  # built by the first `syncer score`: its triggers are checked from then on
                    return issues
                first = masked_first_line(str(exc.orig)) if exc.orig else str(exc)
                issues.append(ConfigIssue(file, f"scoring.tables.{key}", f"input table {name!r}: {first}"))
    if issues:
        return issues
    today = dt.datetime.now(dt.UTC).date()
    return [ConfigIssue(file, i.key, i.message) for i in check_triggers(source.engine, config.scoring, today)]


def _names(items: Iterable[str]) -> str:
    return ", ".join(sorted(items)) or "none"
