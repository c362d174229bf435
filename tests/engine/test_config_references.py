"""`${NAME}` is resolved the same way in every section of config.toml, and every secret key is one
`${NAME}` with a real value (prodfix 1, 5, 6).

Repro: `[syncer] state_url = "postgresql+psycopg://u:${PGPW}@h/db"` sent the literal `${PGPW}` as the
password, and the k8s ConfigMap's `state_url = "${STATE_URL}"` crashed (exit 70, "could not parse URL");
`HOOK_SECRET=` signed every webhook with an empty key; a literal `[daemon] ops_alert_webhook` was
accepted, and `viewer_token = "${NAME}"` was refused as literal once load_config had resolved it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from syncer.config import SECTION_SECRETS, Config, _secret_fields, load_config
from syncer.config_reference import section_secrets
from syncer.config_schema import connector_types
from syncer.errors import ConfigError

BASE = '[warehouse]\nurl = "duckdb:///wh.duckdb"\n'


def _load(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Config:
    monkeypatch.setenv("SYNCER_SECRETS_DIR", str(tmp_path / "no-secrets"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "mappings").mkdir(exist_ok=True)
    (tmp_path / "config.toml").write_text(textwrap.dedent(text))
    return load_config(tmp_path / "config.toml")


def _daemon(config: Config) -> Any:
    from syncer.daemon.settings import load_settings

    return load_settings(config)


def _alerts(config: Config) -> Any:
    from syncer.alerts.model import load_alert_settings

    return load_alert_settings(config.raw)


# section text, environment, what the loaded config says, the value ${NAME} gave it
RESOLVED: dict[str, tuple[str, dict[str, str], Callable[[Config], Any], Any]] = {
    "syncer.state_url in a URL": (
        '[syncer]\nstate_url = "postgresql+psycopg://u:${PGPW}@h/db"\n' + BASE,
        {"PGPW": "pw-6c1e"},
        lambda c: c.state_url(),
        "postgresql+psycopg://u:pw-6c1e@h/db",
    ),
    "syncer.state_url whole (k8s)": (
        '[syncer]\nstate_url = "${STATE_URL}"\n' + BASE,
        {"STATE_URL": "sqlite:///x.sqlite"},
        lambda c: c.state_url(),
        "sqlite:///x.sqlite",
    ),
    "syncer.log_level": (
        '[syncer]\nlog_level = "${LEVEL}"\n' + BASE,
        {"LEVEL": "debug"},
        lambda c: c.app.log_level,
        "debug",
    ),
    "syncer.data_dir": (
        '[syncer]\ndata_dir = "${DATA}"\n' + BASE,
        {"DATA": "/var/x"},
        lambda c: str(c.app.data_dir),
        "/var/x",
    ),
    "warehouse.url": (
        '[warehouse]\nurl = "${WH}"\n',
        {"WH": "duckdb:///a.duckdb"},
        lambda c: c.warehouse.url,
        "duckdb:///a.duckdb",
    ),
    "scoring.dau_baseline_days": (
        BASE + '[scoring]\ndau_baseline_days = "${DAYS}"\n',
        {"DAYS": "21"},
        lambda c: c.scoring.dau_baseline_days,
        21,
    ),
    "daemon.port": (BASE + '[daemon]\nport = "${PORT}"\n', {"PORT": "9200"}, lambda c: _daemon(c).port, 9200),
    "daemon.host": (
        BASE + '[daemon]\nhost = "${HOST}"\n',
        {"HOST": "127.0.0.1"},
        lambda c: _daemon(c).host,
        "127.0.0.1",
    ),
    "daemon.viewer_token": (
        BASE + '[daemon]\nviewer_token = "${VIEWER}"\n',
        {"VIEWER": "view-8d1"},
        lambda c: _daemon(c).viewer_token,
        "view-8d1",
    ),
    "daemon.ops_alert_webhook": (
        BASE + '[daemon]\nops_alert_webhook = "${HOOK}"\n',
        {"HOOK": "https://h.example/ops?t=1"},
        lambda c: _daemon(c).ops_alert_webhook,
        "https://h.example/ops?t=1",
    ),
    "digest.timezone": (
        BASE + '[digest]\ntimezone = "${TZ_NAME}"\n',
        {"TZ_NAME": "Europe/Berlin"},
        lambda c: _alerts(c).digest.timezone,
        "Europe/Berlin",
    ),
    "alerts.cooldown_days": (
        BASE + '[alerts]\ncooldown_days = "${COOL}"\n',
        {"COOL": "3"},
        lambda c: _alerts(c).alerts.cooldown_days,
        3.0,
    ),
    "connectors.mail.host": (
        BASE + '[connectors.mail]\ntype = "email"\nhost = "${SMTP}"\nfrom_address = "a@example.com"\n',
        {"SMTP": "smtp.internal"},
        lambda c: c.connectors["mail"].settings.host,
        "smtp.internal",
    ),
    "connectors.mail.password": (
        BASE + '[connectors.mail]\ntype = "email"\nhost = "h"\nfrom_address = "a@example.com"\nusername = "u"\n'
        'password = "${SMTP_PW}"\n',
        {"SMTP_PW": "smtp-pw-1"},
        lambda c: c.connectors["mail"].settings.password.get_secret_value(),
        "smtp-pw-1",
    ),
}


@pytest.mark.parametrize(("text", "env", "read", "expected"), RESOLVED.values(), ids=list(RESOLVED))
def test_every_section_resolves_references(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    env: dict[str, str],
    read: Callable[[Config], Any],
    expected: Any,
) -> None:
    assert read(_load(tmp_path, text, monkeypatch, env)) == expected


def _every_secret_key() -> list[tuple[str, str]]:
    """(config.toml text up to the key, dotted key) for every secret: each connector type's and each section's."""
    keys = [
        (f'[connectors.{kind}]\ntype = "{kind}"\n{field} = ', f"connectors.{kind}.{field}")
        for kind, model in connector_types().items()
        for field in sorted(_secret_fields(model))
    ]
    for key in sorted(section_secrets()):
        section, leaf = key.rsplit(".", 1)
        assert "*" not in section, f"{key}: add a case for a secret under a named table"
        keys.append((f"[{section}]\n{leaf} = ", key))
    return keys


SECRET_KEYS = _every_secret_key()
# the value written, the environment, what the one issue naming the key says (None: accepted)
SECRET_VALUES = {
    "literal": ('"hunter2-literal"', {}, "secrets may not be written in TOML"),
    "default form": ('"${S:-fallback-1}"', {}, "a secret takes no default: write"),
    "empty default": ('"${S:-}"', {}, "takes no default: write"),
    "unset": ('"${S}"', {}, "${S} is not set"),
    "empty": ('"${S}"', {"S": ""}, "${S} is set but empty"),
    "blank": ('"${S}"', {"S": "  "}, "${S} is set but empty"),
    "short": ('"${S}"', {"S": "ab1"}, "a secret shorter than 4"),
    "a real one": ('"${S}"', {"S": "https://hooks.example/ok?token=tok-77"}, None),
}


@pytest.mark.parametrize(("head", "key"), SECRET_KEYS, ids=[k for _, k in SECRET_KEYS])
@pytest.mark.parametrize(("value", "env", "expected"), SECRET_VALUES.values(), ids=list(SECRET_VALUES))
def test_every_secret_key_is_one_reference_with_a_value(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    head: str,
    key: str,
    value: str,
    env: dict[str, str],
    expected: str | None,
) -> None:
    monkeypatch.delenv("S", raising=False)
    try:
        _load(tmp_path, BASE + head + value + "\n", monkeypatch, env)
        issues = []
    except ConfigError as exc:
        issues = [i.message for i in exc.issues if i.key == key]
        assert "hunter2-literal" not in str(exc) and "fallback-1" not in str(exc)
    if expected is None:
        assert issues == []
    else:
        assert len(issues) == 1 and expected in issues[0], issues


def test_the_secret_keys_are_the_documented_ones() -> None:
    """docs/reference marks each secret (regenerated by `make docs`): the ops webhook URL is one."""
    assert section_secrets() == SECTION_SECRETS  # the loader refuses a literal value of each secret the models mark
    assert {"daemon.viewer_token", "daemon.ops_alert_webhook"} <= SECTION_SECRETS
    reference = (Path(__file__).resolve().parents[2] / "docs" / "reference" / "daemon.md").read_text()
    for key in ("daemon.viewer_token", "daemon.ops_alert_webhook"):
        row = next(line for line in reference.splitlines() if line.startswith(f"| `{key}` |"))
        assert "| yes |" in row, row


def _syncer(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "SYNCER_SECRETS_DIR": str(cwd / "secrets"), **env}
    return subprocess.run(
        [sys.executable, "-m", "syncer", *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=120
    )


def test_documented_state_url_forms_as_a_user_runs_them(tmp_path: Path, pg_url: str) -> None:
    """The k8s ConfigMap's `state_url = "${STATE_URL}"` (the URL in the Secret, a file in /run/secrets) and
    a reference inside the URL (docker-compose, config.example.toml), as processes: `syncer runs` opens the
    state DB at the resolved URL."""
    (tmp_path / "mappings").mkdir()
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "STATE_URL").write_text(pg_url + "\n")  # how Kubernetes mounts the Secret
    config = tmp_path / "config.toml"
    config.write_text('[syncer]\nstate_url = "${STATE_URL}"\n' + BASE)
    done = _syncer(tmp_path, {}, "runs", "--config", str(config), "--json")
    assert done.returncode == 0, done.stderr
    engine = sa.create_engine(pg_url)
    try:
        assert "runs" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()

    config.write_text('[syncer]\nstate_url = "sqlite:///${STATE_DIR}/state.sqlite"\n' + BASE)
    (tmp_path / "state").mkdir()
    done = _syncer(tmp_path, {"STATE_DIR": str(tmp_path / "state")}, "runs", "--config", str(config), "--json")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "state" / "state.sqlite").is_file()

    done = _syncer(tmp_path, {"STATE_DIR": ""}, "runs", "--config", str(config), "--json")
    assert done.returncode == 2 and "syncer.state_url: ${STATE_DIR} is set but empty" in done.stderr, done.stderr
