"""Spark's own verdict on translated SQL before it runs: its parser, and its function
registry for every function the parsed plan calls (Spark resolves functions only when a
query is analysed against its tables, so a missing one would fail at run time)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from assay.errors import DefinitionError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

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
