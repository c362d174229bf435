"""`syncer check`: can the warehouse's values go into the destination's field types?

The mapping's first rows (a sample, read like `run` reads them) are computed field by field; the
kinds of value each field produces are looked up against the destination type (syncer.values):

- a kind the table has no cell for (a date into a number, a bool into a date) can never go: a
  problem, like a missing field;
- a kind only some of whose values go (a TIMESTAMP into a HubSpot `date`: midnight UTC only; text
  into a number; a float into a Salesforce int) is a warning, with how many sampled rows the
  conversion refuses and the first reason;
- any other sampled value the conversion refuses (text over the length, NaN, an unknown option)
  is a warning with the same count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

from syncer.mapping import Mapper
from syncer.values import TABLE, FieldType, Refused, convert, kind_of

SAMPLE_ROWS = 200
# kinds of which only some values fit the base: named in a warning even when the sample has none refused
PARTIAL: dict[str, frozenset[str]] = {
    "date": frozenset({"datetime", "str"}),
    "datetime": frozenset({"str"}),
    "number": frozenset({"str"}),
    "integer": frozenset({"float", "decimal", "str"}),
    "bool": frozenset({"str"}),
}
WHY = {
    ("date", "datetime"): "takes dates at midnight UTC only; rows at another time of day will be rejected",
    ("integer", "float"): "takes whole numbers only; rows with a fraction will be rejected",
    ("integer", "decimal"): "takes whole numbers only; rows with a fraction will be rejected",
}


def type_issues(
    mapper: Mapper, types: Mapping[str, FieldType], rows: Iterable[Mapping[str, Any]], where: str
) -> tuple[list[str], list[str]]:
    """(problems, warnings) for the mapped fields, from up to SAMPLE_ROWS rows. `where` = mapping file."""
    kinds: dict[str, Counter[str]] = {name: Counter() for name in types}
    refused: dict[str, list[str]] = {name: [] for name in types}
    sampled = 0
    for row in islice(rows, SAMPLE_ROWS):
        sampled += 1
        for name, value in mapper.computed(row).items():
            if name not in types or value is None:
                continue
            kinds[name][kind_of(value)] += 1
            try:
                convert(name, value, types[name])
            except Refused as exc:
                refused[name].append(str(exc))
    problems, warnings = [], []
    for name, field_type in types.items():
        key = f"{where}: fields.{name}"
        for kind in sorted(kinds[name]):
            if kind not in TABLE[field_type.base]:
                problems.append(f"{key}: the mapping gives {kind} values; {field_type.label} cannot take them")
            elif kind in PARTIAL.get(field_type.base, ()):
                why = WHY.get((field_type.base, kind), "takes only some of them; the others will be rejected")
                count = sum(1 for r in refused[name] if f": {kind} " in r)
                warnings.append(
                    f"{key}: the mapping gives {kind} values; {field_type.label} {why} "
                    f"({count} of {sampled} sampled rows)"
                )
        partial_kinds = PARTIAL.get(field_type.base, frozenset())
        other = [r for r in refused[name] if not any(f": {k} " in r for k in partial_kinds)]
        other = [r for r in other if any(f": {k} " in r for k in kinds[name] if k in TABLE[field_type.base])]
        if other:
            warnings.append(f"{key}: {len(other)} of {sampled} sampled rows would be rejected, e.g. {other[0]}")
    return problems, warnings
