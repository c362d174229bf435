"""Every row in the model that is not in sync with the destination keeps the sync `out_of_sync`.

QA (issues 12/13): a HubSpot sync from DuckDB with a NaN score was rejected by the first run (exit 1),
then the second run said `status ok`, exit 0, with the row still missing from HubSpot. The same for
duplicate keys and colliding match values: only destination rejections were held as out of sync.
Whatever the reason, the second run reports `out_of_sync`, exit 1 and the count per reason (and
`plan` shows the same counts) until the row is fixed; then `ok`, exit 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from syncer_connectors.hubspot.emulator import HubSpotEmulator

from tests.engine.conftest import Project, hubspot_config

TOKEN = "hs-out-of-sync-token-5120"
MAPPING = """
connector = "hubspot"
object = "companies"
[model]
table = "accounts"
primary_key = "account_id"
[match]
field = "syncer_account_id"
column = "ext"
[fields]
name = "name"
score = "score"
"""

# reason -> (SQL that breaks account 1, SQL that fixes it, rows held back)
CASES = {
    "conversion": (  # NaN: no JSON number, no HubSpot decimal
        "UPDATE accounts SET score = 'NaN'::DOUBLE WHERE account_id = 1",
        "UPDATE accounts SET score = 1.5 WHERE account_id = 1",
        1,
    ),
    "duplicate_key": (
        "INSERT INTO accounts VALUES (1, 'A-9', 'Copy', 2.0)",
        "DELETE FROM accounts WHERE ext = 'A-9'",
        2,
    ),
    "match_collision": (  # account 1 takes account 2's match value: the destination would merge them
        "UPDATE accounts SET ext = 'A-2' WHERE account_id = 1",
        "UPDATE accounts SET ext = 'A-1' WHERE account_id = 1",
        2,
    ),
    "too_long": (  # HubSpot string properties hold at most 65,536 characters
        "UPDATE accounts SET name = repeat('x', 70000) WHERE account_id = 1",
        "UPDATE accounts SET name = 'Account 1' WHERE account_id = 1",
        1,
    ),
}


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Project, HubSpotEmulator]]:
    emu = HubSpotEmulator(plan="increase", token=TOKEN)
    emu.store.define("companies", "syncer_account_id", "string", unique=True)
    emu.store.define("companies", "name", "string")
    emu.store.define("companies", "score", "number")
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE accounts (account_id INTEGER, ext VARCHAR, name VARCHAR, score DOUBLE)"))
        for i in range(1, 4):
            conn.execute(sa.text(f"INSERT INTO accounts VALUES ({i}, 'A-{i}', 'Account {i}', {i}.5)"))
    engine.dispose()
    project = Project(tmp_path, url, env={"HS_TOKEN": TOKEN})
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "accounts.toml").write_text(MAPPING)
    project.config.write_text(hubspot_config(url, emu.start()))
    yield project, emu
    emu.stop()


def _sql(project: Project, statement: str) -> None:
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_held_row_keeps_the_sync_out_of_sync_until_fixed(project: tuple[Project, HubSpotEmulator], case: str) -> None:
    proj, emu = project
    breaks, fixes, held = CASES[case]
    assert proj.cli("run", "accounts")[0] == 0
    _sql(proj, breaks)
    code, first, err = proj.cli("run", "accounts", "--json")
    assert code == 1 and first["status"] == "partial", (first, err)  # rejected now
    code, second, err = proj.cli("run", "accounts", "--json")  # nothing new: the row is still held
    assert code == 1 and second["status"] == "out_of_sync", (second, err)
    assert sum(second["out_of_sync"].values()) == held and f"{held} records held back" in second["error"], second
    reason = next(iter(second["out_of_sync"]))
    assert second["out_of_sync"] == {reason: held}, second
    if case != "too_long":  # which side refuses a too-long string is the connector's business
        assert reason == case and first["out_of_sync"] == {reason: held}, (first, second)
    code, plan, err = proj.cli("plan", "accounts", "--json")
    assert code == 0 and plan["out_of_sync"] == {reason: held}, (plan, err)
    _sql(proj, fixes)
    code, fixed, err = proj.cli("run", "accounts", "--json")
    assert code == 0 and fixed["status"] == "ok" and fixed["out_of_sync"] == {}, (fixed, err)
    names = sorted(r.properties["name"] for r in emu.store.live("companies"))
    assert names == ["Account 1", "Account 2", "Account 3"], names
