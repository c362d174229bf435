"""A value the user typed (an option, a config key) that a command cannot use exits 2 naming it, never 70 with a
traceback (adv6 #5): every option that reaches a parser, SQL or a socket, and the alert / trigger config values that
reached them unchecked. Each case runs the command as a user does (the CLI, in-process) on a small warehouse with a
scoring world and the Slack emulator, and must exit 2 with the option or key in the one message."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.slack.emulator import SlackEmulator
from typer.testing import CliRunner

from syncer.cli import app
from syncer.scoring import build_world
from tests.daemon.test_alert_jobs import FALLBACK, SLACK_TOKEN

TRIGGER = "seat_limit_approaching"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('input') / 'warehouse.sqlite'}"
    engine = sa.create_engine(url)
    build_world(engine, accounts=30, days=40, seed=3, as_of=dt.date(2025, 6, 30))
    engine.dispose()
    return url


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield int(held.getsockname()[1])


def config(root: Path, warehouse: str, slack: SlackEmulator, extra: str) -> Path:
    (root / "mappings").mkdir(exist_ok=True)
    path = root / "config.toml"
    path.write_text(
        f'[syncer]\ndata_dir = "data"\n\n[warehouse]\nurl = "{warehouse}"\n\n'
        f'[connectors.slack]\ntype = "slack"\nbase_url = "{slack.api_url}"\nbot_token = "${{SLACK_TOKEN}}"\n'
        f'fallback_channel = "{FALLBACK}"\n\n[alerts]\nslack = "slack"\n{extra}\n'
    )
    return path


def cli(path: Path, *args: str) -> tuple[int, str, str]:
    env = {"SYNCER_CONFIG": str(path), "SLACK_TOKEN": SLACK_TOKEN}
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


BACKTEST = ("triggers", "backtest", TRIGGER, "--since", "28d", "--set")
MODEL = '[alerts.model]\ntable = "fired_triggers"\n'
TRIGGER_TOML = '[[scoring.triggers]]\nname = "t1"\npriority = "high"\nvalue = "seat_utilisation"\n'
CASES: list[tuple[str, str, tuple[str, ...], str]] = [
    # (case, config added under [alerts], command line ({port}: a port another socket listens on), message names)
    ("--as-of not a date", "", ("score", "--as-of", "notadate"), "--as-of"),
    ("--as-of no such day", "", ("score", "--as-of", "2026-13-45"), "--as-of"),
    ("--set threshold not a number", "", (*BACKTEST, "threshold=abc"), "--set"),
    ("--set op not an operator", "", (*BACKTEST, "op=~~"), "--set"),
    ("--set threshold nan", "", (*BACKTEST, "threshold=nan"), "--set"),
    ("--set threshold inf", "", (*BACKTEST, "threshold=inf"), "--set"),
    ("--set value the warehouse refuses", "", (*BACKTEST, "value=no_such_column"), "--set"),
    ("emulator --port in use", "", ("emulator", "slack", "--port", "{port}"), "--port"),
    ("demo --serve --port in use", "", ("demo", "--serve", "--port", "{port}", "--dir", "{root}/demo"), "--port"),
    ("runs --limit negative", "", ("runs", "--limit", "-3"), "--limit"),
    ("audit --limit negative", "", ("audit", "--limit", "-1"), "--limit"),
    ("alerts list --limit negative", "", ("alerts", "list", "--limit", "-2"), "--limit"),
    ("demo --accounts 0", "", ("demo", "--accounts", "0", "--dir", "{root}/demo"), "--accounts"),
    ("run --wait nan", "", ("run", "accounts", "--wait", "nan"), "--wait"),
    (
        "[alerts.model] key of other columns",
        MODEL + 'primary_key = ["acct", "trig"]',
        ("alerts", "run"),
        "alerts.model",
    ),
    ("[alerts.model] key of one column", MODEL + 'primary_key = ["account_id"]', ("check",), "alerts.model"),
    (
        "[alerts.model] table missing",
        MODEL.replace("fired_triggers", "no_such") + 'primary_key = ["account_id", "trigger"]',
        ("alerts", "run"),
        "alerts.model",
    ),
    (
        "[alerts.model] without a trigger column",
        '[alerts.model]\nquery = "SELECT account_id, plan_tier AS priority FROM accounts"\n'
        'primary_key = ["account_id", "trigger"]',
        ("alerts", "run"),
        "alerts.model",
    ),
    ("trigger threshold nan", "\n" + TRIGGER_TOML + "threshold = nan", ("check",), "scoring.triggers.0.threshold"),
    (
        "canary threshold inf",
        "\n" + TRIGGER_TOML + "threshold = 0.8\ncanary = { threshold = inf }",
        ("check",),
        "scoring.triggers.0.canary.threshold",
    ),
]


@pytest.mark.parametrize(("case", "extra", "args", "names"), CASES, ids=[c[0] for c in CASES])
def test_a_value_the_command_cannot_use_exits_2_naming_it(
    tmp_path: Path, warehouse: str, slack: SlackEmulator, busy_port: int,
    case: str, extra: str, args: tuple[str, ...], names: str,
) -> None:  # fmt: skip
    path = config(tmp_path, warehouse, slack, extra)
    line = [a.format(port=busy_port, root=tmp_path) for a in args]
    code, stdout, stderr = cli(path, *line)
    assert code == 2, (case, code, stdout, stderr)
    assert names in stderr and "Traceback" not in stderr and "internal error" not in stderr, (case, stderr)


def test_the_same_config_without_the_bad_value_is_fine(tmp_path: Path, warehouse: str, slack: SlackEmulator) -> None:
    """The cases' baseline: the project itself checks ok, and a valid --set / --as-of run (so each case fails
    on its value alone)."""
    path = config(tmp_path, warehouse, slack, "")
    for args in (("check",), (*BACKTEST, "threshold=0.7"), ("score", "--as-of", "2025-06-30", "--json")):
        got: Any = cli(path, *args)
        assert got[0] in (0, 1), (args, got)  # 1: the score's data-quality guard may hold a tiny world back
