"""The action commands, each run as a process against the emulators, with its effect checked where it
lands (the webhook receiver, Slack, HubSpot, the state DB) — not only its exit code.

Issue 13, repro 4: `syncer alerts run` did nothing and exited 0, and no test ran it as a user does.
`test_command_tree.py` runs `--help` of every command in typer's registry; this runs the actions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.slack.emulator import SlackEmulator
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.cli.test_command_tree import command_paths
from tests.daemon.test_alert_jobs import HS_TOKEN, SLACK_TOKEN, alert_project, fired_triggers, keys
from tests.engine.conftest import SECRET, Project

Check = Callable[[Any, "World"], None]


class World:
    def __init__(self, project: Project, receiver: WebhookReceiver, slack: SlackEmulator, crm: HubSpotEmulator):
        self.project, self.receiver, self.slack, self.crm = project, receiver, slack, crm

    def syncer(self, *args: str) -> tuple[int, Any, str]:
        env = {
            **os.environ,
            "HOOK_SECRET": SECRET,
            "SLACK_TOKEN": SLACK_TOKEN,
            "HS_TOKEN": HS_TOKEN,
            "SYNCER_CONFIG": str(self.project.config),
        }
        done = subprocess.run(
            [str(Path(sys.executable).parent / "syncer"), *args], env=env, capture_output=True, text=True, timeout=300
        )
        try:
            out: Any = json.loads(done.stdout)
        except ValueError:
            out = done.stdout
        return done.returncode, out, done.stderr


def _pinged(world: World) -> list[str]:
    return keys(world.slack, world.slack.dm_channel("U0AE1"))


# (command line, expected exit code, what must be true afterwards), run in this order on one project
ACTIONS: list[tuple[tuple[str, ...], int, Check]] = [
    (("check",), 0, lambda out, w: None),
    (("plan", "accounts", "--json"), 0, lambda out, w: _eq((out["added"], w.receiver.write_calls), (300, 0))),
    (("run", "accounts", "--json"), 0, lambda out, w: _eq((out["succeeded"], len(w.receiver.records)), (300, 300))),
    (("runs", "--json"), 0, lambda out, w: _eq([(r["sync"], r["status"]) for r in out], [("accounts", "ok")])),
    (("audit", "accounts", "--key", "7", "--json"), 0, lambda out, w: _eq([r["status"] for r in out], ["ok"])),
    (("forget", "7", "--sync", "accounts"), 0, lambda out, w: _has(out, "1 state")),
    (("plan", "accounts", "--json"), 0, lambda out, w: _eq(out["added"], 1)),  # forgotten: known no more
    (("state", "check", "--json"), 0, lambda out, w: _eq(out["damaged"], False)),
    (("state", "rebuild", "--json"), 0, lambda out, w: _eq(out["lost"], {})),
    (("alerts", "run", "--json"), 0, lambda out, w: _eq((len(_pinged(w)), len(w.crm.store.live("tasks"))), (1, 1))),
    (("alerts", "run", "--json"), 0, lambda out, w: _eq((len(_pinged(w)), len(w.crm.store.live("tasks"))), (1, 1))),
    (
        ("alerts", "list", "--json"),
        0,
        lambda out, w: _eq(
            [(a["trigger"], a["state"]) for a in out][:1], [("seat_limit_approaching", "ping delivered")]
        ),
    ),
    (("alerts", "--json"), 0, lambda out, w: _eq(len(out), 1)),
    (("alerts", "sla", "--json"), 0, lambda out, w: _eq(isinstance(out, dict), True)),
    (("alerts", "escalate"), 0, lambda out, w: _has(out, "escalated 0")),  # nothing is past its 24 h SLA yet
    (("digest",), 0, lambda out, w: None),
    (("alerts", "resend"), 0, lambda out, w: _has(out, "released 0")),
    (("digest", "--preview"), 0, lambda out, w: None),
    # adv6 finding 8: a recipient or key that names nothing is a usage error (exit 2), not a silent success
    (("digest", "--recipient", "NOPE"), 2, lambda out, w: None),
    (("digest", "--preview", "--recipient", "NOPE"), 2, lambda out, w: None),
    (("alerts", "resend", "nonexistent-key"), 2, lambda out, w: None),
]


def _eq(got: Any, want: Any) -> None:
    assert got == want, (got, want)


def _has(text: Any, part: str) -> None:
    assert part in str(text), text


def test_action_commands_do_what_they_say(
    project: Project, receiver: WebhookReceiver, slack: SlackEmulator, crm: HubSpotEmulator
) -> None:
    alert_project(project, slack, crm)
    fired_triggers(project.warehouse_url, [("acct-1", "seat_limit_approaching", "high", 0.9, 0.8, "ae1@example.com")])
    world = World(project, receiver, slack, crm)
    for args, code, check in ACTIONS:
        got, out, err = world.syncer(*args)
        assert got == code, (args, got, out, err)
        check(out, world)
    covered = {
        args[: 2 if args[0] in ("alerts", "state") and len(args) > 1 and not args[1].startswith("-") else 1]
        for args, _, _ in ACTIONS
    }
    tree = {p for p, c in command_paths() if p and not hasattr(c, "list_commands")}
    print(f"action commands run as processes with their effect checked: {len(covered & tree)} of {len(tree)}")
