"""Column headers (and a key/value table's keys) read as words, never as snake_case field names: `syncer plan`
printed `source_rows`, `held_rejected`, `api_calls`; `alerts sla` printed `sla_hours`, `p50_hours`. One rule
(syncer.tables.field_label, applied by print_table) for every table; each row here is a surface people read."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from rich.table import Table

from syncer.alerts.sla import summarize
from syncer.cli import alerts as alerts_cli
from syncer.cli import sync as sync_cli
from syncer.diff import Tally
from syncer.runner import Summary
from syncer.tables import field_label, print_table

FIELD = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
SLA = summarize([("met", 1.0), ("missed", 30.25), ("breached", None), ("pending", None)]) | {"sla_hours": 24.0}
ALERT = {"id": "acc_1:seat_limit_approaching:20261103T000000Z", "trigger": "seat_limit_approaching",
         "priority": "high", "tier": "escalate", "state": "pinged", "owner": "sara@example.com",
         "owner_name": "Sara Patel", "age_hours": 3.5, "task": "open", "route": "ping -> U0SARA (default)",
         "sla": "pending", "time_to_action_hours": None}  # fmt: skip


def _plan() -> None:
    tally = Tally(source_rows=5, added=1, changed=1, unchanged=2, held_rejected=1, held_deletes=0, bad_rows=1)
    tally.out_of_sync = {"null_key": 1}
    sync_cli._summary_table(Summary("accounts", tally, run_id=7, succeeded=2, api_calls=3, duration_s=0.4))


def _key_values() -> None:  # as `score` prints its summary: a table without headers, keys in the first column
    table = Table(title="scores", show_header=False)
    for key, value in {"accounts_scored": 10, "triggers_fired": 2, "pql_tiers": "{}", "rows_fetched": 5}.items():
        table.add_row(key, str(value))
    print_table(table)


# surface -> what prints it, with the headers the test expects among what it prints
SURFACES: dict[str, tuple[Callable[[], Any], tuple[str, ...]]] = {
    "plan": (_plan, ("source rows", "held (rejected before)", "API calls", "duration (s)", "out of sync: null key")),
    "alerts sla": (lambda: alerts_cli._print_sla({"escalate": SLA}, {"high": SLA}, {}), ("action tier", "SLA (h)",
                                                                                        "p50 (h)", "max (h)")),
    "alerts sla lanes": (lambda: alerts_cli._print_lanes({"intraday": {"alerts": 2, "p50_seconds": 1.25,
                                                                       "p95_seconds": 3.0, "max_seconds": 4.0}}),
                         ("p50 (s)", "p95 (s)")),
    "alerts --wide": (lambda: alerts_cli._print_alerts([ALERT], wide=True),
                      ("action tier", "to action (h)", "age (h)")),
    "alerts": (lambda: alerts_cli._print_alerts([ALERT], wide=False), ("age", "account", "trigger")),
    "key/value table": (_key_values, ("accounts scored", "PQL tiers", "rows fetched")),
}  # fmt: skip


@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_headers_are_words_not_field_names(surface: str, capsys: pytest.CaptureFixture[str]) -> None:
    show, expected = SURFACES[surface]
    show()
    printed = capsys.readouterr().out
    print(printed)
    lines = [line for line in printed.splitlines() if line.strip()]
    header = next(line for line in lines if not line.startswith(" ")) if surface != "key/value table" else ""
    keys = "\n".join(line.split("  ")[0] for line in lines) if surface in ("plan", "key/value table") else ""
    assert not FIELD.findall(header + "\n" + keys), (surface, FIELD.findall(header + "\n" + keys))
    for words in expected:
        assert words in printed, (surface, words)


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("sla_hours", "SLA (h)"),
        ("p90_hours", "p90 (h)"),
        ("p95_seconds", "p95 (s)"),
        ("api_calls", "API calls"),
        ("duration_s", "duration (s)"),
        ("run_id", "run"),
        ("out_of_sync missing", "out of sync: missing"),
        ("alerts", "alerts"),  # a word already
        ("to action (h)", "to action (h)"),
    ],
)
def test_field_label(field: str, label: str) -> None:
    assert field_label(field) == label
