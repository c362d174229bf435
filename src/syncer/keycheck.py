"""Identity checks before any row is sent: NULL keys, duplicated primary keys, and match values
that collide at the destination.

NULL keys are counted in the warehouse. Duplicated keys and colliding match values are decided on
syncer's own canonical forms (`syncer.identity`), the strings state keys records by, in one scan of
the key and match columns (`columnar.key_scan`, which says why a GROUP BY in the warehouse is not
enough: collations and untyped columns call equal what state keeps apart, and the reverse). Only
warehouse mode, whose statement finds repeated keys itself, groups match values in the warehouse
(`duplicates=False`), so the model's rows stay there. Column names are quoted with the dialect's
own identifier preparer (`"AcctNo"` on PostgreSQL, `"ORDER"` on Snowflake, back-quotes on
BigQuery), so mixed-case and reserved-word columns work everywhere: never interpolate a bare name.

Match values collide when two different primary keys carry match values the destination treats
as one record: the same canonical value, or, for a destination that compares case-insensitively,
the same value up to case. Every row of such a group is rejected (the destination would merge
them, or refuse them all), with every key of the group named in the reason. An object whose match
value names a parent (a task's account: `Connector.parent_match_objects`) has no match rule and no
collision check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from syncer.errors import FatalError
from syncer.identity import (
    IdentityError,
    canonical_identity,
    composite_identity,
    is_blank,
    key_text,
    match_comparison_key,
)

MAX_DUPLICATE_KEYS = 100_000
# a predicate true for text holding a non-ASCII character, per dialect: there SQL's LOWER() may not be
# Python's `str.lower` (PostgreSQL under LC_CTYPE C lowers ASCII only; SQLite always does)
NON_ASCII = {
    "postgresql": "CAST({} AS TEXT) ~ '[^\\x01-\\x7f]'",
    "duckdb": "regexp_matches(CAST({} AS VARCHAR), '[^\\x00-\\x7f]')",
    "snowflake": "REGEXP_LIKE(TO_VARCHAR({}), '.*[^\\x00-\\x7f].*', 's')",
    "bigquery": "REGEXP_CONTAINS(CAST({} AS STRING), r'[^\\x00-\\x7f]')",
}
NAMED_KEYS = 10  # keys listed in one collision reason; the rest are counted

Query = Callable[[str], Iterable[sa.Row[Any]]]


@dataclass(frozen=True)
class MatchRule:
    """How the destination compares match values: the source column holding them, the destination
    field (for messages) and whether the comparison ignores case."""

    column: str
    field: str
    casefold: bool = False


@dataclass
class KeyReport:
    """What the identity checks found, with samples.

    null_rows         rows whose primary key has a NULL part
    duplicate_keys    canonical keys held by more than one row
    duplicate_rows    rows holding those keys
    match_collisions  canonical key -> reason, for every row whose match value collides
    duplicates_checked  False when the duplicated-key aggregate was left to the caller (warehouse
                      mode finds repeats in its diff statement and runs `run` again when it does)
    """

    null_rows: int = 0
    duplicate_keys: set[str] = field(default_factory=set)
    duplicate_rows: int = 0
    samples: list[str] = field(default_factory=list)
    match_collisions: dict[str, str] = field(default_factory=dict)
    duplicates_checked: bool = True

    @property
    def rejected_rows(self) -> int:
        return self.null_rows + self.duplicate_rows + len(self.match_collisions)


class KeyChecker:
    """Builds and runs the identity checks for one model on one dialect."""

    def __init__(self, dialect: sa.Dialect, inner_sql: str, columns: dict[str, str]) -> None:
        """`columns` maps the mapping's spelling of each column to the name the driver reported."""
        self.dialect = dialect
        self.inner = inner_sql
        self.columns = columns

    def quoted(self, name: str) -> str:
        """A column of the model, quoted for this dialect (by the name the driver reported)."""
        return self.dialect.identifier_preparer.quote(self.columns.get(name, name))

    def run(
        self,
        query: Query,
        primary_key: list[str],
        match: MatchRule | None,
        scan: Callable[[str], tuple[set[str], int, dict[str, str]]],
        duplicates: bool = True,
    ) -> KeyReport:
        """`scan(sql)`: the whole check on syncer's canonical forms over the rows of `sql` (the key and
        match columns; `columnar.key_scan`, the module docstring says why), for duplicated keys and
        collisions. `duplicates=False` skips the duplicated-key check (`KeyReport.duplicates_checked`)
        and groups match values in the warehouse (warehouse mode: the model's rows stay there) unless
        its LOWER() may differ from syncer's; the collision check then cannot leave duplicated keys
        out of its groups, so a caller that finds any must run the whole check."""
        report = KeyReport(duplicates_checked=duplicates)
        nulls = self._nulls(primary_key)
        report.null_rows = int(next(iter(query(f"SELECT COUNT(*) FROM ({self.inner}) AS m WHERE {nulls}")))[0])
        if duplicates or self.lower_may_differ(query, match):
            pk = ", ".join(self.quoted(c) for c in primary_key)
            read = [pk] if match is None or match.column in primary_key else [pk, self.quoted(match.column)]
            keys, rows, collisions = scan(f"SELECT {', '.join(read)} FROM ({self.inner}) AS m")
            report.duplicate_keys, report.duplicate_rows, report.match_collisions = keys, rows, collisions
            report.samples = sorted(keys)[:5]
        elif match is not None:
            report.match_collisions = self._collisions(query, primary_key, match, nulls)
        return report

    def lower_may_differ(self, query: Query, match: MatchRule | None) -> bool:
        """Could the warehouse's LOWER() disagree with Python's `str.lower` on this model's match values
        (a case-insensitive comparison, and a non-ASCII value present, or a dialect without the probe)?
        Then only syncer's own comparison (`columnar.key_scan`) finds every collision."""
        if match is None or not match.casefold:
            return False
        probe = NON_ASCII.get(self.dialect.name)
        if probe is None:
            return True
        sql = f"SELECT 1 FROM ({self.inner}) AS m WHERE {probe.format(self.quoted(match.column))} LIMIT 1"
        return bool(list(query(sql)))

    def _nulls(self, primary_key: list[str]) -> str:
        return " OR ".join(f"{self.quoted(c)} IS NULL" for c in primary_key)

    def shared_match_sql(self, primary_key: list[str], match: MatchRule, within: str | None = None) -> str:
        """The match values (as the destination compares them) that more than one row holds; with
        `within` (a query over the same columns, e.g. the rows updated since the last run), only those
        that one of its rows holds: a collision made by a change is found without grouping the model."""
        col = self.quoted(match.column)
        cmp = self._compared(match.column, match.casefold)
        where = f"{col} IS NOT NULL AND NOT ({self._nulls(primary_key)})"
        if within is not None:  # unqualified names in the subquery are its own rows' columns
            where += f" AND {cmp} IN (SELECT {cmp} FROM ({within}) AS w WHERE {col} IS NOT NULL)"
        return f"SELECT {cmp} FROM ({self.inner}) AS m WHERE {where} GROUP BY {cmp} HAVING COUNT(*) > 1"

    def _compared(self, column: str, casefold: bool) -> str:
        """The SQL expression the destination's comparison of a match column corresponds to."""
        expr: sa.ColumnElement[Any] = sa.literal_column(self.quoted(column))
        if casefold:
            expr = sa.func.lower(sa.cast(expr, sa.String()))
        return str(expr.compile(dialect=self.dialect))

    def _collisions(self, query: Query, primary_key: list[str], match: MatchRule, nulls: str) -> dict[str, str]:
        """Canonical key -> reason for every row whose match value another key shares at the destination."""
        pk = ", ".join(self.quoted(c) for c in primary_key)
        col = self.quoted(match.column)
        cmp = self._compared(match.column, match.casefold)
        shared = self.shared_match_sql(primary_key, match)
        if not list(query(f"{shared} LIMIT 1")):
            return {}  # the common case: one aggregate over the model, not a second scan joined to it
        sql = f"SELECT {pk}, {col} FROM ({self.inner}) AS m WHERE NOT ({nulls}) AND {cmp} IN ({shared})"
        groups: dict[str, dict[str, str]] = {}  # comparison key -> {canonical key: canonical match value}
        for count, row in enumerate(query(sql), start=1):
            if count > MAX_DUPLICATE_KEYS:
                raise FatalError(
                    f"model has more than {MAX_DUPLICATE_KEYS} rows sharing match values ({match.column}); fix it"
                )
            key = composite_identity(list(row[:-1]))
            try:
                value = canonical_identity(row[-1])
            except IdentityError:
                continue  # the mapper rejects a NULL / NaN match value on its own
            groups.setdefault(match_comparison_key(value, match.casefold), {})[key] = value
        return collision_reasons(groups, match)


def collision_reasons(groups: dict[str, dict[str, str]], match: MatchRule) -> dict[str, str]:
    """Canonical key -> reason for every member of a group of two or more keys whose match values the
    destination compares as one (`groups`: comparison form -> {canonical key: canonical match value})."""
    collisions: dict[str, str] = {}
    how = "case-insensitively" if match.casefold else "exactly"
    for members in groups.values():
        if len(members) < 2 or is_blank(next(iter(members.values()))):
            continue  # one key; or a blank value, which identifies nothing: the diff rejects it as blank
        keys = sorted(members)
        for key in keys:
            others = [k for k in keys if k != key]
            named = ", ".join(f"{key_text(k)!r} ({members[k]!r})" for k in others[:NAMED_KEYS])
            more = f" and {len(others) - NAMED_KEYS} more" if len(others) > NAMED_KEYS else ""
            collisions[key] = (
                f"duplicate match value {members[key]!r} in {match.column} -> {match.field} "
                f"(the destination compares it {how}): shared with key(s) {named}{more}; "
                "they would be one destination record, so none of them is sent"
            )
    return collisions
