"""The values a warehouse driver hands syncer: one per row of the conversion table, as PostgreSQL
produces them (psycopg 3), so every Python kind arrives the way a real driver returns it.

To add a sample: add a line here and its expected outcome in `expectations.py` for every family
(the corpus test fails with the missing (family, sample) pairs named).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Sample:
    id: str  # short, [a-z0-9_]: it becomes part of column and field names
    kind: str  # syncer.values.kind_of of the value the driver returns
    value: Any  # the Python value (unit level)
    pg_type: str
    pg_literal: str  # the SQL the warehouse row is built from


LONG = 70_000  # over HubSpot's 65,536 characters and any Salesforce text length

SAMPLES: list[Sample] = [
    Sample("none", "none", None, "text", "NULL"),
    Sample("bool_true", "bool", True, "boolean", "true"),
    Sample("bool_false", "bool", False, "boolean", "false"),
    Sample("int_42", "int", 42, "bigint", "42"),
    Sample("int_big", "int", 1234567890123456, "bigint", "1234567890123456"),
    Sample("float_55_5", "float", 55.5, "float8", "55.5"),
    Sample("float_80", "float", 80.0, "float8", "80.0"),
    Sample("float_tiny", "float", 1e-07, "float8", "1e-07"),
    Sample("float_nan", "float", float("nan"), "float8", "'NaN'"),
    Sample("float_inf", "float", float("inf"), "float8", "'Infinity'"),
    Sample("float_ninf", "float", float("-inf"), "float8", "'-Infinity'"),
    Sample("dec_12_50", "decimal", Decimal("12.50"), "numeric(10,2)", "12.50"),
    Sample("dec_big", "decimal", Decimal("12345678901234567890.12"), "numeric(38,2)", "12345678901234567890.12"),
    Sample("dec_nan", "decimal", Decimal("NaN"), "numeric", "'NaN'"),
    Sample("date", "date", dt.date(2026, 3, 8), "date", "'2026-03-08'"),
    Sample("dt_midnight", "datetime", dt.datetime(2026, 3, 8), "timestamp", "'2026-03-08 00:00:00'"),
    Sample("dt_naive", "datetime", dt.datetime(2026, 3, 8, 23, 30), "timestamp", "'2026-03-08 23:30:00'"),
    Sample(
        "dt_aware",
        "datetime",
        dt.datetime(2026, 3, 8, 23, 30, tzinfo=dt.UTC),
        "timestamptz",
        "'2026-03-08 23:30:00+00'",
    ),
    Sample(
        "dt_aware_us",
        "datetime",
        dt.datetime(2026, 3, 8, 23, 30, 0, 123456, tzinfo=dt.UTC),
        "timestamptz",
        "'2026-03-08 23:30:00.123456+00'",
    ),
    Sample("time", "time", dt.time(23, 30), "time", "'23:30:00'"),
    Sample("str_text", "str", "hot", "text", "'hot'"),
    Sample("str_empty", "str", "", "text", "''"),
    Sample("str_number", "str", "42.50", "text", "'42.50'"),
    Sample("str_true", "str", "true", "text", "'true'"),
    Sample("str_date", "str", "2026-03-08", "text", "'2026-03-08'"),
    Sample("str_email", "str", "ada.lovelace+crm@example.co.uk", "text", "'ada.lovelace+crm@example.co.uk'"),
    Sample("str_long", "str", "x" * LONG, "text", f"repeat('x', {LONG})"),
    Sample("bytes_utf8", "bytes", "café".encode(), "bytea", "convert_to('café', 'UTF8')"),
    Sample("bytes_bad", "bytes", b"\xff\xfe", "bytea", "'\\xfffe'::bytea"),
]
BY_ID = {s.id: s for s in SAMPLES}
