"""A composite primary key (stored with its parts joined by U+001F) is shown in one typeable form, a JSON array
of its parts, by every display (audit table and --json, plan --show samples, forget), and `forget` / `audit --key`
accept that form; a key that matches nothing is exit 2 naming the form, never "forgot ...: 0 rows" and exit 0
(a GDPR erasure that silently did nothing). Real processes, a SQLite warehouse, the webhook receiver."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.identity import KEY_SEPARATOR, key_text, typed_keys
from tests.engine.conftest import MAPPING, SECRET, Project

COMPOSITE = MAPPING.format(mode="upsert").replace('primary_key = "account_id"', 'primary_key = ["account_id", "tier"]')


def syncer(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m syncer ARGS` as the user runs it."""
    env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(project.config)}
    return subprocess.run([sys.executable, "-m", "syncer", *args], env=env, text=True, capture_output=True, timeout=120)


@pytest.fixture
def synced(project: Project, receiver: WebhookReceiver) -> Project:
    """accounts 1..300 synced once under the key (account_id, tier); account 3's tier is 'monitor'."""
    project.write(mapping=COMPOSITE)
    assert syncer(project, "run", "accounts").returncode == 0
    return project


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("A1", "A1"),
        ("A1\x1fescalate", '["A1","escalate"]'),
        ("3\x1fmonitor\x1f2026-03-08", '["3","monitor","2026-03-08"]'),
        ('a"b\x1f[x]', '["a\\"b","[x]"]'),
        ('["A1","escalate"]', '["A1","escalate"]'),  # a one-column key that looks like an array: typed back as is
    ],
)
def test_a_shown_key_types_back_to_the_stored_key(stored: str, shown: str) -> None:
    assert key_text(stored) == shown and KEY_SEPARATOR not in shown
    assert stored in typed_keys(shown)


def test_every_display_shows_a_composite_key_as_a_json_array(synced: Project) -> None:
    audit = syncer(synced, "audit", "accounts", "--json", "--all")
    keys = {row["key"] for row in json.loads(audit.stdout)}
    assert len(keys) == 300 and '["3","monitor"]' in keys, sorted(keys)[:3]
    # the newest 5 rows: which batch was acknowledged last depends on the connector's concurrency
    table = syncer(synced, "audit", "accounts", "--limit", "5")
    shown = [row["key"] for row in json.loads(audit.stdout)[:5]]  # --json lists them in the table's order
    assert table.returncode == 0 and all(key in table.stdout for key in shown), (shown, table.stdout)
    assert "\x1f" not in table.stdout
    synced.write(mapping=COMPOSITE.replace('case = "upper"', 'case = "lower"'))
    plan = syncer(synced, "plan", "accounts", "--show", "2", "--json")
    assert [s["key"] for s in json.loads(plan.stdout)["samples"]][:1] == ['["1","nurture"]'], plan.stdout
    shown = syncer(synced, "plan", "accounts", "--show", "2")
    for result in (audit, table, plan, shown):
        assert KEY_SEPARATOR not in result.stdout + result.stderr


# (command, typed key, exit code, words it says): a case that erases names a record no earlier case touches
TYPED = [
    ("audit", '["3","monitor"]', 0, '["3","monitor"]'),
    ("audit", '[3,"monitor"]', 0, '["3","monitor"]'),
    ("audit", "3monitor", 2, "no audit rows to show"),
    ("audit", "3,monitor", 2, "(account_id, tier)"),
    ("forget", "3monitor", 2, 'type it as a JSON array of their values in that order, \'["<account_id>",'),
    ("forget", "3,monitor", 2, "nothing was erased"),
    ("forget", '["3","escalate"]', 2, 'has key \'["3","escalate"]\''),
    ("forget", '["3","monitor"]', 0, 'forgot \'["3","monitor"]\': 1 state, 0 rejected, 1 audit rows'),
    ("forget", '[6, "monitor"]', 0, 'forgot \'["6","monitor"]\': 1 state, 0 rejected, 1 audit rows'),
    ("forget", "9\x1fmonitor", 0, 'forgot \'["9","monitor"]\': 1 state, 0 rejected, 1 audit rows'),
    ("forget", '["3","monitor"]', 2, "nothing was erased"),  # erased already
]


def test_a_key_is_typed_as_it_is_shown_and_a_key_matching_nothing_is_exit_2(synced: Project) -> None:
    erased = 0
    for command, typed, code, said in TYPED:
        args = ("forget", typed, "--sync", "accounts") if command == "forget" else ("audit", "accounts", "--key", typed)
        result = syncer(synced, *args)
        case = (command, typed, result.returncode, result.stdout[-300:], result.stderr[-500:])
        assert result.returncode == code and said in result.stdout + result.stderr, case
        assert "Traceback" not in result.stderr and KEY_SEPARATOR not in result.stdout + result.stderr, case
        erased += command == "forget" and code == 0
    after = json.loads(syncer(synced, "audit", "accounts", "--json", "--all").stdout)
    assert erased == 3 and len(after) == 300 - erased


def test_forget_without_sync_finds_a_composite_key_and_says_when_nothing_matched(synced: Project) -> None:
    result = syncer(synced, "forget", '["3","monitor"]')
    assert result.returncode == 0 and "1 state" in result.stdout, result.stdout
    again = syncer(synced, "forget", '["3","monitor"]')  # erased already: says so, exit 2
    assert again.returncode == 2 and "any sync" in again.stderr and "nothing was erased" in again.stderr, again.stderr
