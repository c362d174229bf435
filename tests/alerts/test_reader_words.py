"""What a person reads names people by name and shows times in their own zone: one table, every surface.

Each row is one place a person reads a recipient/owner or a time (a Slack ping's footer, the alert email,
`digest --preview`, `alerts run --dry-run`, the ping-budget table, `alerts list`), evaluated by the real
engine on a real SQLite state with the Slack emulator, once with the demo's `[digest] timezone =
"America/New_York"` and once with no zone (then the time says UTC). Machine-readable output keeps ids and
UTC ISO: the stored alert's `fired_at` and the --json plan are checked too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from syncer_connectors.email.connector import EmailConnector, EmailSettings
from syncer_connectors.slack.emulator import SlackEmulator

from syncer.alerts import AlertEngine
from syncer.alerts.store import alerts, outbox
from syncer.cli import alerts as cli
from syncer.state import StateStore
from tests.alerts.support import T0, Clock, row, settings, slack_connector, sqlite_url

NAMES = {"ae1@example.com": "Sara Patel", "ae2@example.com": "Omar Reyes"}  # the alert query's owner_name
EMAILED = "ae2@example.com"  # prefers email: the alert email's footer is read by them
CAPSYS: list[Any] = []  # this test's capsys, for _printed


def _engine(tmp: Path, slack: SlackEmulator, clock: Clock, zone: str | None) -> AlertEngine:
    digest = {"timezone": zone} if zone else {"timezone": "UTC"}
    cfg = settings(digest=digest, alerts={"email": "email", "recipients": {EMAILED: {"prefer": "email"}}})
    email = EmailConnector(EmailSettings(host="127.0.0.1", security="none", from_address="syncer@example.com"))
    return AlertEngine(
        cfg, StateStore(sqlite_url(tmp)), slack_connector(slack.api_url, slack.token, clock), email=email
    )


def _outbox(eng: AlertEngine, kind: str) -> str:
    with eng.engine.connect() as conn:
        return " ".join(str(p) for p in conn.scalars(sa.select(outbox.c.payload).where(outbox.c.kind == kind)))


def _printed(show: Any) -> str:
    """What a CLI helper prints (rich's console and print_table's plain one both write to standard output)."""
    capture = CAPSYS[0]
    capture.readouterr()
    show()
    return str(capture.readouterr().out)


def _plan(eng: AlertEngine) -> str:
    plan = eng.dry_run(T0, rows=[row(7, trigger="storage_limit_approaching", owner_email="ae1@example.com",
                                     owner_name="Sara Patel")])  # fmt: skip
    assert "U0AE1" in json.dumps(plan) and "Sara" not in json.dumps(plan)  # --json keeps ids
    return _printed(lambda: cli._print_plan(plan, eng.names()))


def _alerts_list(eng: AlertEngine) -> str:
    return " ".join(str(r.get("owner_name") or r.get("owner")) for r in eng.open_alerts(T0))


# surface -> (what it renders, text it must show with a zone configured, text it must show without)
SURFACES = {
    "slack ping footer": (lambda e: _outbox(e, "ping"), "1 Mar 2026, 19:00 EST", "2 Mar 2026, 00:00 UTC"),
    "alert email footer": (lambda e: _outbox(e, "email"), "Fired 1 Mar 2026, 19:00 EST", "Fired 2 Mar 2026, 00:00 UTC"),
    "digest --preview": (lambda e: _printed(lambda: cli._print_previews(e.preview_digest(), e.names())),
                         "digest for Sara Patel (U0AE1)", "digest for Sara Patel (U0AE1)"),
    "alerts run --dry-run": (_plan, "Sara Patel (U0AE1)", "Sara Patel (U0AE1)"),
    "ping budget table": (lambda e: _printed(lambda: cli._print_budget_use(e.budget_use(T0), e.names())),
                          "Omar Reyes (ae2@example.com)", "Omar Reyes (ae2@example.com)"),
    "alerts list owner": (_alerts_list, "Sara Patel", "Sara Patel"),  # the query's owner_name column lands in context
}  # fmt: skip


@pytest.mark.parametrize("zone", ["America/New_York", None])
@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_people_by_name_times_in_their_zone(
    tmp_path: Path, slack: SlackEmulator, fake: Clock, surface: str, zone: str | None, capsys: Any
) -> None:
    CAPSYS[:] = [capsys]
    eng = _engine(tmp_path, slack, fake, zone)
    rows = [
        row(1, owner_email="ae1@example.com", owner_name=NAMES["ae1@example.com"]),  # high: a ping
        row(2, owner_email=EMAILED, owner_name=NAMES[EMAILED]),  # high, by email
        row(3, trigger="storage_limit_approaching", owner_email="ae1@example.com", owner_name="Sara Patel"),
    ]
    eng.evaluate(rows, T0)
    render, zoned, utc = SURFACES[surface]
    text = render(eng)
    print(f"\n{surface} ({zone}): {text[:300]}")
    assert (zoned if zone else utc) in text, (surface, zone)
    if zone and surface.endswith("footer"):
        assert "UTC" not in text.replace("+00:00", ""), surface  # the person's zone, not UTC
    with eng.engine.connect() as conn:  # what is stored stays UTC ISO
        assert set(conn.scalars(sa.select(alerts.c.payload)).all()) and all(
            json.loads(p)["fired_at"] == "2026-03-02T00:00:00+00:00" for p in conn.scalars(sa.select(alerts.c.payload))
        )
