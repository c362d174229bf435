"""Every section of config.toml validated at once, as the daemon would at start-up: what `syncer check`
reports besides the syncs (which `load_config` validates) and the warehouse and destinations it reaches.

    [syncer] [warehouse] [connectors.*] mappings/*.toml   -> load_config (before this runs)
    [daemon] [daemon.<job>] schedules, dependencies       -> daemon.load_settings + scheduler.job_specs
    [alerts] [routing] [digest] [actions] (tier actions)  -> alerts.model.load_alert_settings
    [outcomes] [report]                                   -> outcomes.model.load_outcome_settings
    [scoring]                                             -> load_config and daemon.load_settings

Returns ConfigIssues (file, dotted key, message); an unknown key such as `[alerts] clear_after_quite`
is one of them.
"""

from __future__ import annotations

from syncer.config import Config
from syncer.errors import ConfigError, ConfigIssue


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
