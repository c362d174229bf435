"""Alert outcomes: alert -> action -> outcome per trigger, the report, write-back and tuning advice.

See docs/outcomes.md. Entry points: `build_report` (report.py), `write_html` (report_html.py),
`write_back` (writeback.py), `advise` (advice.py), and `run_report` / `write_latest` (command.py)
for the CLI and the daemon. Configuration: `[outcomes]` and `[report]` (model.py).
"""

from __future__ import annotations

from syncer.outcomes.advice import Advice, advise, apply_advice, toml_snippet
from syncer.outcomes.command import produce, run_report, write_latest
from syncer.outcomes.model import OutcomeSettings, load_outcome_settings
from syncer.outcomes.report import Report, build_report
from syncer.outcomes.report_html import render_html, write_html
from syncer.outcomes.tracking import sync_task_states
from syncer.outcomes.writeback import write_back

__all__ = [
    "Advice",
    "OutcomeSettings",
    "Report",
    "advise",
    "apply_advice",
    "build_report",
    "load_outcome_settings",
    "produce",
    "render_html",
    "run_report",
    "sync_task_states",
    "toml_snippet",
    "write_back",
    "write_html",
    "write_latest",
]
