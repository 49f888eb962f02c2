"""Small builders of sqlglot expressions for contract SQL, and the kinds of Arrow columns
rules care about. SQL is rendered in DuckDB's dialect; engines translate it (Spark).
Names and values go through `assay.sqlbuild`, like every SQL that assay generates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import pyarrow as pa
from sqlglot import exp

from assay import sqlbuild


def col(name: str) -> exp.Column:
    """A quoted column reference (any name works).

    Example:
        >>> sql(col("card id"))
        '"card id"'
    """
    return sqlbuild.column(name)


def lit(value: Any) -> exp.Expr:
    """A SQL literal for a YAML scalar. A date or time YAML read (`2024-01-01`) stays the
    text it was written as, which the engine compares with the column's own type.

    Example:
        >>> [sql(lit(v)) for v in ("it's", 3, True, None, date(2024, 1, 2))]
        ["'it''s'", '3', 'TRUE', 'NULL', "'2024-01-02'"]
    """
    if isinstance(value, date) or not isinstance(value, int | float | str | None):
        return sqlbuild.string(str(value))
    return sqlbuild.literal(value)


def text(e: exp.Expr) -> exp.Expr:
    """`e` as text."""
    return exp.cast(e, "VARCHAR")


def search(e: exp.Expr, pattern: str) -> exp.Expr:
    """True when `pattern` matches somewhere in the text `e` (DuckDB regexp_matches,
    Spark RLIKE: both search, as ECMA-262 `pattern` does)."""
    return exp.RegexpLike(this=e, expression=lit(pattern))


def is_true(e: exp.Expr) -> exp.Expr:
    """`e`, with NULL read as false."""
    return exp.func("coalesce", e, exp.false())


def count_where(condition: exp.Expr) -> exp.Expr:
    """count(*) FILTER (WHERE condition)."""
    return exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=condition))


def any_of(conditions: Iterable[exp.Expr]) -> exp.Expr:
    """OR of `conditions` (FALSE when there are none)."""
    items = [exp.paren(c) for c in conditions]
    return exp.or_(*items) if items else exp.false()


def all_of(conditions: Iterable[exp.Expr]) -> exp.Expr:
    """AND of `conditions` (TRUE when there are none)."""
    items = [exp.paren(c) for c in conditions]
    return exp.and_(*items) if items else exp.true()


def sql(e: exp.Expr) -> str:
    """DuckDB SQL for an expression."""
    return sqlbuild.render(e, "duckdb")


def kind(dtype: pa.DataType) -> str:
    """What a rule needs to know of a column's Arrow type.

    Example:
        >>> kind(pa.large_string()), kind(pa.decimal128(10, 2)), kind(pa.list_(pa.int64()))
        ('text', 'number', 'list')
    """
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "text"
    if hasattr(pa.types, "is_string_view") and pa.types.is_string_view(dtype):
        return "text"
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_integer(dtype):
        return "integer"
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "number"
    if pa.types.is_timestamp(dtype):
        return "timestamptz" if dtype.tz else "timestamp"
    if pa.types.is_date(dtype):
        return "date"
    if pa.types.is_time(dtype):
        return "time"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return "list"
    if pa.types.is_fixed_size_list(dtype):
        return "list"
    if pa.types.is_struct(dtype):
        return "struct"
    if pa.types.is_map(dtype):
        return "map"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return "binary"
    return "other"


#: Kinds whose values compare and count as scalars (profiles, distinct counts).
SCALAR = {"text", "boolean", "integer", "number", "timestamp", "timestamptz", "date"}
