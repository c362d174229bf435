"""NaN and infinities on the paths that do not go through the conversion table (syncer.values):
alert text, digests, CRM task bodies, Slack message payloads, email.

Warehouses hand these over as values (`float('nan')`, `Decimal('NaN')`, `float('inf')` from DOUBLE
and NUMERIC columns), and Python's own formatting turns them into "nan" / "inf" or, through
`json.dumps`, into the bare tokens `NaN` / `Infinity` that are not JSON (RFC 8259), which Slack
answers `invalid_json`. The rule, one per medium:

- human text (a sentence, a table cell): the number reads "n/a" (`READABLE`), never "nan";
- structured JSON (a message payload, block kit, metadata): the value is left out: a non-finite
  number in a dict is dropped with its key, in a list it becomes null (`json_safe`).

Shapes: `is_finite_number(x) -> bool` (int, float, Decimal; not bool), `json_safe(payload) -> payload`
(a copy; dicts, lists and tuples walked, everything else returned as is).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

READABLE = "n/a"  # what a person reads for a number that is not one


def is_non_finite(value: Any) -> bool:
    """True for NaN and +-infinity, as float or Decimal (Decimal sNaN too)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, Decimal) and not value.is_finite()


def is_finite_number(value: Any) -> bool:
    """A number a person can be shown: int, float or Decimal, finite, not a bool."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool) and not is_non_finite(value)


def json_safe(payload: Any) -> Any:
    """`payload` without non-finite numbers: dropped from dicts (key and all), null in lists."""
    if isinstance(payload, dict):
        return {k: json_safe(v) for k, v in payload.items() if not is_non_finite(v)}
    if isinstance(payload, list | tuple):
        return [None if is_non_finite(v) else json_safe(v) for v in payload]
    return payload
