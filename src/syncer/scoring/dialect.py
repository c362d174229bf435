"""Portable SQL building blocks for the five warehouses (duckdb, sqlite, postgresql, snowflake, bigquery).

Each helper hides one known dialect difference, so the scoring SQL is written once:
- division: integer / integer truncates in postgres and sqlite, errors on zero in postgres and
  snowflake -> cast both sides to DOUBLE and divide by NULLIF(denominator, 0);
- GREATEST does not exist in sqlite (its multi-argument max() does the same);
- ROUND(double, n) does not exist in postgres (only ROUND(numeric, n));
- CAST('2024-01-31' AS DATE) turns into the integer 2024 in sqlite (DATE has numeric affinity);
- clamping to [0, 1] uses CASE, which behaves the same everywhere (LEAST/GREATEST null handling differs).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

DOUBLE: sa.Double[float] = sa.Double()
Expr = ColumnElement[Any]


class greatest(FunctionElement[float]):
    """GREATEST(a, b, ...); the arguments must not be NULL (coalesce them first)."""

    type = sa.Double()
    inherit_cache = True
    name = "greatest"


@compiles(greatest)
def _greatest_default(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"greatest({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


class least(FunctionElement[float]):
    """LEAST(a, b, ...); the arguments must not be NULL."""

    type = sa.Double()
    inherit_cache = True
    name = "least"


@compiles(least)
def _least_default(element: least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"least({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
def _least_sqlite(element: least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


class int_greatest(greatest):
    type = sa.BigInteger()  # type: ignore[assignment]
    inherit_cache = True


class int_least(least):
    type = sa.BigInteger()  # type: ignore[assignment]
    inherit_cache = True


class round2(FunctionElement[float]):
    """ROUND(x, 2) as a DOUBLE, in every dialect."""

    type = sa.Double()
    inherit_cache = True
    name = "round2"


@compiles(round2)
def _round_default(element: round2, compiler: SQLCompiler, **kw: Any) -> str:
    return f"round({compiler.process(element.clauses, **kw)}, 2)"


@compiles(round2, "postgresql")
def _round_postgres(element: round2, compiler: SQLCompiler, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(round(CAST({arg} AS NUMERIC), 2) AS DOUBLE PRECISION)"


class date_literal(FunctionElement[date]):
    """A typed DATE constant; plain ISO text on sqlite, where dates are stored as ISO text."""

    type = sa.Date()
    inherit_cache = True
    name = "date_literal"

    def __init__(self, value: date) -> None:
        self.value = value
        super().__init__()


@compiles(date_literal)
def _date_default(element: date_literal, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST('{element.value.isoformat()}' AS DATE)"


@compiles(date_literal, "sqlite")
def _date_sqlite(element: date_literal, compiler: SQLCompiler, **kw: Any) -> str:
    return f"'{element.value.isoformat()}'"


def as_double(expr: Expr | float | int) -> Expr:
    """CAST(expr AS DOUBLE): the only numeric type we compute in."""
    if isinstance(expr, int | float):
        return sa.cast(sa.literal(expr), DOUBLE)
    return sa.cast(expr, DOUBLE)


def ratio(numerator: Expr, denominator: Expr) -> Expr:
    """numerator / denominator as DOUBLE; NULL when the denominator is 0 or NULL."""
    return as_double(numerator) / sa.func.nullif(as_double(denominator), 0, type_=DOUBLE)


def clamp01(expr: Expr) -> Expr:
    """Clamp to [0, 1]; NULL becomes 0 (a missing signal scores nothing)."""
    value = sa.func.coalesce(expr, 0.0, type_=DOUBLE)
    return sa.case((value > 1.0, 1.0), (value < 0.0, 0.0), else_=value)


def flag(condition: Expr) -> Expr:
    """A boolean condition as integer 0/1, so results look the same in every warehouse."""
    return sa.case((condition, 1), else_=0)


def sql_text(stmt: sa.ClauseElement, dialect: sa.Dialect) -> str:
    """Render a statement with its constants inlined: one plain SQL string per statement."""
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    # format/pyformat drivers get "%" doubled at compile time for their parameter parsing; we run the
    # string without parameters (no_parameters=True), so the DBAPI must see single "%" characters.
    return sql.replace("%%", "%") if dialect.paramstyle in ("format", "pyformat") else sql
