"""Only secrets are masked: values of ${NAME} in secret fields and URL passwords; a base URL or host is not.

Repro: the demo's SMTP_HOST=127.0.0.1 came from ${SMTP_HOST}, so every message naming 127.0.0.1 showed
`host='***'` (a Salesforce URL included), though an address is no secret.
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
    assert (mask(f"at {value}.") == "at ***.") is masked, mask(f"at {value}.")
