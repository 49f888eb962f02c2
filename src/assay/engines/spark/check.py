"""Spark's own verdict on translated SQL before it runs: its parser, and its function
registry for every function the parsed plan calls (Spark resolves functions only when a
query is analysed against its tables, so a missing one would fail at run time)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from assay.errors import DefinitionError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: An unresolved function call as Spark prints a parsed plan: 'name('arg, ...).
_CALL = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)\(")
_HINT = (
    "rewrite that construct in SQL both DuckDB and Spark know, "
    "or use a Python transform with engines=['spark']"
)


def check_spark_sql(spark: SparkSession, spark_sql: str, where: str | None) -> None:
    """Parse each statement with Spark's parser and look up each function it calls.

    Raises:
        DefinitionError: PARSE_SYNTAX_ERROR or a function Spark does not have
            (UNRESOLVED_ROUTINE), with the SQL as Spark saw it.
    """
    from pyspark.errors import ParseException

    parser = spark._jsparkSession.sessionState().sqlParser()
    for statement in filter(None, (s.strip() for s in spark_sql.split(";\n"))):
        try:
            plan = parser.parsePlan(statement)
        except ParseException as exc:
            first = str(exc).strip().splitlines()[0][:300]
            raise DefinitionError(
                f"Spark cannot parse the translated SQL ({first})\n  as Spark SQL: {statement}",
                where=where,
                hint=_HINT,
            ) from exc
        called = set(_CALL.findall(plan.toString()))
        missing = sorted(
            name
            for name in called
            if re.search(rf"\b{name}\s*\(", statement, re.IGNORECASE)
            and not spark.catalog.functionExists(name)
        )
        if missing:
            names = ", ".join(f"{m.lower()}()" for m in missing)
            raise DefinitionError(
                f"cannot translate to spark: Spark has no function {names} "
                f"(UNRESOLVED_ROUTINE)\n  as Spark SQL: {statement}",
                where=where,
                hint=_HINT,
            )


#: Expressions that hold a query plan of their own (a subquery).
_SUBQUERIES = frozenset({"ScalarSubquery", "Exists", "ListQuery", "InSubquery", "LateralSubquery"})


def check_remainders(df: DataFrame, spark_sql: str, where: str | None = None) -> None:
    """Refuse `%` of floating-point numbers, found in Spark's analysed plan (the types
    are known only there): by zero DuckDB gives NaN and Spark fails the query, and no
    Spark expression gives NaN there while keeping an integer `%` an integer.

    Raises:
        DefinitionError: naming `%` and the portable alternatives.
    """
    kinds = _remainder_types(df._jdf.queryExecution().analyzed())
    if kinds & {"double", "float"}:
        raise DefinitionError(
            "cannot translate to spark: `%` of floating-point numbers (a zero divisor gives "
            f"NaN on DuckDB and fails on Spark)\n  as Spark SQL: {spark_sql}",
            where=where,
            hint="take `%` of DECIMALs (e.g. CAST(x AS DECIMAL(18, 6)) % y) or of integers: "
            "by zero both engines fail; or use a Python transform with engines=['spark']",
        )


def _remainder_types(plan: Any) -> set[str]:
    """The result types of every `%` (Spark's Remainder) in an analysed plan, subqueries too."""
    found: set[str] = set()
    plans = [plan]
    while plans:
        node = plans.pop()
        plans.extend(_seq(node.children()))
        expressions = _seq(node.expressions())
        while expressions:
            e = expressions.pop()
            name = e.nodeName()
            if name == "Remainder":
                found.add(str(e.dataType().typeName()))
            elif name in _SUBQUERIES:
                plans.append(e.plan())
            expressions.extend(_seq(e.children()))
    return found


def _seq(seq: Any) -> list[Any]:
    """A Scala Seq (through py4j) as a list."""
    out = []
    it = seq.iterator()
    while it.hasNext():
        out.append(it.next())
    return out
