"""Output that fits: tables wrap to the terminal (never `…`), piped output is plain and never cut at 80
columns, and text is printed as itself (ü, not \\u00fc). Real processes, so rich sees a real pipe."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import SECRET, Project


def _syncer(project: Project, *args: str, terminal_columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOOK_SECRET": SECRET, "SYNCER_CONFIG": str(project.config)}
    env.pop("COLUMNS", None)
    if terminal_columns:  # rich treats the output as a terminal this wide
        env.update(TTY_COMPATIBLE="1", COLUMNS=str(terminal_columns), NO_COLOR="1")
    syncer = str(Path(sys.executable).parent / "syncer")
    return subprocess.run([syncer, *args], env=env, capture_output=True, text=True, timeout=120)


def _long_names(project: Project) -> None:
    """A long sync name and a non-ASCII name, so a squeezed table would have to cut something."""
    mapping = project.root / "mappings" / "accounts.toml"
    mapping.rename(project.root / "mappings" / "hubspot_companies_enterprise_segment.toml")
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE accounts SET name = 'Müller Größe' WHERE account_id = 1"))
    engine.dispose()


def test_runs_and_audit_fit_a_100_column_terminal_and_a_pipe(project: Project, receiver: WebhookReceiver) -> None:
    _long_names(project)
    sync = "hubspot_companies_enterprise_segment"
    assert _syncer(project, "run", sync).returncode == 0
    for args in (("runs",), ("audit", sync, "--key", "1")):
        wide = _syncer(project, *args, terminal_columns=100)
        assert wide.returncode == 0, wide.stderr
        shown = re.sub(r"\x1b\[[0-9;]*m", "", wide.stdout)  # without the terminal's bold/colour codes
        assert "…" not in shown, shown
        assert max(len(line) for line in shown.splitlines()) <= 100, shown
        piped = _syncer(project, *args)
        assert piped.returncode == 0 and "…" not in piped.stdout, piped.stdout
        assert not any(ch in piped.stdout for ch in "┃━│─"), piped.stdout  # plain text, no box drawing
    piped = _syncer(project, "runs").stdout
    header, row = piped.splitlines()[0], piped.splitlines()[1]
    assert sync in row and "300" in row and header.split()[:2] == ["run", "sync"], piped
    assert len(row) > 80  # one line per run, as wide as it needs
    audit = _syncer(project, "audit", sync, "--key", "1").stdout
    assert "Müller Größe" in audit and "\\u00fc" not in audit, audit


def test_json_prints_text_as_itself(project: Project, receiver: WebhookReceiver) -> None:
    _long_names(project)
    result = _syncer(project, "plan", "hubspot_companies_enterprise_segment", "--show", "1", "--json")
    assert result.returncode == 0, result.stderr
    assert "Müller Größe" in result.stdout and "\\u00fc" not in result.stdout
    assert json.loads(result.stdout)["samples"][0]["fields"]["name"] == "Müller Größe"


def test_every_table_goes_through_print_table() -> None:
    """The kind behind the demo's `chang…` headers: a rich Table printed directly is cut at 80 columns when
    piped. Every table in src/syncer must be printed by `syncer.tables.print_table`."""
    src = Path(__file__).resolve().parents[2] / "src" / "syncer"
    direct = [
        f"{path.relative_to(src)}:{number}: {line.strip()}"
        for path in sorted(src.rglob("*.py"))
        if path.name != "tables.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.print\(\s*table\b", line)
    ]
    assert not direct, "print tables with syncer.tables.print_table:\n" + "\n".join(direct)
