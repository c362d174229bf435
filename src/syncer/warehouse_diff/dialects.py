"""SQL per warehouse for the snapshot diff: text casts, the hash, the unit separator, bulk loads.

The fingerprint is MD5 (hex) of `prefix|e1|e2|...` where each input column is encoded as
`<length>:<text>` or `-` for NULL (so no two input tuples encode alike). Text casts differ by
dialect, so a warehouse fingerprint is only ever compared with one made by the same warehouse.
Keys are the text of the primary-key columns joined by U+001F, which equals `row_key` for
integer and text columns; the differ checks every returned row's key against `row_key`.
Hash functions: DuckDB `md5`, PostgreSQL `md5`, Snowflake `MD5`, BigQuery `TO_HEX(MD5(...))`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    name: str
    text_type: str  # what CAST(x AS ...) makes text
    unit_separator: str  # SQL for the one-character string U+001F
    md5_hex: str  # format string: {0} is a text expression
    quote: str = '"'
    bulk_rows: int = 1000  # rows per INSERT when loading the snapshot through SQLAlchemy

    def ident(self, name: str) -> str:
        q = self.quote
        return f"{q}{name.replace(q, q + q)}{q}"

    def text(self, column: str) -> str:
        """`column`: an SQL expression, e.g. a column name quoted by the warehouse's own preparer."""
        return f"CAST({column} AS {self.text_type})"

    def key(self, primary_key: Sequence[str]) -> str:
        return f" || {self.unit_separator} || ".join(self.text(c) for c in primary_key)

    def fingerprint(self, prefix: str, inputs: Sequence[str]) -> str:
        parts = [
            f"COALESCE(CAST(LENGTH({self.text(c)}) AS {self.text_type}) || ':' || {self.text(c)}, '-')" for c in inputs
        ]
        return self.md5_hex.format(" || '|' || ".join([f"'{prefix}'", *parts]))


DIALECTS = {
    "duckdb": Dialect("duckdb", "VARCHAR", "chr(31)", "md5({0})"),
    "postgresql": Dialect("postgresql", "TEXT", "chr(31)", "md5({0})"),
    "snowflake": Dialect("snowflake", "VARCHAR", "CHR(31)", "MD5({0})"),
    "bigquery": Dialect("bigquery", "STRING", "CODE_POINTS_TO_STRING([31])", "TO_HEX(MD5({0}))", quote="`"),
}


def dialect_of(name: str) -> Dialect:
    """The dialect for a SQLAlchemy dialect name; KeyError names the ones supported."""
    if name not in DIALECTS:
        raise KeyError(f'diff = "warehouse" supports {", ".join(sorted(DIALECTS))}; this warehouse is {name}')
    return DIALECTS[name]
