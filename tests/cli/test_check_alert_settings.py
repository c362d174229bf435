"""`syncer check` finds what only the alert and score commands would (adv6 #6): it said ok for an alert model the
warehouse lacks (`alerts run` then exited 2), a primary key the store never uses, a `crm_url` naming no column
(every link silently null), a manager that is no email address. Each case is one config change on a warehouse
with a scored world and the Slack emulator; `check` must exit 2 naming its key, and the unchanged project is ok."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.config import load_config
from syncer.scoring import refresh_scores
from tests.cli.test_user_input import cli, config, warehouse

__all__ = ["warehouse"]  # the module's scored world (below) builds on it

MODEL = '[alerts.model]\nprimary_key = ["account_id", "trigger"]\n'
TRIGGER = '[[scoring.triggers]]\nname = "t1"\npriority = "high"\nthreshold = 0.8\n'
CASES: list[tuple[str, str, str]] = [
    # (case, config added under [alerts], the key the problem names)
    ("alert model table missing", MODEL + 'table = "no_such_table"', "alerts.model"),
    (
        "alert model without trigger",
        MODEL + 'query = "SELECT account_id, priority FROM fired_triggers"',
        "alerts.model",
    ),
    ("primary key of other columns", MODEL.replace('"account_id", "trigger"', '"acct", "trig"'), "alerts.model"),
    ("crm_url naming no column", 'crm_url = "https://crm.example/{nonexistent_col}/view"', "alerts.crm_url"),
    ("crm_url not a format string", 'crm_url = "https://crm.example/{account_id/view"', "alerts.crm_url"),
    ("manager not an email", 'managers = { "owner@x.com" = "not an email" }', "alerts.managers"),
    (
        "tier message naming no alert field",
        '\n[actions.nurture]\nmessage = "{account_name}: {no_such}"',
        "actions.nurture.message",
    ),
    (
        "routing rule on a column the model lacks",
        '\n[alerts.model]\nquery = "SELECT account_id, trigger, priority FROM fired_triggers"\n'
        'primary_key = ["account_id", "trigger"]\n\n[routing]\nrules = [{ segment = "smb", to = "C0FALLBACK" }]',
        "routing.rules[0].segment",
    ),
    ("scoring input table missing", '\n[scoring.tables]\naccounts = "no_accounts"', "scoring.tables.accounts"),
    ("trigger SQL the warehouse refuses", "\n" + TRIGGER + 'value = "no_such_metric"', "scoring.triggers.t1"),
]


@pytest.fixture(scope="module")
def scored(warehouse: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The world after one `score`: fired_triggers, account_scores and account_metrics exist."""
    root = tmp_path_factory.mktemp("scored")
    (root / "mappings").mkdir()
    (root / "config.toml").write_text(f'[syncer]\ndata_dir = "data"\n[warehouse]\nurl = "{warehouse}"\n')
    engine = sa.create_engine(warehouse)
    refresh_scores(engine, load_config(root / "config.toml").scoring, dt.date(2025, 6, 30))
    engine.dispose()
    return warehouse


@pytest.mark.parametrize(("case", "extra", "key"), CASES, ids=[c[0] for c in CASES])
def test_check_refuses_what_the_alert_and_score_commands_would(
    tmp_path: Path, scored: str, slack: SlackEmulator, case: str, extra: str, key: str
) -> None:
    code, stdout, stderr = cli(config(tmp_path, scored, slack, "\n" + extra), "check")
    problems = [line for line in stderr.splitlines() if line.startswith(("problem", "config error"))]
    assert code == 2 and any(key in p for p in problems), (case, code, stdout, stderr)


def test_the_project_without_those_changes_checks_ok(tmp_path: Path, scored: str, slack: SlackEmulator) -> None:
    extra = 'crm_url = "https://crm.example/{account_id}/{alert_id}"\n\n[scoring]\nseat_basis = "seats_used"'
    code, stdout, stderr = cli(config(tmp_path, scored, slack, extra), "check")
    assert code == 0 and "ok:" in stdout, (stdout, stderr)
