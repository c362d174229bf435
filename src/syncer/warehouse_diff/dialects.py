"""SQL per warehouse for the snapshot diff: text casts, the hash, the unit separator, bulk loads.

The fingerprint, where the warehouse has a 64-bit hash of several values (DuckDB `hash(a, b, ...)`,
PostgreSQL 14+ `hash_record_extended(ROW(...), 0)`), is that hash of (prefix, inputs...): 4-8x
cheaper than MD5 over a built string (measured: 1M rows, DuckDB 0.09 s vs 0.56 s, PostgreSQL
0.27 s vs 0.97 s), and a changed row goes unseen with odds of 2^-64. DuckDB keeps it as UBIGINT in
the snapshot (the join compares integers, not their text: 5M rows, 2.4 s instead of 3.9 s);
PostgreSQL as text. Inputs are hashed as they are for types whose equality is identity (integers,
boolean, date, timestamp, uuid) and for floats with their sign beside them (-0.0 = 0.0 to a hash,
not to Python); text, decimals (1.0 = 1.00) and everything else are hashed as their text under a
byte-wise collation (`Dialect.text`: a column's own collation may call 'A' and 'a' equal).
Otherwise (and on Snowflake and BigQuery) the fingerprint is MD5 (hex) of `prefix|e1|e2|...` where
each input column is encoded as `<length>:<text>` or `-` for NULL (so no two input tuples encode
alike). Text casts and hashes differ by dialect (and may between releases: every row then looks
changed once, is mapped, and is sent only if its payload changed), so a warehouse fingerprint is
only ever compared with one made by the same warehouse.
Keys are the text of the primary-key columns joined by U+001F, which equals `row_key` for
integer and text columns; the differ checks every returned row's key against `row_key`.
Hash functions: DuckDB `md5`, PostgreSQL `md5`, Snowflake `MD5`, BigQuery `TO_HEX(MD5(...))`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from syncer.source import query_failed

# PostgreSQL type OIDs (pg_type.dat) hashed as they are: int8, int2, int4, bool, date, timestamp, uuid;
# float4, float8 with their sign. Text is hashed through `Dialect.text`: its collation may not be binary
POSTGRESQL_HASHABLE = frozenset({"20", "21", "23", "16", "1082", "1114", "2950"})
POSTGRESQL_FLOATS = frozenset({"700", "701"})
# PostgreSQL character(n) (bpchar): its cast to text drops the padding the value sent keeps, so its
# padded width (octet_length counts the padding) is hashed beside it: a width change is a change
POSTGRESQL_PADDED = frozenset({"1042"})
DUCKDB_HASHABLE = frozenset(
    {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT", "HUGEINT"}
    | {"BOOLEAN", "DATE", "TIMESTAMP", "UUID"}  # VARCHAR through `Dialect.text` (a collation folds case)
)
DUCKDB_FLOATS = frozenset({"DOUBLE", "FLOAT"})


@dataclass(frozen=True)
class Dialect:
    name: str
    text_type: str  # what CAST(x AS ...) makes text
    unit_separator: str  # SQL for the one-character string U+001F
    md5_hex: str  # format string: {0} is a text expression
    quote: str = '"'
    bulk_rows: int = 1000  # rows per INSERT when loading the snapshot through SQLAlchemy
    row_hash: str | None = None  # format string: {0} is a comma-separated list of expressions
    hashable: frozenset[str] = frozenset()  # column types (as `model_types` names them) hashed as they are
    floats: frozenset[str] = frozenset()  # float types: hashed as they are, with `sign` beside them
    sign: str = ""  # format string: {0} is a float; tells -0.0 from 0.0 (NULL or a constant otherwise)
    fingerprint_type: str | None = None  # the row hash's own SQL type, kept as it is; None: text
    backslash_escapes: bool = False  # string literals treat backslash as an escape (BigQuery)
    key_hash: str = ""  # format string: {0} is a text key; a 64-bit hash whose SUM is exact (`watermark`)
    binary: str = ""  # the collation that compares and hashes text by its bytes (`text`)
    padded: frozenset[str] = frozenset()  # blank-padded types: hashed as text and their padded width

    def ident(self, name: str) -> str:
        q = self.quote
        return f"{q}{name.replace(q, q + q)}{q}"

    def text(self, column: str) -> str:
        """`column` as text that compares and hashes by its bytes, as state's keys and Python's
        strings do: a column's own collation (DuckDB `NOCASE`, a PostgreSQL nondeterministic ICU
        collation) would make 'Acme' equal 'acme' in a join and in `hash`, hiding a case-only edit
        and joining a re-cased key to the old one. `column`: an SQL expression, e.g. a column name
        quoted by the warehouse's own preparer."""
        cast = f"CAST({column} AS {self.text_type})"
        return f"({cast} COLLATE {self.binary})" if self.binary else cast

    def key(self, primary_key: Sequence[str]) -> str:
        return f" || {self.unit_separator} || ".join(self.text(c) for c in primary_key)

    def literal(self, value: str) -> str:
        """`value` as an SQL string literal."""
        if self.backslash_escapes:
            value = value.replace("\\", "\\\\")
        return "'" + value.replace("'", "\\'" if self.backslash_escapes else "''") + "'"

    def stored_fingerprint(self, text: str) -> str:
        """SQL turning a fingerprint as state keeps it (text) into the snapshot's column type."""
        return f"TRY_CAST({text} AS {self.fingerprint_type})" if self.fingerprint_type else text

    def _hashed(self, column: str, kind: str) -> str:
        if kind in self.hashable:
            return column
        if kind in self.floats:
            return f"{column}, {self.sign.format(column)}"
        if kind in self.padded:
            return f"{self.text(column)}, octet_length({column})"
        return self.text(column)

    def fingerprint(self, prefix: str, inputs: Sequence[str], types: Mapping[str, str] | None = None) -> str:
        """SQL for the source fingerprint (text). `types`: input expression -> its type, or None when
        unknown (then the MD5 form, which every dialect has)."""
        if self.row_hash is not None and (types is not None or self.fingerprint_type):
            values = [self._hashed(c, (types or {}).get(c, "")) for c in inputs]
            hashed = self.row_hash.format(", ".join([self.text(self.literal("h1" + prefix)), *values]))
            return hashed if self.fingerprint_type else f"CAST({hashed} AS {self.text_type})"
        parts = [
            f"COALESCE(CAST(LENGTH({self.text(c)}) AS {self.text_type}) || ':' || {self.text(c)}, '-')" for c in inputs
        ]
        return self.md5_hex.format(" || '|' || ".join([f"'{prefix}'", *parts]))


DIALECTS = {
    "duckdb": Dialect(
        "duckdb",
        "VARCHAR",
        "chr(31)",
        "md5({0})",
        row_hash="hash({0})",
        hashable=DUCKDB_HASHABLE,
        floats=DUCKDB_FLOATS,
        sign="signbit({0})",
        fingerprint_type="UBIGINT",
        key_hash="hash({0})",  # UBIGINT; SUM is a HUGEINT
        binary='"binary"',  # DuckDB docs, "Collations": binary is the default, byte-wise comparison
    ),
    "postgresql": Dialect(
        "postgresql",
        "TEXT",
        "chr(31)",
        "md5({0})",
        row_hash="hash_record_extended(ROW({0}), 0)",
        hashable=POSTGRESQL_HASHABLE,
        floats=POSTGRESQL_FLOATS,
        sign="CASE WHEN {0} = 0 THEN CAST({0} AS TEXT) END",
        key_hash="hashtextextended({0}, 0)",  # bigint; SUM is a numeric
        # the database's default collation: always deterministic (equal only when the bytes are: PostgreSQL docs,
        # 24.2.2.4 Nondeterministic Collations, cannot be a database default), and the snapshot's index uses it
        binary='"default"',
        padded=POSTGRESQL_PADDED,  # PostgreSQL docs, 8.3 Character Types: padding is dropped in a cast to text
    ),
    "snowflake": Dialect("snowflake", "VARCHAR", "CHR(31)", "MD5({0})", key_hash="HASH({0})"),  # SUM: NUMBER(38)
    "bigquery": Dialect(
        "bigquery",
        "STRING",
        "CODE_POINTS_TO_STRING([31])",
        "TO_HEX(MD5({0}))",
        quote="`",
        backslash_escapes=True,
        key_hash="CAST(FARM_FINGERPRINT({0}) AS BIGNUMERIC)",  # INT64 would overflow its SUM
    ),
}


def dialect_of(name: str) -> Dialect:
    """The dialect for a SQLAlchemy dialect name; KeyError names the ones supported."""
    if name not in DIALECTS:
        raise KeyError(f'diff = "warehouse" supports {", ".join(sorted(DIALECTS))}; this warehouse is {name}')
    return DIALECTS[name]


def model_types(engine: sa.Engine, dialect: Dialect, model_sql: str) -> dict[str, str]:
    """Model column (as the driver names it) -> type as the warehouse says it: DuckDB type names
    (DESCRIBE: `DECIMAL(10,2)`, `VARCHAR`), elsewhere the driver's type code as text (PostgreSQL
    type OIDs, pg_type.dat). One statement that reads no rows; WarehouseError when the warehouse refuses it."""
    try:
        with engine.connect() as conn:
            if dialect.name == "duckdb":
                described = conn.exec_driver_sql(f"DESCRIBE SELECT * FROM ({model_sql}) AS m")
                return {str(r[0]): str(r[1]) for r in described}
            result = conn.exec_driver_sql(f"SELECT * FROM ({model_sql}) AS m LIMIT 0")
            description = result.cursor.description if result.cursor is not None else None
            return {str(c[0]): str(c[1]) for c in description or ()}
    except sa.exc.SQLAlchemyError as exc:
        raise query_failed(exc) from exc


def column_types_hashable(engine: sa.Engine, dialect: Dialect) -> bool:
    """Does the dialect hash values by their type (`Dialect.hashable`)? Not without a row hash, nor
    on PostgreSQL before 14, which lacks `hash_record_extended`."""
    if dialect.row_hash is None:
        return False
    if dialect.name == "postgresql":
        with engine.connect() as conn:
            return (conn.dialect.server_version_info or (0,)) >= (14,)
    return True
