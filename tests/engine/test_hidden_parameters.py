"""No warehouse or state value in an error: SQLAlchemy prints a failed statement's parameters (the
row's payload, keys, match values) under its message unless the engine hides them, and syncer's
internal-error path prints and stores that message (a run that failed on state's unique key showed
the payload in the terminal and in `runs`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncer.config import WarehouseConfig
from syncer.source import Source
from syncer.state import StateStore

VALUE = "payload-value-4417"
SRC = Path(__file__).resolve().parents[2] / "src" / "syncer"
EXEMPT = {"demo", "alerts/preview.py"}  # engines over syncer's own demo data and an in-memory preview


def _fails_with(engine: sa.Engine) -> str:
    with pytest.raises(sa.exc.DBAPIError) as caught, engine.connect() as conn:
        conn.execute(sa.text("INSERT INTO no_such_table VALUES (:v)"), {"v": VALUE})
    return str(caught.value)


@pytest.mark.parametrize("engine_of", ["state", "source"])
def test_a_failed_statement_names_no_parameter(engine_of: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    if engine_of == "state":
        store = StateStore(url)
        engine = store.engine
    else:
        (tmp_path / "db.sqlite").touch()  # a warehouse file must exist (an empty one is an empty SQLite database)
        engine = Source(WarehouseConfig(url=url), tmp_path).engine
    message = _fails_with(engine)
    assert "no_such_table" in message and VALUE not in message


def test_every_engine_syncer_opens_hides_parameters() -> None:
    """The kind, wherever an engine is made over the user's data: `hide_parameters=True`."""
    missing = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC).as_posix()
        if any(relative == e or relative.startswith(e + "/") for e in EXEMPT):
            continue
        text = path.read_text()
        for call in re.finditer(r"create_engine\((?:[^()]|\([^()]*\))*\)", text):
            if "hide_parameters=True" not in call.group(0):
                missing.append(f"{relative}: {call.group(0)[:60]}")
    assert missing == []
