"""The one rule every connector looks an owner up by email with: a CRM task's owner (Salesforce
`User.Email`, HubSpot owners), a Slack user (`users.lookupByEmail`).

    lookup form = the address with leading and trailing whitespace removed, lower-cased
    blank (only whitespace) = no owner given

Why: warehouses hand emails back as they were typed or padded ('AE@X.EXAMPLE ', CHAR(n) columns),
and the directories we look owners up in compare addresses without regard to case: Salesforce SOQL
`=` / `IN` on a text field that is not unique-case-sensitive (SOQL and SOSL Reference, "Comparison
Operators"; User.Email is not), HubSpot's `GET /crm/v3/owners?email=` and Slack `users.lookupByEmail`
(neither documents a case rule; syncer lower-cases before asking them, as it always did, and their
emulators compare without case). None of them trims, so syncer does, once, here; lower-casing also
keeps a cache keyed by the lookup form from holding one owner twice.

An email that still finds nobody is never silently given to someone else: each connector says what
its API would do without an owner and rejects the row with that reason (see their READMEs).
"""

from __future__ import annotations

from typing import Any


def owner_lookup_email(value: Any) -> str | None:
    """The lookup form of an owner email (str, or anything str() gives an address of), or None when
    `value` is None or blank: no owner was given."""
    if value is None:
        return None
    text = str(value).strip().lower()
    return text or None
