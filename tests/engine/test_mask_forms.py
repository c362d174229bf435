"""A secret is masked in every form output can give it, on every channel (prodfix 2).

Repro: a token in a webhook URL's query string (`url = "${HOOK_URL}"`) came back in the receiver's
error body and was printed by `run --json`, `runs`, `audit`, the logs and state; a secret with `"` or
`\\` echoed JSON-escaped was not masked (and the JSON log masked after json.dumps had escaped it);
`postgresql://u:pw@h/db` kept its 2-character password.
"""

from __future__ import annotations

import html
import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from syncer.config import load_config
from syncer.secrets import mask

SIGNING = 'whsec"q\\x-77aa'  # a quote and a backslash: JSON escapes both
TOKEN = 'tok"q\\51c9-x'
SHORT = "ab"  # a short query value: masked where it stands as v=ab
HOOK_URL = f"http://127.0.0.1:9/hook?token={quote(TOKEN, safe='')}&v={SHORT}"
WAREHOUSE = "postgresql+psycopg://u:pw@db.internal/wh"  # a 2-character password


def _leaks(secret: str) -> list[str]:
    """The texts that would give `secret` away."""
    return [secret, json.dumps(secret)[1:-1], quote(secret, safe="")]


NEEDLES = [*_leaks(SIGNING), *_leaks(TOKEN), f"v={SHORT}", "u:pw@"]

# a form -> the text an API error, a driver or a log message carries
FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: f"denied for {s} here",
    "json-escaped": lambda s: json.dumps({"message": f"bad auth {s}"}),
    "json twice": lambda s: json.dumps(json.dumps({"message": s})),
    "url-encoded": lambda s: f"GET /hook?token={quote(s, safe='')} -> 400",
    "url-encoded lower hex": lambda s: f"/hook?token={quote(s, safe='').lower()}",
    "html": lambda s: f"<p>{html.escape(s)}</p>",
    "python repr": lambda s: f"detail={s!r}",
}
SECRETS = {"signing secret": SIGNING, "query token": TOKEN}
OTHERS = {
    "short query value": f"POST {HOOK_URL} failed",
    "short URL password": f"cannot connect to {WAREHOUSE}: refused",
    "URL password JSON-escaped": json.dumps({"url": WAREHOUSE}),
}


def _text_log(text: str) -> str:
    from syncer.logs import TextFormatter

    return TextFormatter().format(logging.makeLogRecord({"msg": "%s", "args": (text,), "levelname": "ERROR"}))


def _json_log(text: str) -> str:
    """The daemon's JSON log line, the text in the message and in an extra field."""
    from syncer.logs import JsonFormatter

    record = logging.makeLogRecord({"msg": "%s", "args": (text,), "levelname": "ERROR", "detail": {"body": text}})
    line = JsonFormatter().format(record)
    json.loads(line)  # still one JSON object
    return line


def _ops_alert_line(text: str) -> str:
    """The ops-alert log line (LogNotifier, no webhook or Slack configured), as the daemon's JSON log prints it."""
    from syncer.logs import JsonFormatter
    from syncer.ops_alerts import LogNotifier

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        from syncer.ops_alerts import OpsAlert

        LogNotifier().notify(OpsAlert("accounts", "failed", "firing", f"sync accounts failed: {text}"))
    finally:
        root.removeHandler(handler)
    assert records
    return "\n".join(JsonFormatter().format(r) for r in records)


def _cli_json(text: str) -> str:
    from syncer.cli.base import _print_json

    out = io.StringIO()
    with redirect_stdout(out):
        _print_json({"error": text, "nested": [{"reason": text}]})
    json.loads(out.getvalue())
    return out.getvalue()


def _state_payload(text: str) -> str:
    from syncer.state import _dumps

    return _dumps({"field": text}) or ""


CHANNELS: dict[str, Callable[[str], str]] = {
    "error message": mask,
    "text log": _text_log,
    "JSON log": _json_log,
    "ops-alert log line": _ops_alert_line,
    "--json output": _cli_json,
    "state payload": _state_payload,
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The secrets known the way a command knows them: load_config resolved their ${NAME}."""
    root = tmp_path_factory.mktemp("forms")
    (root / "mappings").mkdir()
    (root / "config.toml").write_text(
        textwrap.dedent("""
        [warehouse]
        url = "${WH_URL}"
        [connectors.hook]
        type = "webhook"
        url = "${HOOK_URL}"
        signing_secret = "${HOOK_SECRET}"
        """)
    )
    saved = {k: os.environ.get(k) for k in ("WH_URL", "HOOK_URL", "HOOK_SECRET")}
    os.environ.update(WH_URL=WAREHOUSE, HOOK_URL=HOOK_URL, HOOK_SECRET=SIGNING)
    mask.clear()
    load_config(root / "config.toml")
    yield
    mask.clear()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


CASES = [(f"{s} {f}", form(secret)) for s, secret in SECRETS.items() for f, form in FORMS.items()] + list(
    OTHERS.items()
)


@pytest.mark.parametrize("channel", CHANNELS.values(), ids=list(CHANNELS))
@pytest.mark.parametrize("text", [t for _, t in CASES], ids=[n for n, _ in CASES])
def test_every_channel_masks_every_form(loaded: None, channel: Callable[[str], str], text: str) -> None:
    out = channel(text)
    leaked = [n for n in NEEDLES if n in out]
    assert not leaked, f"{leaked} in {out}"
    assert "***" in out


def test_ordinary_text_stays_as_it_is(loaded: None) -> None:
    """Masking by form and by URL shape does not mangle what is no secret."""
    text = "GET https://api.example.com/v1?limit=100&v=abc 200 · postgresql://u@h/db · ab cd v=ab"
    assert mask(text) == text


class _Echo(BaseHTTPRequestHandler):
    """A receiver that refuses every batch with a 400 echoing the request path and the query token
    (JSON-escaped), as APIs that quote the request in their error body do."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        token = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
        body = json.dumps({"error": "bad request", "url": self.path, "token": token}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_token_echoed_by_the_destination_is_masked_everywhere_a_user_looks(tmp_path: Path) -> None:
    """As processes: `run --json` (stdout and its JSON log on stderr), `runs --json`, `audit --json`, and
    every byte of the state DB."""
    from tests.engine.conftest import MAPPING, create_accounts

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        warehouse = f"sqlite:///{tmp_path / 'wh.sqlite'}"
        create_accounts(warehouse, 3)
        (tmp_path / "mappings").mkdir()
        (tmp_path / "mappings" / "accounts.toml").write_text(MAPPING.format(mode="upsert"))
        (tmp_path / "config.toml").write_text(
            textwrap.dedent(f"""
            [syncer]
            data_dir = "data"
            log_format = "json"
            log_level = "debug"
            [warehouse]
            url = "{warehouse}"
            [connectors.hook]
            type = "webhook"
            url = "${{HOOK_URL}}"
            signing_secret = "${{HOOK_SECRET}}"
            """)
        )
        env = {
            **os.environ,
            "HOOK_URL": HOOK_URL.replace("127.0.0.1:9", f"127.0.0.1:{server.server_address[1]}"),
            "HOOK_SECRET": SIGNING,
            "SYNCER_CONFIG": str(tmp_path / "config.toml"),
        }
        outputs = []
        for args in (["run", "accounts", "--json"], ["runs", "--json"], ["audit", "accounts", "--json"]):
            done = subprocess.run(
                [sys.executable, "-m", "syncer", *args], env=env, capture_output=True, text=True, timeout=120
            )
            outputs.append(f"$ {args} -> {done.returncode}\n{done.stdout}\n{done.stderr}")
        transcript = "\n".join(outputs)
        assert "-> 70" not in transcript and "400" in transcript, transcript  # the echo came back and was shown
        db = sqlite3.connect(tmp_path / "data" / "state.sqlite")
        try:
            tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            state = "\n".join(f"{t}: {row!r}" for t in tables for row in db.execute(f'SELECT * FROM "{t}"'))
        finally:
            db.close()
        for where, text in (("output", transcript), ("state", state)):
            leaked = [n for n in NEEDLES if n in text]
            assert not leaked, f"{leaked} leaked in {where}:\n{text}"
    finally:
        server.shutdown()
        server.server_close()
