"""`[daemon]` in config.toml: DaemonSettings, and load_settings, which validates it (and the sections the
daemon's built-in jobs read) at start-up and on SIGHUP, reporting every problem at once."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from syncer.config import Config, ScheduleConfig, _did_you_mean, pydantic_issues
from syncer.errors import ConfigError, ConfigIssue
from syncer.intraday.settings import IntradaySettings
from syncer.ops_alerts import OpsAlertSettings
from syncer.scheduler import ALERTS_JOB, DIGEST_JOB, ESCALATE_JOB, INTRADAY_JOB, REPORT_JOB, SCORE_JOB
from syncer.server import DEFAULT_HOST, DEFAULT_PORT
from syncer.synclog import SynclogSettings


class DaemonSettings(BaseModel):
    """`[daemon]` in config.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    host: str = DEFAULT_HOST
    """Address the health/metrics server listens on."""
    viewer_token: str | None = Field(default=None, json_schema_extra={"x-secret": True})
    """Token (a `${SECRET}` reference) a viewer must present for /report and other account data."""
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    """Port of /healthz, /readyz, /metrics and /report (0: a free port)."""
    lease_ttl_seconds: float = Field(default=60.0, ge=1)
    """A job lease not renewed for this long is taken over by another replica."""
    grace_seconds: float = Field(default=30.0, ge=0)
    """On SIGTERM, running syncs finish their current batch within this long."""
    misfire_grace_seconds: int = Field(default=300, ge=1)
    """A run missed by less than this (busy or restarting) still runs; older ones are skipped."""
    max_parallel: int = Field(default=4, ge=1, le=64)
    """Jobs running at once in this replica."""
    replica_id: str | None = None
    """Name of this replica in leases and logs. Default: host:pid:random."""
    score: ScheduleConfig | None = None
    """When the `score` job (the in-warehouse score refresh) runs; syncs with `after = ["score"]` follow it."""
    score_lag_days: int = Field(default=1, ge=0)
    """Score usage up to this many days before today."""
    ops_alert_webhook: str | None = Field(default=None, json_schema_extra={"x-secret": True})
    """URL that gets ops alerts (sync failed / recovered, rejects, quota): a `${SECRET}` reference (the URL is the
    credential, as a Slack incoming webhook's is)."""
    ops_alert_channel: str | None = None
    """Slack channel ID for ops alerts."""
    ops_alert_slack: str = "slack"
    """The slack connector in `[connectors]` that posts ops alerts."""
    ops_alerts: OpsAlertSettings = Field(default_factory=OpsAlertSettings)
    """Thresholds of the ops alerts."""
    synclog: SynclogSettings | None = None
    """Copy each run and its audit rows into warehouse tables (see `[daemon.synclog]`)."""
    alerts: ScheduleConfig | None = None
    """Schedule of the alerts job. Default: every 15 minutes."""
    digest: ScheduleConfig | None = None
    """Schedule of the digest job. Default: every 5 minutes (each recipient still gets one digest per local day, at
    `digest.time`).
    """
    escalate: ScheduleConfig | None = None
    """Schedule of the escalation job. Default: every 15 minutes."""
    report: ScheduleConfig | None = None
    """Schedule of the outcomes report job. Default: `0 6 * * *` (daily at 06:00 UTC)."""

    intraday: IntradaySettings | None = None
    """The intraday trigger lane: evaluated every `every_minutes` over accounts whose current-state row changed
    (docs/scoring.md); absent: every trigger runs on the daily lane."""

    def schedules(self) -> dict[str, ScheduleConfig | None]:
        lane = self.intraday.schedule() if self.intraday else None
        return {
            ALERTS_JOB: self.alerts,
            DIGEST_JOB: self.digest,
            ESCALATE_JOB: self.escalate,
            REPORT_JOB: self.report,
            INTRADAY_JOB: lane,
        }


def load_settings(config: Config) -> DaemonSettings:
    """Validate `[daemon]`; every problem is a ConfigIssue keyed `daemon.<key>`.

    Raises one ConfigError listing the problems of [daemon], of every section the daemon's jobs read
    ([alerts] [routing] [digest] [actions] [outcomes] [report]) and of every schedule (`scheduling_issues`): a
    bad [daemon] key hides none of the others. `syncer check` and the daemon's start both call it.
    """
    file = str(config.path)
    settings, issues = daemon_issues(config.raw, file)
    if settings is not None and settings.ops_alert_channel:
        entry = config.connectors.get(settings.ops_alert_slack)
        if entry is None or entry.type != "slack":
            name = settings.ops_alert_slack
            slacks = [n for n, e in config.connectors.items() if e.type == "slack"]
            message = f"no slack connector named {name!r}{_did_you_mean(name, slacks)} in [connectors]"
            issues.append(ConfigIssue(file, "daemon.ops_alert_slack", message))
    issues += section_issues(config.raw, file, {n: e.type for n, e in config.connectors.items()})
    known = {i.key for i in issues}
    issues += [i for i in scheduling_issues(config, settings) if i.key not in known]
    if issues or settings is None:
        raise ConfigError(issues)
    return settings


def scheduling_issues(config: Config, settings: DaemonSettings | None) -> list[ConfigIssue]:
    """What the daemon's scheduler refuses (`scheduler.job_specs`): every sync's schedule and every
    `[daemon.<job>]` table, read alone when [daemon] as a whole is invalid (`settings` None), so that a bad
    [daemon] key hides no schedule that schedules nothing."""
    from syncer.scheduler import job_specs

    if settings is not None:
        score, schedules = settings.score, settings.schedules()
    else:
        score, schedules = _tables_alone(config.raw.get("daemon") or {})
    try:
        job_specs(config, score, schedules)
    except ConfigError as exc:
        return list(exc.issues)
    return []


def _tables_alone(daemon: dict[str, Any]) -> tuple[ScheduleConfig | None, dict[str, ScheduleConfig | None]]:
    """The `[daemon.<job>]` schedules that are valid on their own (the others are reported by daemon_issues)."""
    tables: dict[str, ScheduleConfig | None] = {}
    for name in (SCORE_JOB, ALERTS_JOB, DIGEST_JOB, ESCALATE_JOB, REPORT_JOB, INTRADAY_JOB):
        try:
            if name == INTRADAY_JOB:
                lane = daemon.get(name)
                tables[name] = IntradaySettings.model_validate(lane).schedule() if lane is not None else None
            else:
                tables[name] = ScheduleConfig.model_validate(daemon[name]) if name in daemon else None
        except ValidationError:
            tables[name] = None
    return tables.pop(SCORE_JOB), tables


def daemon_issues(raw_config: dict[str, Any], file: str) -> tuple[DaemonSettings | None, list[ConfigIssue]]:
    """[daemon] of a parsed config.toml validated alone: (settings or None when invalid, every issue)."""
    raw = dict(raw_config.get("daemon") or {})  # ${NAME} resolved and literal secrets refused: config.load_config
    issues: list[ConfigIssue] = []
    try:
        return DaemonSettings.model_validate(raw), issues
    except ValidationError as exc:  # an unknown key or job table ([daemon.alrets]) with the closest it takes
        return None, pydantic_issues(file, "daemon", exc, model=DaemonSettings)


def section_issues(raw: dict[str, Any], file: str, connectors: dict[str, str] | None) -> list[ConfigIssue]:
    """[alerts]/[routing]/[digest]/[actions] and [outcomes]/[report] of a parsed config.toml, validated at
    start-up, not at their first run; the connectors they name (name -> type) are checked when given."""
    issues: list[ConfigIssue] = []
    if {"alerts", "routing", "digest", "actions"} & raw.keys():  # any of them: a typo is found now
        from syncer.alerts.model import check_connectors, load_alert_settings

        try:
            alert_settings = load_alert_settings(raw, file)
            if "alerts" in raw and connectors is not None:
                check_connectors(alert_settings, connectors, file)
        except ConfigError as exc:
            issues += exc.issues
    if "report" in raw or "outcomes" in raw:
        from syncer.outcomes.model import load_outcome_settings

        try:
            load_outcome_settings(raw, file)
        except ConfigError as exc:
            issues += exc.issues
    return issues
