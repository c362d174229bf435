"""Only secrets are masked: values of ${NAME} in secret fields and URL passwords; a base URL or host is not.

Repro: the demo's SMTP_HOST=127.0.0.1 came from ${SMTP_HOST}, so every message naming 127.0.0.1 showed
`host='***'` (a Salesforce URL included), though an address is no secret. And (leftovers4 #3) a literal
`?sslmode=disable` in a state_url holding `${PASSWORD}` was shown as `sslmode=***`: every query value of a URL
with any `${NAME}` in it was masked, so "disable" was masked in every message; only a query value that came
from `${NAME}` is a secret.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from syncer.config import load_config
from syncer.secrets import mask

CONFIG = """
[syncer]
data_dir = "data"
state_url = "postgresql+psycopg://syncer:${STATE_PW}@state.internal:5432/syncer?sslmode=disable&application_name=syncer-app"
[warehouse]
url = "${WH_URL}"
[connectors.hs]
type = "hubspot"
base_url = "${HS_BASE}"
access_token = "${HS_TOKEN}"
[connectors.mail]
type = "email"
host = "${MAIL_HOST}"
port = "${MAIL_PORT}"
username = "${MAIL_USER}"
password = "${MAIL_PASSWORD}"
from_address = "a@example.com"
[connectors.hook]
type = "webhook"
url = "https://hooks.internal/in?token=${HOOK_TOKEN}&team=acme-team&v=${HOOK_V}"
signing_secret = "${HOOK_SIGNING}"
[connectors.hook2]
type = "webhook"
url = "${HOOK2_URL}"
signing_secret = "${HOOK_SIGNING}"
[daemon]
viewer_token = "${VIEWER}"
"""
ENV = {
    "WH_URL": "postgresql+psycopg://syncer:wh-pass-7781@db.internal:5432/syncer",
    "HS_BASE": "http://127.0.0.1:46531",
    "HS_TOKEN": "pat-na1-secret-0042",
    "MAIL_HOST": "smtp.internal",
    "MAIL_PORT": "2525",
    "MAIL_USER": "alerts-user",
    "MAIL_PASSWORD": "mail-pass-9911",
    "VIEWER": "viewer-token-5150",
    "STATE_PW": "state-pass-3141",
    "HOOK_TOKEN": "hook-token-2718",
    "HOOK_V": "ab",
    "HOOK_SIGNING": "whsec-hook-1618",
    "HOOK2_URL": "https://hooks2.internal/in?key=hook2-key-1414&mode=batch",
}
# value -> masked? (the rule in syncer.secrets)
CASES = {
    "pat-na1-secret-0042": True,  # a SecretStr field's ${NAME}
    "mail-pass-9911": True,
    "viewer-token-5150": True,  # an x-secret field of [daemon]
    "wh-pass-7781": True,  # the password of a URL setting
    "http://127.0.0.1:46531": False,  # a base URL from ${NAME}
    "smtp.internal": False,  # a host
    "2525": False,
    "alerts-user": False,  # a user name is no secret
    "db.internal:5432": False,  # the rest of the warehouse URL
    "state-pass-3141": True,  # the password of the state URL
    "hook-token-2718": True,  # a query value written as ${NAME}
    "hook2-key-1414": True,  # a query value of a URL that came whole from ${NAME} (the URL is the credential)
    "disable": False,  # a query value written in config.toml (leftovers4 #3)
    "sslmode=disable": False,
    "syncer-app": False,
    "acme-team": False,
    "team=acme-team": False,
}


@pytest.mark.parametrize(("value", "masked"), CASES.items(), ids=list(CASES))
def test_only_secret_values_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, masked: bool
) -> None:
    for name, env_value in ENV.items():
        monkeypatch.setenv(name, env_value)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "config.toml").write_text(textwrap.dedent(CONFIG))
    mask.clear()
    load_config(tmp_path / "config.toml")
    shown = mask(f"at {value}.")
    assert (value not in shown and "***" in shown) is masked, shown
    assert masked or shown == f"at {value}.", shown


def test_a_literal_query_value_of_the_state_url_is_shown_as_written(tmp_path: Path) -> None:
    """leftovers4 #3 as the user met it: `syncer status` with an unreachable PostgreSQL state_url names the URL
    with its password masked and its literal `?sslmode=disable` as written (was `sslmode=***`)."""
    import os
    import subprocess
    import sys

    (tmp_path / "mappings").mkdir()
    (tmp_path / "config.toml").write_text(
        textwrap.dedent("""
        [syncer]
        state_url = "postgresql+psycopg://syncer:${STATE_PW}@127.0.0.1:1/syncer?sslmode=disable"
        [warehouse]
        url = "sqlite:///warehouse.sqlite"
        """)
    )
    env = {**os.environ, "STATE_PW": ENV["STATE_PW"], "SYNCER_CONFIG": str(tmp_path / "config.toml")}
    proc = subprocess.run(
        [sys.executable, "-m", "syncer", "status"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert "syncer:***@127.0.0.1:1/syncer?sslmode=disable" in " ".join(proc.stderr.split()), proc.stderr
    assert ENV["STATE_PW"] not in proc.stderr and "Traceback" not in proc.stderr
