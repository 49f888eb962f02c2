"""Translate SQL written in DuckDB's dialect (assay's one dialect) to another engine's.

sqlglot does the work; this module turns its failures into errors that name the dataset and
the construct, and says what to do about it.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError

from assay.engines.spark_sql import SPARK_HAS, spark_semantics
from assay.errors import DefinitionError


def translate(duckdb_sql: str, dialect: str, where: str | None = None) -> str:
    """`duckdb_sql` in `dialect`, or a DefinitionError naming what cannot be translated.

    Example:
        >>> translate("SELECT a FROM t WHERE b > 1 GROUP BY ALL", "spark")
        'SELECT a FROM t WHERE b > 1 GROUP BY ALL'
        >>> translate("SELECT a FROM t QUALIFY row_number() OVER (ORDER BY a) = 1", "spark")[-14:]
        'AS _t WHERE _w'
        >>> translate("SELECT my_macro(a) FROM t", "spark")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        assay.errors.DefinitionError: cannot translate to spark: my_macro() is not known...
    """
    return _translate(duckdb_sql, dialect, where)


@functools.lru_cache(maxsize=512)
def _translate(duckdb_sql: str, dialect: str, where: str | None) -> str:
    try:
        statements = sqlglot.parse(duckdb_sql, read="duckdb")
    except ParseError as exc:
        raise DefinitionError(
            f"cannot parse the SQL as DuckDB SQL: {_first_error(exc)}",
            where=where,
            hint="datasets are written in DuckDB's dialect; fix the syntax named above",
        ) from exc
    unknown = _unknown_functions(statements)
    if dialect == "spark":
        unknown -= {f"{name}()" for name in SPARK_HAS}
    if unknown and dialect != "duckdb":
        raise DefinitionError(
            f"cannot translate to {dialect}: {', '.join(sorted(unknown))} "
            f"{'is' if len(unknown) == 1 else 'are'} not known outside DuckDB",
            where=where,
            hint=f"use a standard SQL function, or a Python transform with engines=['{dialect}']",
        )
    if dialect == "spark":
        _check_spark(statements, where)
    if dialect == "spark":
        statements = [_naive_truncation(spark_semantics(s, where)) if s else s for s in statements]
    try:
        out = [s.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE) for s in statements if s]
    except UnsupportedError as exc:
        raise DefinitionError(
            f"cannot translate to {dialect}: {exc}",
            where=where,
            hint=f"rewrite that construct in SQL both DuckDB and {dialect} know, "
            f"or use a Python transform with engines=['{dialect}']",
        ) from exc
    return ";\n".join(out)


def _unknown_functions(statements: list[Any]) -> set[str]:
    """Functions sqlglot only passes through by name: they exist in DuckDB alone (or are
    user macros), and another engine would fail on them at run time, far from the cause."""
    names = set()
    for statement in statements:
        if statement is None:
            continue
        for func in statement.find_all(exp.Anonymous):
            names.add(f"{func.name}()")
    return names


#: DuckDB constructs sqlglot passes through unchanged that Spark SQL does not have.
_SPARK_LACKS_TYPES = {"INT128", "UINT128", "UBIGINT", "UINT", "USMALLINT", "UTINYINT"}


def _check_spark(statements: list[Any], where: str | None) -> None:
    for statement in statements:
        if statement is None:
            continue
        for join in statement.find_all(exp.Join):
            if str(join.args.get("method") or "").upper() == "ASOF":
                _untranslatable(
                    "ASOF JOIN", where, "use a window function (last_value ... IGNORE NULLS)"
                )
        for star in statement.find_all(exp.Star):
            if star.args.get("replace"):
                _untranslatable("SELECT * REPLACE (...)", where, "list the columns instead")
        for kind in statement.find_all(exp.DataType):
            if kind.this.name in _SPARK_LACKS_TYPES:
                _untranslatable(f"type {kind.this.value}", where, "use BIGINT or DECIMAL(38, 0)")


def _untranslatable(construct: str, where: str | None, hint: str) -> None:
    raise DefinitionError(
        f"cannot translate to spark: Spark SQL has no {construct}",
        where=where,
        hint=f"{hint}, or use a Python transform with engines=['spark']",
    )


def _first_error(exc: ParseError) -> str:
    if exc.errors:
        first = exc.errors[0]
        return f"{first.get('description')} at line {first.get('line')}, column {first.get('col')}"
    return str(exc)


def _naive_truncation(statement: Any) -> Any:
    """Spark's date_trunc returns a zoned TIMESTAMP even for a naive input, where DuckDB's
    keeps TIMESTAMP: cast it back, so a truncated day has the same type on both engines."""

    def cast(node: Any) -> Any:
        if isinstance(node, exp.TimestampTrunc | exp.DateTrunc) and not isinstance(
            node.parent, exp.Cast
        ):
            return exp.cast(node.copy(), exp.DataType.build("TIMESTAMP_NTZ", dialect="spark"))
        return node

    return statement.transform(cast)
