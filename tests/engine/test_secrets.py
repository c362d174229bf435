"""No secret leaks: run syncer with known secret values (from the environment, from a secrets file,
inside a warehouse URL) through success and failure, then grep everything it wrote: every log line
in JSON and text, every error, the JSON of run/runs/audit, and every byte of the state database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import SECRET, Project

FILE_TOKEN = "tok-file-9d2b61c4e7"
WH_PASSWORD = "pw-warehouse-51f0ce9a"
WRONG_SECRET = "whsec-wrong-77aa01bd"


@pytest.fixture(scope="module")
def shared_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as rx:
        yield rx


@pytest.fixture
def receiver(shared_receiver: WebhookReceiver) -> WebhookReceiver:
    rx = shared_receiver
    with rx.lock:
        rx.records.clear()
        rx.applied.clear()
        rx.requests.clear()
    return rx


class Transcript:
    """Everything the CLI printed, per command, to grep afterwards."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.parts: list[str] = []

    def cli(self, *args: str) -> tuple[int, object, str]:
        code, out, err = self.project.cli(*args)
        self.parts.append(f"$ syncer {' '.join(args)} -> {code}\n{out}\n{err}")
        return code, out, err

    def text(self) -> str:
        return "\n".join(self.parts)


def state_dump(project: Project) -> str:
    """Every row of every table in the state DB, plus the raw bytes of every file in data/."""
    data = project.root / "data"
    db = sqlite3.connect(data / "state.sqlite")
    try:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"runs", "audit", "synced_records", "rejected_records"} <= set(tables), tables
        rows = [f"{t}: {row!r}" for t in tables for row in db.execute(f'SELECT * FROM "{t}"')]
    finally:
        db.close()
    raw = [p.read_bytes().decode("latin-1") for p in sorted(data.iterdir()) if p.is_file()]
    return "\n".join(rows + raw)


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"secret {secret[:6]}... leaked:\n" + "\n".join(
            line for line in text.splitlines() if secret in line
        )


def configure(project: Project, log_format: str, url_query: str = "") -> None:
    project.write()
    text = project.config.read_text()
    # a named project: the warehouse URLs below change, the project stays (syncer.ownership)
    text = text.replace(
        'data_dir = "data"', f'data_dir = "data"\nlog_format = "{log_format}"\nlog_level = "debug"\nproject = "secrets"'
    )
    text = text.replace(f'url = "{project.hook_url}"', f'url = "{project.hook_url}{url_query}"')
    project.config.write_text(text)


def set_warehouse(project: Project, url: str) -> None:
    text = project.config.read_text()
    project.config.write_text(text.replace(f'url = "{project.warehouse_url}"', f'url = "{url}"'))


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_no_secret_in_logs_errors_outputs_or_state(
    project: Project, receiver: WebhookReceiver, tmp_path: Path, log_format: str
) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "HOOK_TOKEN").write_text(FILE_TOKEN + "\n")
    project.env.update(SYNCER_SECRETS_DIR=str(secrets_dir), WH_PASSWORD=WH_PASSWORD)
    configure(project, log_format, url_query="?token=${HOOK_TOKEN}")
    t = Transcript(project)

    # A good run: the signing secret from the environment, a URL token from the secrets file.
    code, run, err = t.cli("run", "accounts", "--json")
    assert code == 0 and isinstance(run, dict) and run["succeeded"] == 300, (run, err)
    assert len(receiver.records) == 300  # the secrets were really used: the receiver verified the signature
    assert err.strip(), "debug logging produced no log line: nothing was checked"
    # The read-only commands.
    t.cli("plan", "accounts", "--show", "5", "--json")
    t.cli("runs", "--json")
    t.cli("audit", "accounts", "--json", "--limit", "1000")
    t.cli("check")

    # The destination refuses the signature: a fatal error (exit 2: credentials to fix) naming the webhook URL.
    project.env["HOOK_SECRET"] = WRONG_SECRET
    code, failed, err = t.cli("run", "accounts", "--json", "--full")
    assert code == 2 and isinstance(failed, dict) and failed["status"] == "failed", (failed, err)
    t.cli("check")
    project.env["HOOK_SECRET"] = SECRET

    # The warehouse password inside a PostgreSQL URL: unreachable, then an unknown dialect.
    for url in (
        "postgresql+psycopg://syncer:${WH_PASSWORD}@127.0.0.1:1/analytics",
        "nosuchdb://syncer:${WH_PASSWORD}@127.0.0.1:1/analytics",
    ):
        configure(project, log_format, url_query="?token=${HOOK_TOKEN}")
        set_warehouse(project, url)
        code, out, err = t.cli("run", "accounts", "--json")
        assert code != 0 and isinstance(out, dict) and out["status"] == "failed" and out["error"], (out, err)
        assert code in (1, 2)
        t.cli("plan", "accounts", "--json")
        t.cli("check")
        t.cli("runs", "--json")

    transcript = t.text()
    assert "Traceback" not in transcript
    assert "unknown warehouse dialect 'nosuchdb'" in transcript  # the error reached the user, not the URL's password
    assert_no_secret(transcript, SECRET, FILE_TOKEN, WH_PASSWORD, WRONG_SECRET)
    assert_no_secret(state_dump(project), SECRET, FILE_TOKEN, WH_PASSWORD, WRONG_SECRET)


def test_a_secret_value_turning_up_in_warehouse_data_is_masked_in_audit_and_state(
    project: Project, receiver: WebhookReceiver
) -> None:
    """Even a secret that turns up in warehouse data is masked in the audit trail and in `audit`."""
    engine = sa.create_engine(project.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE accounts SET name = :s WHERE account_id = 1"), {"s": f"leak {SECRET} here"})
    engine.dispose()
    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 0, (run, err)
    code, audit, _ = project.cli("audit", "accounts", "--key", "1", "--json")
    assert audit and "leak *** here" in audit[0]["payload"], audit
    assert_no_secret(f"{run}{err}{audit}", SECRET)
    assert_no_secret(state_dump(project), SECRET)


@pytest.mark.parametrize(
    ("reference", "environment", "resolved", "masked"),
    [
        ("${TOKEN}", {"TOKEN": "tok-9f3a77"}, "tok-9f3a77", True),  # a secret: no default
        ("${RATE:-1.0}", {"RATE": "1000"}, "1000", False),  # a setting: the demo's rate masked every '1000'
        ("${RATE:-1.0}", {}, "1.0", False),  # the default written in the TOML
        ("https://${HOST:-api.example.com}/v1", {"HOST": "10.0.0.7:8443"}, "https://10.0.0.7:8443/v1", False),
    ],
)
def test_only_a_secret_reference_is_masked(
    reference: str, environment: dict[str, str], resolved: str, masked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncer.secrets import MASK, mask, resolve

    mask.clear()
    for name in ("TOKEN", "RATE", "HOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    text, missing = resolve(reference)
    assert (text, missing) == (resolved, [])
    row = f"account acc_00{resolved}0 · {resolved}"
    assert (mask(row) != row) is masked
    if masked:
        assert resolved not in mask(row) and MASK in mask(row)
    mask.clear()
