"""syncer.mapping: each transform, null policies, fingerprints; and a mapping edit re-sends exactly the
records it affects (a comment-only edit re-sends nothing)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.mapping import FieldSpec, Mapper, RowRejected, compile_field, parse_field
from tests.engine.conftest import SECRET, Project


def value(row: dict[str, Any], **spec: Any) -> Any:
    return compile_field(FieldSpec(**spec))(row)


@pytest.mark.parametrize(
    ("raw", "cast", "expected"),
    [
        ("42", "int", 42),
        ("42.6", "int", 43),
        (Decimal("7.0"), "int", 7),
        (3, "float", "3"),  # an untyped field carries the exact text of a number
        (12, "str", "12"),
        ("yes", "bool", True),
        ("0", "bool", False),
        (1, "bool", True),
        ("2024-03-10T05:00:00", "date", "2024-03-10"),
        (dt.date(2024, 3, 10), "datetime", "2024-03-10T00:00:00"),
        ("2024-03-10 05:06:07", "datetime", "2024-03-10T05:06:07"),
    ],
)
def test_cast(raw: Any, cast: str, expected: Any) -> None:
    assert value({"v": raw}, column="v", cast=cast) == expected


@pytest.mark.parametrize(("raw", "cast"), [("abc", "int"), ("maybe", "bool"), ("x", "float"), ("soon", "date")])
def test_a_value_that_does_not_cast_rejects_the_row_naming_the_field(raw: str, cast: str) -> None:
    mapper = Mapper({"score": FieldSpec(column="v", cast=cast)}, "k")
    with pytest.raises(RowRejected, match=r"field 'score'"):
        mapper.map({"k": "1", "v": raw})


def test_round_case_and_decimals() -> None:
    assert value({"v": 3.14159}, column="v", round=2) == "3.14"  # untyped: exact text
    assert value({"v": 3.6}, column="v", round=0) == 4
    assert value({"v": Decimal("2.50")}, column="v") == "2.5"
    assert value({"v": "MiXed"}, column="v", case="lower") == "mixed"
    assert value({"v": "MiXed"}, column="v", case="upper") == "MIXED"
    assert value({"v": "12.345"}, column="v", cast="float", round=1) == "12.3"  # cast runs before round


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        ("2024-03-10T06:59:00", "2024-03-10 01:59 EST -0500"),  # the last minute before spring forward
        ("2024-03-10T07:00:00", "2024-03-10 03:00 EDT -0400"),  # 02:00-03:00 local does not exist
        ("2024-11-03T05:30:00", "2024-11-03 01:30 EDT -0400"),  # 01:30 happens twice on fall back
        ("2024-11-03T06:30:00", "2024-11-03 01:30 EST -0500"),
    ],
)
def test_format_in_a_time_zone_across_dst(utc: str, expected: str) -> None:
    spec = {"column": "at", "cast": "datetime", "tz": "America/New_York", "format": "%Y-%m-%d %H:%M %Z %z"}
    assert value({"at": utc}, **spec) == expected
    aware = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC)
    assert value({"at": aware}, **spec) == expected  # aware input gives the same answer


def test_format_without_tz_and_on_a_non_date() -> None:
    assert value({"d": dt.date(2024, 1, 2)}, column="d", format="%d/%m/%Y") == "02/01/2024"
    assert value({"d": dt.datetime(2024, 1, 2, 3, 4)}, column="d") == "2024-01-02T03:04:00"
    with pytest.raises(ValueError, match="date format"):
        value({"d": 5}, column="d", format="%Y")


def test_template_const_and_default() -> None:
    row = {"name": "Acme", "domain": "acme.io", "score": Decimal("71.0"), "gone": None}
    assert value(row, template="{name} <{domain}> {score}") == "Acme <acme.io> 71"
    assert value(row, template="[{gone}]") == "[]"
    assert value(row, template="{name}", case="upper") == "ACME"
    assert value(row, const="pql") == "pql"
    assert value(row, const=0) == 0
    assert value(row, column="gone", default="n/a") == "n/a"
    assert value(row, column="name", default="n/a") == "Acme"
    assert FieldSpec(template="{a}-{b}").columns() == ["a", "b"]
    assert parse_field("score") == FieldSpec(column="score")


def test_null_policy_send_skip_and_per_field_override() -> None:
    fields = {"a": FieldSpec(column="a"), "b": FieldSpec(column="b", null="send")}
    row = {"k": 1, "a": None, "b": None}
    assert Mapper(fields, "k", null_policy="skip").map(row) == ("1", {"b": None})
    assert Mapper(fields, "k", null_policy="send").map(row) == ("1", {"a": None, "b": None})
    fields["b"] = FieldSpec(column="b", null="skip")
    assert Mapper(fields, "k", null_policy="send").map(row) == ("1", {"a": None})


def test_fingerprint_follows_exactly_what_is_sent() -> None:
    m = Mapper({"a": FieldSpec(column="a")}, "k", scope="hook:accounts:domain")
    base = m.fingerprint("x", {"a": 1, "b": 2})
    assert m.fingerprint("x", {"b": 2, "a": 1}) == base  # order does not matter
    assert m.fingerprint("x", {"a": 1, "b": 3}) != base
    assert m.fingerprint("y", {"a": 1, "b": 2}) != base  # match value
    assert m.fingerprint("x", {"A": 1, "b": 2}) != base  # field name
    other = Mapper({"a": FieldSpec(column="a")}, "k", scope="hook:contacts:domain")
    assert other.fingerprint("x", {"a": 1, "b": 2}) != base  # target


# -- a mapping edit through `plan` ----------------------------------------------------------------


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    """One receiver for the module: these tests only look at plans after one run each."""
    with WebhookReceiver(SECRET) as rx:
        yield rx


def _edit(project: Project, old: str, new: str) -> None:
    path = project.root / "mappings" / "accounts.toml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "changed"),
    [
        ('tier = { column = "tier", case = "upper" }', 'segment = { column = "tier", case = "upper" }', 300),
        ('case = "upper"', 'case = "lower"', 300),
        ("round = 0", 'round = 0, null = "skip"', 0),  # the default policy, spelled out: nothing sent changes
        ('name = "name"', 'name = { column = "name", case = "upper" }', 300),
        ('name = "name"', 'name = "name"\nsource = { const = "warehouse" }', 300),
        ('field = "domain"', 'field = "website"', 300),  # a new match field re-targets every record
        ("[fields]", "# a comment\n[fields] # another\n", 0),
        ('name = "name"', 'name = { column = "name" }', 0),  # the same mapping, spelled out
    ],
    ids=[
        "rename-field",
        "change-case",
        "no-op-transform",
        "new-transform",
        "new-field",
        "match-field",
        "comment-only",
        "same-meaning",
    ],
)
def test_a_mapping_edit_changes_exactly_the_records_it_affects(
    project: Project, receiver: WebhookReceiver, old: str, new: str, changed: int
) -> None:
    code, run, err = project.cli("run", "accounts", "--json")
    assert code == 0 and run["succeeded"] == 300, err
    _edit(project, old, new)
    code, plan, err = project.cli("plan", "accounts", "--json", "--show", "1")
    assert code == 0, err
    assert (plan["changed"], plan["unchanged"], plan["added"]) == (changed, 300 - changed, 0), plan
    if changed:
        assert plan["samples"][0]["kind"] == "changed", plan


@pytest.mark.parametrize(
    ("raw", "spec", "expected"),
    [
        (2.5, {"cast": "int"}, 3),  # half away from zero, like SQL ROUND; Python's round() would give 2
        (-2.5, {"cast": "int"}, -3),
        (0.5, {"round": 0}, 1),
        (42.25, {"round": 1}, "42.3"),  # on the shortest decimal form, not the binary 42.249999...
        (Decimal("1.005"), {"round": 2}, "1.01"),
        ("2.5", {"cast": "int"}, 3),
    ],
)
def test_cast_int_and_round_share_one_rule(raw: object, spec: dict[str, object], expected: object) -> None:
    assert value({"v": raw}, column="v", **spec) == expected
