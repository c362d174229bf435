"""Every section of config.toml validated at once, as the daemon would at start-up: what `syncer check`
reports besides the syncs (which `load_config` validates) and the warehouse and destinations it reaches.

    [syncer] [warehouse] [connectors.*] mappings/*.toml   -> load_config (before this runs)
    [daemon] [daemon.<job>] schedules, dependencies       -> daemon.load_settings + scheduler.job_specs
    [alerts] [routing] [digest] [actions] (tier actions)  -> alerts.model.load_alert_settings
    [outcomes] [report]                                   -> outcomes.model.load_outcome_settings
    [scoring]                                             -> load_config and daemon.load_settings

Returns ConfigIssues (file, dotted key, message); an unknown key such as `[alerts] clear_after_quite`
is one of them. `other_connectors` contacts the connectors no sync uses (alerts, digests, ops alerts).
"""

from __future__ import annotations

from dataclasses import dataclass

from syncer.config import Config
from syncer.connector import Destination
from syncer.errors import ConfigError, ConfigIssue, SyncerError


def section_issues(config: Config) -> list[ConfigIssue]:
    """Every problem in the non-sync sections of `config`, [] when there is none."""
    from syncer.daemon.settings import load_settings  # the daemon's own validation: one set of rules
    from syncer.scheduler import JobSpec, job_specs, schedule_issues

    try:
        settings = load_settings(config)
    except ConfigError as exc:  # still check the syncs' own schedules (the [daemon.*] ones are in exc)
        try:
            job_specs(config, None, {})
        except ConfigError as more:
            return list(exc.issues) + [i for i in more.issues if not i.key.startswith("daemon.")]
        return list(exc.issues)
    try:
        specs = job_specs(config, settings.score, settings.schedules())
    except ConfigError as exc:
        return list(exc.issues)
    issues: list[ConfigIssue] = []
    for name, schedule in settings.schedules().items():  # given, but for a job this config does not run
        if schedule is not None and name not in specs:
            issues += schedule_issues(JobSpec(name, schedule, (), str(config.path), builtin=True))
    return issues


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
        uses["daemon.ops_alert_slack"] = (daemon.ops_alert_slack, Destination("message", "key"))
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
    """`connector_uses` but those in `skip` (the syncs' connectors, checked with them), each contacted the
    way `check` contacts a sync's (`runner.destination_problems`), in config-key order."""
    from syncer.daemon import build_connector
    from syncer.runner import Runtime, destination_problems

    answers = []
    runtime = Runtime()
    for key, (name, destination) in sorted(connector_uses(config).items()):
        if name in skip:
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
