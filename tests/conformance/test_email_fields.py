"""Salesforce `email` fields: the conversion table and the emulated org agree on what an address is.

Salesforce refuses a record whose email field is not name@domain.tld (StatusCode
INVALID_EMAIL_ADDRESS; Salesforce Help 000384328 "Email Address Format Technical Standards
Validation"). syncer refuses such a value for that row before sending (syncer.values.EMAIL); the
emulator answers INVALID_EMAIL_ADDRESS (its own rule, connectors/salesforce/emulator_rules.py).
`url` and `phone` fields are free text of their length: no format rule, in either.
"""

from __future__ import annotations

import pytest
from syncer_connectors.salesforce.describe import field_type
from syncer_connectors.salesforce.emulator_rules import field_errors
from syncer_connectors.salesforce.emulator_schema import FieldSpec

from syncer.values import Refused, convert

# address -> valid for Salesforce
ADDRESSES: list[tuple[str, bool]] = [
    ("ada@example.com", True),
    ("ada.lovelace+crm@example.co.uk", True),
    ("o'brien@example.ie", True),
    ("first_last-1@sub.example-mail.org", True),
    ("josé@exämple.de", True),  # Email Address Internationalization
    ("ada@example", False),  # no top-level domain
    ("ada@@example.com", False),
    ("ada example@example.com", False),  # space
    ("ada@example,com", False),  # comma for a dot
    (".ada@example.com", False),  # dot first in the local part
    ("ada.@example.com", False),  # dot last
    ("ada@-example.com", False),
    ("example.com", False),
    ("a@b.com c@d.com", False),  # two addresses in one cell
]


@pytest.mark.parametrize(("address", "valid"), ADDRESSES)
def test_email_field_takes_addresses_only(address: str, valid: bool) -> None:
    t = field_type({"type": "email", "length": 80})
    try:
        sent = convert("Email", address, t)
    except Refused as exc:
        assert not valid, str(exc)
        assert str(exc).startswith("Email: str ") and "is not an email address" in str(exc)
    else:
        assert valid and sent == address
    errors = field_errors(FieldSpec("Email", "email", 80), "Email", address)
    assert [e["statusCode"] for e in errors] == ([] if valid else ["INVALID_EMAIL_ADDRESS"]), errors


@pytest.mark.parametrize("kind", ["url", "phone", "string"])
def test_url_and_phone_take_any_text_of_their_length(kind: str) -> None:
    t = field_type({"type": kind, "length": 40})
    assert convert("F", "not an address, (555) 01", t) == "not an address, (555) 01"
    assert field_errors(FieldSpec("F", kind, 40), "F", "not an address") == []
    with pytest.raises(Refused, match="is 41 characters"):
        convert("F", "x" * 41, t)
