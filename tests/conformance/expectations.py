"""Expected outcome of every (destination type family, sample): the conversion table written down
by hand from the vendors' rules (API-FACTS "Value formats and identity rules"), not computed.

`Sent("80")`: the destination ends up holding exactly this (numbers compared as decimals,
datetimes as instants). `Omitted`: nothing is sent for the field (NULL under the default null
policy `skip`, and "" for Salesforce, which stores "" as null). `Rejected("...")`: the row is
rejected before anything is sent, the reason names the field and contains this text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sent:
    text: str


@dataclass(frozen=True)
class Omitted:
    pass


@dataclass(frozen=True)
class Rejected:
    why: str


Outcome = Sent | Omitted | Rejected
OMITTED = Omitted()
NOT_FINITE = Rejected("finite numbers only")
CANNOT = Rejected("cannot go into")
NOT_NUMBER = Rejected("is not a number")
NOT_ISO = Rejected("is not an ISO 8601 date or datetime")
NOT_BOOL = Rejected("takes true or false only")
NOT_OPTION = Rejected("is not one of the options")
TOO_LONG = Rejected("characters;")
NOT_UTF8 = Rejected("is not UTF-8 text")
MIDNIGHT = Rejected("is not at midnight UTC")

NO_TIMES = {
    "date": CANNOT,
    "dt_midnight": CANNOT,
    "dt_naive": CANNOT,
    "dt_aware": CANNOT,
    "dt_aware_us": CANNOT,
    "time": CANNOT,
}
NO_BYTES = {"bytes_utf8": CANNOT, "bytes_bad": CANNOT}
NON_FINITE = {"float_nan": NOT_FINITE, "float_inf": NOT_FINITE, "float_ninf": NOT_FINITE, "dec_nan": NOT_FINITE}

TEXT: dict[str, Outcome] = {
    "none": OMITTED,
    "bool_true": Sent("true"),
    "bool_false": Sent("false"),
    "int_42": Sent("42"),
    "int_big": Sent("1234567890123456"),
    "float_55_5": Sent("55.5"),
    "float_80": Sent("80"),
    "float_tiny": Sent("0.0000001"),
    **NON_FINITE,
    "dec_12_50": Sent("12.5"),
    "dec_big": Sent("12345678901234567890.12"),
    "date": Sent("2026-03-08"),
    "dt_midnight": Sent("2026-03-08T00:00:00"),
    "dt_naive": Sent("2026-03-08T23:30:00"),
    "dt_aware": Sent("2026-03-08T23:30:00.000Z"),
    "dt_aware_us": Sent("2026-03-08T23:30:00.123456Z"),  # text keeps what the warehouse held
    "time": Sent("23:30:00"),
    "str_text": Sent("hot"),
    "str_empty": Sent(""),
    "str_number": Sent("42.50"),
    "str_true": Sent("true"),
    "str_date": Sent("2026-03-08"),
    "str_email": Sent("ada.lovelace+crm@example.co.uk"),
    "str_long": TOO_LONG,
    "bytes_utf8": Sent("café"),
    "bytes_bad": NOT_UTF8,
}

NUMBER: dict[str, Outcome] = {
    "none": OMITTED,
    "bool_true": CANNOT,
    "bool_false": CANNOT,
    "int_42": Sent("42"),
    "int_big": Sent("1234567890123456"),
    "float_55_5": Sent("55.5"),
    "float_80": Sent("80"),
    "float_tiny": Sent("0.0000001"),  # never "1e-07": HubSpot has refused exponent form
    **NON_FINITE,
    "dec_12_50": Sent("12.5"),
    "dec_big": Sent("12345678901234567890.12"),
    **NO_TIMES,
    "str_text": NOT_NUMBER,
    "str_empty": NOT_NUMBER,
    "str_number": Sent("42.5"),
    "str_true": NOT_NUMBER,
    "str_date": NOT_NUMBER,
    "str_email": NOT_NUMBER,
    "str_long": NOT_NUMBER,
    **NO_BYTES,
}

WHOLE = Rejected("is not a whole number")
SF_INT: dict[str, Outcome] = {  # Salesforce int, 9 digits
    **NUMBER,
    "int_big": Rejected("digits before the point"),
    "float_55_5": WHOLE,
    "float_tiny": WHOLE,
    "dec_12_50": WHOLE,
    "dec_big": WHOLE,
    "str_number": WHOLE,
}
SCALE = Rejected("decimal places")
SF_DOUBLE = {**NUMBER, "float_tiny": SCALE, "dec_big": Rejected("digits before the point")}  # (18,2)
SF_PERCENT = {**SF_DOUBLE, "int_big": Rejected("digits before the point")}  # (5,2)

BOOL: dict[str, Outcome] = {
    **dict.fromkeys(TEXT, CANNOT),
    "none": OMITTED,
    "bool_true": Sent("true"),
    "bool_false": Sent("false"),
    "str_text": NOT_BOOL,
    "str_empty": NOT_BOOL,
    "str_number": NOT_BOOL,
    "str_true": Sent("true"),
    "str_date": NOT_BOOL,
    "str_email": NOT_BOOL,
    "str_long": NOT_BOOL,
}

DATE: dict[str, Outcome] = {
    **dict.fromkeys(TEXT, CANNOT),
    "none": OMITTED,
    "date": Sent("2026-03-08"),
    "dt_midnight": Sent("2026-03-08"),
    "dt_naive": MIDNIGHT,  # HubSpot refuses a date that is not midnight UTC
    "dt_aware": MIDNIGHT,
    "dt_aware_us": MIDNIGHT,
    "str_text": NOT_ISO,
    "str_empty": NOT_ISO,
    "str_number": NOT_ISO,
    "str_true": NOT_ISO,
    "str_date": Sent("2026-03-08"),
    "str_email": NOT_ISO,
    "str_long": NOT_ISO,
}

DATETIME: dict[str, Outcome] = {
    **DATE,
    "date": Sent("2026-03-08T00:00:00.000Z"),
    "dt_midnight": Sent("2026-03-08T00:00:00.000Z"),
    "dt_naive": Sent("2026-03-08T23:30:00.000Z"),  # naive = UTC
    "dt_aware": Sent("2026-03-08T23:30:00.000Z"),
    "dt_aware_us": Sent("2026-03-08T23:30:00.123Z"),  # HubSpot and Salesforce store milliseconds
    "str_date": Sent("2026-03-08T00:00:00.000Z"),
}

OPTIONS = ("hot", "warm", "true", "42")  # the enumeration / picklist fields' option values
ENUMERATION: dict[str, Outcome] = {
    **dict.fromkeys(TEXT, CANNOT),
    "none": OMITTED,
    "bool_true": Sent("true"),
    "bool_false": NOT_OPTION,
    "int_42": Sent("42"),
    "int_big": NOT_OPTION,
    "dec_12_50": NOT_OPTION,
    "dec_big": NOT_OPTION,
    "dec_nan": NOT_FINITE,
    "str_text": Sent("hot"),
    "str_empty": Sent(""),  # HubSpot: "" clears the property
    "str_number": NOT_OPTION,
    "str_true": Sent("true"),
    "str_date": NOT_OPTION,
    "str_email": NOT_OPTION,
    "str_long": NOT_OPTION,
}

JSON: dict[str, Outcome] = {
    **TEXT,
    "str_long": Sent("x" * 70_000),  # JSON has no length limit
}

SALESFORCE_EMPTY = {"str_empty": OMITTED}  # "" is null in Salesforce: the null policy decides

# Salesforce `email`: name@domain.tld or INVALID_EMAIL_ADDRESS (Salesforce Help 000384328); only the
# address sample is one. `url` and `phone` are free text of their length (the API enforces no form).
NOT_EMAIL = Rejected("is not an email address")
SF_EMAIL: dict[str, Outcome] = {
    **{sample: NOT_EMAIL if isinstance(outcome, Sent) else outcome for sample, outcome in TEXT.items()},
    **SALESFORCE_EMPTY,
    "str_email": Sent("ada.lovelace+crm@example.co.uk"),
}

FAMILIES: dict[str, dict[str, Outcome]] = {
    "hubspot.string": TEXT,
    "hubspot.number": NUMBER,
    "hubspot.date": DATE,
    "hubspot.datetime": DATETIME,
    "hubspot.bool": BOOL,
    "hubspot.enumeration": ENUMERATION,
    "salesforce.text": {**TEXT, **SALESFORCE_EMPTY},
    "salesforce.email": SF_EMAIL,
    "salesforce.picklist": {**ENUMERATION, **SALESFORCE_EMPTY, "str_long": TOO_LONG},  # length(255) first
    "salesforce.double": {**SF_DOUBLE, **SALESFORCE_EMPTY},
    "salesforce.percent": {**SF_PERCENT, **SALESFORCE_EMPTY},
    "salesforce.int": {**SF_INT, **SALESFORCE_EMPTY},
    "salesforce.boolean": {**BOOL, **SALESFORCE_EMPTY},
    "salesforce.date": {**DATE, **SALESFORCE_EMPTY},
    "salesforce.datetime": {**DATETIME, **SALESFORCE_EMPTY},
    "json": JSON,
}
