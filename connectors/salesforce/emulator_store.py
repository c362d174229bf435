"""The emulated org's data: object schemas (describe metadata), records, validation and SOQL.

Validation returns Salesforce's own error shapes (`{statusCode, message, fields}`), so the
connector's error mapping is tested against what the service really says.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from .emulator_rules import field_errors
from .emulator_schema import SCHEMAS, Error, FieldSpec, err

__all__ = ["SCHEMAS", "Error", "FieldSpec", "SObject", "Store", "err"]


@dataclass
class SObject:
    name: str
    prefix: str
    fields: dict[str, FieldSpec]
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        ident = FieldSpec("Id", "id", 18, updateable=False, createable=False)
        return {"name": self.name, "fields": [f.describe() for f in [ident, *self.fields.values()]]}

    def validate(self, values: dict[str, Any], creating: bool) -> list[Error]:
        """Record errors for already-deserialized values (see emulator_rules), in Salesforce's shape."""
        errors = []
        for name, value in values.items():
            spec = self.fields.get(name)
            if spec is None:
                errors.append(err("INVALID_FIELD", f"No such column '{name}' on sobject of type {self.name}", [name]))
            elif not (spec.createable if creating else spec.updateable):
                # describe createable/updateable: the API refuses values for fields that are neither
                errors.append(
                    err("INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {name}.", [name])
                )
            else:
                errors.extend(field_errors(spec, spec.describe()["label"], value))
        if creating:
            missing = [f.name for f in self.fields.values() if f.required and values.get(f.name) in (None, "")]
            if missing:
                errors.append(err("REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}", missing))
        return errors

    def key(self, field_name: str, value: Any) -> str:
        """How the org compares a value of this field: external IDs are case-insensitive unless the
        field is defined "Unique, case sensitive" (describe `caseSensitive`; Salesforce Help "Custom
        Field Attributes", External ID)."""
        spec = self.fields.get(field_name)
        return str(value) if spec is not None and spec.case_sensitive else str(value).lower()

    def __post_init__(self) -> None:
        self.index: dict[str, dict[str, set[str]]] = {
            n: {} for n, f in self.fields.items() if f.external_id or f.unique
        }

    def put(self, row_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """Create or change a row, keeping the external-ID indexes right."""
        row = self.rows.setdefault(row_id, {"Id": row_id})
        self._reindex(row_id, row, add=False)
        row.update(values)
        self._reindex(row_id, row, add=True)
        return row

    def remove(self, row_id: str) -> None:
        self._reindex(row_id, self.rows.pop(row_id), add=False)

    def _reindex(self, row_id: str, row: dict[str, Any], add: bool) -> None:
        for name, entries in self.index.items():
            if row.get(name) in (None, ""):
                continue
            ids = entries.setdefault(self.key(name, row[name]), set())
            if add:
                ids.add(row_id)
            else:
                ids.discard(row_id)

    def find(self, field_name: str, value: Any) -> list[str]:
        """Ids whose field equals value under the field's comparison (`key`)."""
        if value is None:
            return []
        want = self.key(field_name, value)
        if field_name in self.index:
            return sorted(self.index[field_name].get(want, ()))
        return [i for i, row in self.rows.items() if self.key(field_name, row.get(field_name, "")) == want]

    def define(self, spec: FieldSpec) -> None:
        """Add or replace a field (e.g. a case-sensitive external ID), rebuilding the indexes."""
        for row_id, row in self.rows.items():
            self._reindex(row_id, row, add=False)
        self.fields[spec.name] = spec
        if spec.external_id or spec.unique:
            self.index[spec.name] = {}
        for row_id, row in self.rows.items():
            self._reindex(row_id, row, add=True)


class Store:
    """Every object of the org, with Ids in Salesforce's 18-character form."""

    def __init__(self) -> None:
        self.objects = {
            name: SObject(name, prefix, {f.name: copy.deepcopy(f) for f in specs})
            for name, (prefix, specs) in SCHEMAS.items()
        }
        self._ids = itertools.count(1)

    def new_id(self, obj: str) -> str:
        return f"{self.objects[obj].prefix}{next(self._ids):012d}AAA"

    def insert(self, obj: str, values: dict[str, Any]) -> str:
        """Store a record as is (no validation): for test setup, e.g. planting duplicates."""
        new_id = self.new_id(obj)
        self.objects[obj].put(new_id, values)
        return new_id

    def owner_of(self, row_id: str) -> SObject | None:
        return next((o for o in self.objects.values() if row_id.startswith(o.prefix) and row_id in o.rows), None)

    def query(self, soql: str) -> list[dict[str, Any]]:
        """The SOQL subset syncer uses: SELECT a, b FROM X [WHERE f IN (...) | f = v [AND ...]]."""
        m = re.fullmatch(r"\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(.+?))?\s*", soql, re.I | re.S)
        if not m:
            raise ValueError(f"unsupported SOQL: {soql[:80]}")
        columns = [c.strip() for c in m.group(1).split(",")]
        obj = self.objects.get(m.group(2))
        if obj is None:
            raise LookupError(f"sObject type '{m.group(2)}' is not supported.")
        for c in columns:
            if c != "Id" and c not in obj.fields:
                raise KeyError(f"No such column '{c}' on entity '{obj.name}'.")
        conditions = [_condition(c) for c in re.split(r"\s+AND\s+", m.group(3), flags=re.I)] if m.group(3) else []
        candidates: Any = obj.rows.values()
        # SOQL compares text case-insensitively; a case-sensitive index can't answer that, so scan
        if conditions and conditions[0][0] in obj.index and not obj.fields[conditions[0][0]].case_sensitive:
            name, allowed = conditions[0]
            ids = {i for value in allowed for i in obj.index[name].get(value, ())}
            candidates = [obj.rows[i] for i in sorted(ids)]
        out = []
        for row in candidates:
            if all(str(row.get(f, "")).lower() in allowed for f, allowed in conditions):
                out.append({"attributes": {"type": obj.name}, **{c: row.get(c) for c in columns}})
        return out


def _condition(text: str) -> tuple[str, set[str]]:
    m = re.fullmatch(r"\s*(\w+)\s+IN\s*\((.*)\)\s*", text, re.I | re.S) or re.fullmatch(
        r"\s*(\w+)\s*=\s*(.+?)\s*", text, re.S
    )
    if not m:
        raise ValueError(f"unsupported condition: {text[:80]}")
    literals = re.findall(r"'((?:[^'\\]|\\.)*)'|\b(true|false)\b", m.group(2), re.I)
    values = {re.sub(r"\\(.)", r"\1", q) if q else b.lower() for q, b in literals}
    return m.group(1), {v.lower() for v in values}
