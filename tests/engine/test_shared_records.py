"""Every way two syncs of one project can address the same destination records, as config validation sees it
(syncer.shared_records): same connector type and address, same object, same identity (match field, webhook
record key; tasks are keyed per sync and project, so they never collide). A pair that would lose data is one config
error naming both mapping files; a pair at another place, object or identity, or writing disjoint fields by upsert
to a CRM, or declared, loads."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from syncer.config import load_config
from syncer.errors import ConfigError

CONNECTORS = """
[connectors.hubspot]
base_url = "http://127.0.0.1:18901"
access_token = "${TOK}"
[connectors.hubspot_again]
type = "hubspot"
base_url = "HTTP://127.0.0.1:18901/"
access_token = "${TOK}"
[connectors.hubspot_other]
type = "hubspot"
base_url = "http://127.0.0.1:18902"
access_token = "${TOK}"
[connectors.salesforce]
instance_url = "https://sf.example.com"
auth = "session"
session_id = "${TOK}"
[connectors.hook]
type = "webhook"
url = "http://127.0.0.1:18903/hooks"
signing_secret = "${TOK}"
[connectors.slack]
bot_token = "${TOK}"
"""


def mapping(
    connector: str = "hubspot",
    object: str = "companies",
    mode: str = "upsert",
    match: str = "product_account_id",
    fields: str = 'name = "name"',
    extra: str = "",
) -> str:
    return textwrap.dedent(f"""
        connector = "{connector}"
        object = "{object}"
        mode = "{mode}"
        {extra}
        [model]
        table = "t"
        primary_key = "id"
        [match]
        field = "{match}"
        column = "id"
        [fields]
        {fields}
        """)


CRM_TASK = 'hs_task_subject = "name"'
SF_TASK = 'Subject = "name"'
CASES = [
    # id, mapping a, mapping b, refused
    ("F10 hubspot mirrors", mapping(mode="mirror"), mapping(mode="mirror"), True),
    ("mirror and upsert, disjoint fields", mapping(mode="mirror"), mapping(fields='description = "d"'), True),
    ("upserts writing one field", mapping(), mapping(), True),
    ("update and upsert writing one field", mapping(mode="update"), mapping(), True),
    ("insert and upsert", mapping(mode="insert"), mapping(fields='description = "d"'), True),
    ("upserts, disjoint fields", mapping(), mapping(fields='description = "d"'), False),
    ("same address, another connector name", mapping(mode="mirror"), mapping("hubspot_again", mode="mirror"), True),
    ("another address", mapping(mode="mirror"), mapping("hubspot_other", mode="mirror"), False),
    ("another object", mapping(mode="mirror"), mapping(object="contacts", mode="mirror"), False),
    ("another match field", mapping(mode="mirror"), mapping(match="domain_key", mode="mirror"), False),
    ("object and field in other case", mapping(), mapping(object="Companies", match="Product_Account_Id"), True),
    (
        "declared sharing",
        mapping(mode="mirror", extra='shares_records_with = ["b"]'),
        mapping(mode="mirror"),
        False,
    ),
    (
        "salesforce accounts",
        mapping("salesforce", "Account", "mirror", "Ext__c", 'Name = "name"'),
        mapping("salesforce", "account", "upsert", "ext__c", 'Score__c = "s"'),
        True,
    ),
    (
        "hubspot tasks (keyed per sync)",
        mapping(object="tasks", mode="insert", fields=CRM_TASK),
        mapping(object="tasks", mode="insert", fields=CRM_TASK),
        False,
    ),
    (
        "salesforce tasks (keyed per sync)",
        mapping("salesforce", "Task", "insert", "Ext__c", SF_TASK),
        mapping("salesforce", "Task", "insert", "Ext__c", SF_TASK),
        False,
    ),
    ("webhook mirrors by key", mapping("hook", "accounts", "mirror"), mapping("hook", "accounts", "mirror", "x"), True),
    (
        "webhook upserts, disjoint fields (the receiver replaces records)",
        mapping("hook", "accounts"),
        mapping("hook", "accounts", fields='description = "d"'),
        True,
    ),
    ("webhook, other objects", mapping("hook", "accounts", "mirror"), mapping("hook", "leads", "mirror"), False),
    (
        "slack messages are not records",
        mapping("slack", "message", "insert", "channel", 'channel = "c"\ntext = "t"'),
        mapping("slack", "message", "insert", "channel", 'channel = "c"\ntext = "t"'),
        False,
    ),
]


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOK", "tok-long-enough")


def _load(tmp_path: Path, a: str, b: str) -> list[tuple[str, str, str]]:
    (tmp_path / "config.toml").write_text(f'[warehouse]\nurl = "sqlite:///{tmp_path / "w.db"}"\n{CONNECTORS}')
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "a.toml").write_text(a)
    (tmp_path / "mappings" / "b.toml").write_text(b)
    try:
        load_config(tmp_path / "config.toml")
    except ConfigError as exc:
        return [(i.file, i.key, i.message) for i in exc.issues]
    return []


@pytest.mark.parametrize(("a", "b", "refused"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_two_syncs_addressing_one_record(tmp_path: Path, a: str, b: str, refused: bool) -> None:
    issues = _load(tmp_path, a, b)
    if not refused:
        assert issues == []
        return
    assert len(issues) == 1, issues
    file, key, message = issues[0]
    assert file.endswith("b.toml") and key == "match.field", issues
    assert "a.toml" in message and "shares_records_with" in message, message
    assert "long-enough" not in message  # no secret


def test_a_declaration_naming_no_sync_is_refused(tmp_path: Path) -> None:
    issues = _load(tmp_path, mapping(extra='shares_records_with = ["c"]'), mapping(object="contacts"))
    assert issues == [(issues[0][0], "shares_records_with", "'c' names no sync of this project")]
    assert issues[0][0].endswith("a.toml")
