"""What `syncer report [--json] [--html PATH] [--advise]` and the daemon call.

    code = run_report(config, state, as_json=..., html=..., advise=...)   # prints; returns the exit code
    path = write_latest(config, state)                                   # daemon: rewrite [report].path

Both first read back still-open CRM tasks (when `[alerts].tasks` is configured) so "worked" is
current, then build the report and replace the warehouse tables (`[outcomes.writeback]`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncer.config import Config
from syncer.errors import FatalError
from syncer.outcomes.advice import advise as advise_report
from syncer.outcomes.advice import toml_snippet
from syncer.outcomes.dashboard_data import crm_links
from syncer.outcomes.effectiveness import TriggerStats
from syncer.outcomes.lift import lift_rows
from syncer.outcomes.model import load_outcome_settings
from syncer.outcomes.report import Report, build_report
from syncer.outcomes.report_html import write_html
from syncer.outcomes.tracking import sync_task_states
from syncer.outcomes.writeback import write_back
from syncer.source import Source
from syncer.state import StateStore

log = logging.getLogger("syncer.outcomes")


def refresh_worked(config: Config, state: StateStore, now: dt.datetime) -> int | None:
    """Read back open CRM tasks through the alert engine's CRM connector; None when there is none."""
    if not (config.raw.get("alerts") or {}).get("tasks"):
        return None
    from syncer.alerts import AlertEngine  # the connector stack loads only when tasks are configured

    engine = AlertEngine.from_config(config, state)
    try:
        if engine.crm is None:
            return None
        return sync_task_states(state.engine, engine.crm, now)
    except FatalError as exc:  # CRM down or auth: the report still runs on the stored task states
        log.warning("task status not refreshed: %s", exc)
        return None
    finally:
        engine.close()


def produce(config: Config, state: StateStore, now: dt.datetime | None = None, *, refresh: bool = True) -> Report:
    """Refresh worked states, build the report, write it back to the warehouse if enabled."""
    now = now or dt.datetime.now(dt.UTC)
    settings = load_outcome_settings(config.raw, str(config.path))
    if refresh:
        refresh_worked(config, state, now)
    source = Source(config.warehouse, config.base_dir, str(config.path))
    try:
        report = build_report(config, state, now, source=source, settings=settings)
        record_rates(state.engine, report.triggers, now)  # the ping budget's measured conversion
        if settings.outcomes.writeback.enabled:
            write_back(source.engine, report)
    finally:
        source.close()
    return report


def write_latest(config: Config, state: StateStore, now: dt.datetime | None = None) -> Path | None:
    """Daemon job: rewrite the HTML report at `[report].path` (None when no path is configured)."""
    settings = load_outcome_settings(config.raw, str(config.path))
    if settings.report.path is None:
        return None
    path = settings.report.path if settings.report.path.is_absolute() else config.base_dir / settings.report.path
    return write_html(produce(config, state, now), path, links=crm_links(state.engine))


def run_report(
    config: Config,
    state: StateStore,
    *,
    as_json: bool = False,
    html: Path | None = None,
    advise: bool = False,
    now: dt.datetime | None = None,
    echo: Callable[[str], Any] = print,
) -> int:
    """The `syncer report` command body: 0 ok (config problems raise ConfigError -> exit 2 in the CLI)."""
    report = produce(config, state, now)
    advice = advise_report(report) if advise else []
    if html is not None:
        write_html(report, html, links=crm_links(state.engine))
    if as_json:
        data = report.as_dict()
        if advise:
            data["advice"] = [a.as_dict() for a in advice]
        if html is not None:
            data["html"] = str(html)
        echo(json.dumps(data, default=str))
        return 0
    rows = report.table_rows()
    echo(report.counts_line())
    if rows:
        widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in rows[0]}
        echo("  ".join(k.ljust(w) for k, w in widths.items()))
        for r in rows:
            echo("  ".join(r[k].ljust(w) for k, w in widths.items()))
    k = report.kpis
    for name, ok in k.met().items():
        echo(f"KPI {name}: {'met' if ok else ('not met' if ok is not None else 'not measurable yet')}")
    if html is not None:
        echo(f"HTML report: {html}")
    if report.lifts:
        echo("Causal lift of alerting (alerted vs held out, converted within the window):")
        lifts = lift_rows(report.lifts)
        widths = {k: max(len(k), *(len(r[k]) for r in lifts)) for k in lifts[0]}
        echo("  ".join(k.ljust(w) for k, w in widths.items()))
        for r in lifts:
            echo("  ".join(r[k].ljust(w) for k, w in widths.items()))
    if advise:
        for a in advice:
            check = f" - check first: {a.backtest}" if a.backtest else ""
            echo(f"{a.trigger}: {a.action} - {a.reason}{check}")
        echo(toml_snippet(config.scoring, advice))
    return 0


def record_rates(engine: sa.Engine, triggers: Sequence[TriggerStats], now: dt.datetime) -> None:
    """Matured / converted alerts per trigger into state (`alert_trigger_rates`), one transaction."""
    from syncer.alerts.store import trigger_rates

    rows = [
        {"trigger": t.trigger, "matured": t.matured, "converted": t.converted, "updated_at": now}
        for t in triggers
        if t.fired
    ]
    with engine.begin() as conn:
        conn.execute(trigger_rates.delete())
        if rows:
            conn.execute(trigger_rates.insert(), rows)
