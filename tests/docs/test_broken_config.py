"""One table of broken configs, every section: each is refused by the JSON Schema (schema/) AND by
`syncer check` run as a process, which exits 2 with a line naming the file and the dotted key, and no
traceback. The unbroken fixture passes both (exit 0), so every refusal is the edit's.

Sections covered: [syncer] [warehouse] [connectors.*] [alerts] [routing] [digest] [actions] [daemon]
[daemon.*] [report] [outcomes] [scoring] and mapping files (syncs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import SECRET, Project, create_accounts

ROOT = Path(__file__).resolve().parents[2]
CONFIG_SCHEMA = json.loads((ROOT / "schema/config.schema.json").read_text())
MAPPING_SCHEMA = json.loads((ROOT / "schema/mapping.schema.json").read_text())
SLACK = '\n[connectors.slack]\nbot_token = "${HOOK_SECRET}"\n'  # the sections that name a slack connector need one

Edit = Callable[[str], str]


def schema_errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def sub(old: str, new: str) -> Edit:
    def edit(text: str) -> str:
        assert old in text, f"{old!r} not in the fixture"  # else the case would test nothing
        return text.replace(old, new, 1)

    return edit


def add(extra: str) -> Edit:
    return lambda text: text + "\n" + extra


# (file, edit, the dotted key `syncer check` names)
BROKEN: list[tuple[str, Edit, str]] = [
    # [syncer] [warehouse] [connectors.*]
    ("config", sub('data_dir = "data"', 'data_dir = "data"\ncolour = "red"'), "syncer.colour"),
    ("config", sub('data_dir = "data"', 'data_dir = "data"\nlog_level = "loud"'), "syncer.log_level"),
    ("config", sub("[warehouse]", "[warehous]"), "warehouse"),
    ("config", sub("[warehouse]", "[warehouse]\nstream_batch = 0"), "warehouse.stream_batch"),
    ("config", sub("[warehouse]", "[warehouse]\ncolour = 'red'"), "warehouse.colour"),
    ("config", sub('signing_secret = "${HOOK_SECRET}"', 'signing_secret = "whsec-literal"'), "signing_secret"),
    ("config", sub("batch_size = 100", "batch_size = 0"), "connectors.hook.batch_size"),
    ("config", sub("batch_size = 100", 'batch_size = 100\ncolour = "red"'), "connectors.hook.colour"),
    ("config", sub('bot_token = "${HOOK_SECRET}"', 'bot_token = "xoxb-literal"'), "connectors.slack.bot_token"),
    ("config", add("[alrets]\nslack = 'slack'\n"), "alrets"),
    # [alerts]
    ("config", add("[alerts]\ncooldown_days = -1\n"), "alerts.cooldown_days"),
    ("config", add('[alerts]\nescalation_channel = "#sales"\n'), "alerts.escalation_channel"),
    ("config", add("[alerts]\nclear_after_quite = 2\n"), "alerts.clear_after_quite"),
    ("config", add("[alerts.budget]\nper_recipient = -1\n"), "alerts.budget.per_recipient"),
    ("config", add("[alerts.holdout]\nshare = 2\n"), "alerts.holdout.share"),
    ("config", add('[alerts.tasks]\nconnector = "salesforce"\npriority = "urgent"\n'), "alerts.tasks.priority"),
    # [routing]
    ("config", add('[routing]\nrules = [{ to = "sales" }]\n'), "routing.rules.0.to"),
    ("config", add("[routing]\nimmediate = ['urgent']\n"), "routing.immediate.0"),
    ("config", add("[routing]\nbogus_key = 1\n"), "routing.bogus_key"),
    # [digest]
    ("config", add('[digest]\ntime = "9 o\'clock"\n'), "digest.time"),
    ("config", add('[digest]\ntime = "09:00"\ncolour = "red"\n'), "digest.colour"),
    # [actions]
    ("config", add('[actions.monitor]\nnotify = "shout"\n'), "actions.monitor.notify"),
    ("config", add("[actions.monitor]\ncolour = 1\n"), "actions.monitor.colour"),
    # [daemon] [daemon.*]
    ("config", add("[daemon]\nport = 70000\n"), "daemon.port"),
    ("config", add('[daemon]\ncolour = "red"\n'), "daemon.colour"),
    ("config", add("[daemon]\nmax_parallel = 0\n"), "daemon.max_parallel"),
    ("config", add('[daemon]\nviewer_token = "letmein"\n'), "daemon.viewer_token"),
    ("config", add('[daemon.synclog]\nruns_table = "bad name"\n'), "daemon.synclog.runs_table"),
    ("config", add("[daemon.ops_alerts]\nrejected_share = 2\n"), "daemon.ops_alerts.rejected_share"),
    ("config", add("[daemon.score]\nevery_minutes = 0\n"), "daemon.score.every_minutes"),
    ("config", add('[daemon.alerts]\ncron = "*/5 * * * *"\ncolour = 1\n'), "daemon.alerts.colour"),
    ("config", add('[daemon.digest]\ncron = "every day"\n'), "daemon.digest.cron"),
    # [report] [outcomes]
    ("config", add("[report]\ntrend_days = 1\n"), "report.trend_days"),
    ("config", add('[report]\ncolour = "red"\n'), "report.colour"),
    ("config", add("[outcomes]\nwindow_days = 0\n"), "outcomes.window_days"),
    ("config", add('[outcomes]\ncolour = "red"\n'), "outcomes.colour"),
    # [scoring]
    ("config", add('[scoring]\nseat_basis = "users"\n'), "scoring.seat_basis"),
    ("config", add("[scoring.health]\nseat_weight = 'heavy'\n"), "scoring.health.seat_weight"),
    ("config", add('[scoring]\ncolour = "red"\n'), "scoring.colour"),
    # durations of zero (or less) where they mean nothing: each divides by it, or measures over no day
    ("config", add("[scoring]\ndau_baseline_days = 0\n"), "scoring.dau_baseline_days"),
    ("config", add("[scoring]\napi_projection_days = 0\n"), "scoring.api_projection_days"),
    ("config", add("[scoring]\napi_period_days = 0\n"), "scoring.api_period_days"),
    ("config", add("[scoring.health]\naction_window_days = 0\n"), "scoring.health.action_window_days"),
    ("config", add("[scoring.quality]\nmatch_window_days = 0\n"), "scoring.quality.match_window_days"),
    ("config", add("[scoring.quality]\nmax_lag_days = -1\n"), "scoring.quality.max_lag_days"),
    (
        "config",
        add('[[scoring.triggers]]\nname = "t"\npriority = "high"\nvalue = "dau"\nthreshold = 1\nwindow_days = 0\n'),
        "scoring.triggers.0.window_days",
    ),
    ("config", add("[outcomes.sla_hours]\nhigh = 0\n"), "outcomes.sla_hours.high"),
    # mappings/*.toml (one sync each)
    ("mapping", sub('mode = "upsert"', 'mode = "sideways"'), "mode"),
    ("mapping", add("max_delete_share = 1.5\n"), "max_delete_share"),
    ("mapping", sub('case = "upper"', 'case = "title"'), "fields.tier.case"),
    ("mapping", sub("round = 0", 'round = "two"'), "fields.pql_score.round"),
    ("mapping", sub('name = "name"', 'name = { column = "name", colour = "red" }'), "fields.name.colour"),
    ("mapping", sub('[match]\nfield = "domain"\ncolumn = "domain"', ""), "match"),
    ("mapping", sub('table = "accounts"', 'tabel = "accounts"'), "model.tabel"),
    ("mapping", add("[schedule]\nevery_minutes = -5\n"), "schedule.every_minutes"),
    ("mapping", sub('table = "accounts"', 'table = "accounts"\nfull_diff_every = "0h"'), "model.full_diff_every"),
]


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as rx:
        yield rx


@pytest.fixture
def project(tmp_path: Path, receiver: WebhookReceiver) -> Project:
    url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    create_accounts(url, 3)
    proj = Project(tmp_path, url, hook_url=f"{receiver.base_url}/hooks")
    proj.write(mode="upsert")
    proj.config.write_text(proj.config.read_text() + SLACK)
    return proj


def check(project: Project) -> tuple[int, str]:
    """`syncer check` as its own process, as a user runs it: (exit code, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCER_")}
    env.update(HOOK_SECRET=SECRET, SYNCER_CONFIG=str(project.config))
    done = subprocess.run(
        [sys.executable, "-m", "syncer", "check"], env=env, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stderr


def test_the_unbroken_fixture_passes_schema_and_check(project: Project) -> None:
    assert schema_errors(CONFIG_SCHEMA, tomllib.loads(project.config.read_text())) == []
    mapping = project.root / "mappings/accounts.toml"
    assert schema_errors(MAPPING_SCHEMA, tomllib.loads(mapping.read_text())) == []
    code, err = check(project)
    assert (code, err) == (0, "")


@pytest.mark.parametrize(("file", "edit", "key"), BROKEN, ids=[key for _, _, key in BROKEN])
def test_broken_config_is_refused_by_schema_and_check(project: Project, file: str, edit: Edit, key: str) -> None:
    path = project.config if file == "config" else project.root / "mappings/accounts.toml"
    schema = CONFIG_SCHEMA if file == "config" else MAPPING_SCHEMA
    path.write_text(edit(path.read_text()))

    assert schema_errors(schema, tomllib.loads(path.read_text())) != [], "the schema accepts it"
    code, err = check(project)
    assert code == 2, err
    assert "Traceback" not in err
    shown = str(path) if file == "config" else "mappings/accounts.toml"  # a mapping: relative to config.toml
    blamed = [line for line in err.splitlines() if shown in line and key in line]
    assert blamed, f"no line names {shown} and {key}:\n{err}"
