"""A warehouse -0.0 reaches the destination as the warehouse held it, where the destination can hold
it: JSON (webhook, Slack) gets -0.0 and text gets "-0"; HubSpot and Salesforce number fields hold
decimals, which have no signed zero, so they get 0 (syncer.values, "negative zero"). The payload
fingerprint is over the wire values, so a 0.0 -> -0.0 edit is a change exactly where the value
sent changes, and every diff mode (rows, columnar, warehouse) agrees."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from syncer_connectors.hubspot.schema import field_type as hubspot_type
from syncer_connectors.salesforce.describe import field_type as salesforce_type
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.secrets import mask
from syncer.values import JSON, FieldType, convert, to_json
from tests.diffmodes.test_incremental import _execute
from tests.diffmodes.test_postgres_values import MAPPING  # one field `v`, keyed by `id`
from tests.engine.conftest import Project, receiver

__all__ = ["receiver"]  # the fixture: a webhook receiver on loopback

# destination field -> (the wire value of -0.0, its JSON text in the request, a 0.0 -> -0.0 edit changes it)
DESTINATIONS: dict[str, tuple[FieldType, Any, str, bool]] = {
    "webhook / Slack JSON": (JSON, Decimal("-0.0"), "-0.0", True),
    "HubSpot number": (hubspot_type({"type": "number", "fieldType": "number"}), "0", '"0"', False),
    "HubSpot text": (hubspot_type({"type": "string", "fieldType": "text"}), "-0", '"-0"', True),
    "Salesforce double(18,2)": (salesforce_type({"type": "double", "precision": 18, "scale": 2}), 0, "0", False),
    "Salesforce currency(18,2)": (salesforce_type({"type": "currency", "precision": 18, "scale": 2}), 0, "0", False),
    "Salesforce int": (salesforce_type({"type": "int", "digits": 9}), 0, "0", False),
    "Salesforce text(10)": (salesforce_type({"type": "string", "length": 10}), "-0", '"-0"', True),
}


@pytest.mark.parametrize("name", list(DESTINATIONS))
@pytest.mark.parametrize("value", [-0.0, Decimal("-0"), Decimal("-0.00")])
def test_negative_zero_on_the_wire(name: str, value: Any) -> None:
    field_type, wire, text, signed = DESTINATIONS[name]
    sent = convert("v", value, field_type)
    assert to_json(sent) == to_json(wire) and type(sent) is type(wire)
    assert to_json({"v": sent}) == f'{{"v":{text}}}'
    zero = convert("v", 0.0, field_type)  # the fingerprint is over the wire values (mapping.fingerprint)
    assert (to_json({"v": zero}) != to_json({"v": sent})) is signed
    if name.endswith("JSON"):  # a JSON parser reads the sign back
        assert math.copysign(1, json.loads(to_json({"v": sent}))["v"]) == -1


NEGATIVE = "CAST('-0.0' AS {})"


def _signs(receiver: WebhookReceiver) -> dict[str, float]:
    """Key -> the sign of `v` as the receiver's JSON parser read it."""
    return {key: math.copysign(1, fields["v"]) for key, fields in receiver.records.items()}


@pytest.mark.parametrize("column_type", ["DOUBLE", "REAL"])  # REAL: read as float32 (syncer.float32)
@pytest.mark.parametrize("mode", ["rows", "columnar", "warehouse"])
def test_every_mode_sends_the_sign_and_sees_the_edit(
    tmp_path: Path, receiver: WebhookReceiver, mode: str, column_type: str
) -> None:
    """Through the webhook (JSON) and the runner, every diff mode: -0.0 arrives as -0.0, the same -0.0
    again is no change, and 0.0 -> -0.0 and -0.0 -> 0.0 edits are changes."""
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    negative = NEGATIVE.format(column_type)
    _execute(url, f"CREATE TABLE model (id BIGINT PRIMARY KEY, v {column_type})")
    _execute(url, f"INSERT INTO model VALUES (1, 0.0), (2, {negative}), (3, 1.5)")
    project = Project(tmp_path, url, hook_url=f"{receiver.base_url}/hooks")
    project.write(mapping=MAPPING)
    project.config.write_text(project.config.read_text().replace(f'url = "{url}"', f'url = "{url}"\ndiff = "{mode}"'))
    mask.clear()
    code, run, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and run["succeeded"] == 3, run
    assert _signs(receiver) == {"1": 1, "2": -1, "3": 1}
    code, again, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and again["changed"] == 0 and again["unchanged"] == 3, again
    # (DuckDB's UPDATE leaves a value that compares equal as it is: the rows are written again)
    _execute(url, "DELETE FROM model WHERE id IN (1, 2)", f"INSERT INTO model VALUES (1, {negative}), (2, 0.0)")
    code, edited, _ = project.cli("run", "accounts", "--json")
    assert code == 0 and edited["changed"] == 2 and edited["succeeded"] == 2, edited
    assert _signs(receiver) == {"1": -1, "2": 1, "3": 1}
