"""Which input columns' values reach each output column of a dataset: the paths along
which a classification travels.

A SQL dataset's flows are its DIRECT column lineage after the expressions that take the
values away are replaced by a constant: counts (`count(email)`, `count(DISTINCT email)`,
`approx_count_distinct`) and one-way hashes (`sha256`, `sha1`, `md5`, `hash`,
`md5_number`). Whatever still flows through (`max(email)`, `lower(email)`, a CTE) keeps
the value. Filters, joins and conditions (INDIRECT lineage) carry no value. A Python
dataset's flows are its declared `lineage=`, else its columns that have an input
column's name (a rename inside Python code is invisible without `lineage=`).

Example:
    >>> flows = sql_flows(
    ...     "SELECT lower(email) AS email, count(email) AS n, sha256(email) AS h FROM s.c",
    ...     {"s.c": ["email"]}, "x")
    >>> flows
    {'email': [('s.c', 'email')], 'n': [], 'h': []}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp

from assay.errors import DefinitionError

#: A column of a dataset: (`layer.name`, column).
ColumnRef = tuple[str, str]
#: Output column -> the input columns whose values reach it.
Flows = dict[str, list[ColumnRef]]

#: Functions whose result keeps none of the values they read (by DuckDB name).
_VALUE_FREE = frozenset({"hash", "md5_number", "md5_number_upper", "md5_number_lower"})
_VALUE_FREE_TYPES = (exp.Count, exp.ApproxDistinct, exp.SHA, exp.SHA2, exp.MD5)
#: Interval bounds for `{{ start }}` and `{{ end }}`: any will do, no rows are read.
_BOUNDS = {"start": "2000-01-01 00:00:00", "end": "2000-01-02 00:00:00"}


def _takes_values_away(node: exp.Expression) -> bool:
    # `count(x) FILTER (WHERE ...)` and `count(x) OVER (...)` go whole: a bare constant
    # cannot take a FILTER or OVER clause.
    if isinstance(node, exp.Filter | exp.Window) and isinstance(node.this, exp.Expression):
        return _takes_values_away(node.this)
    if isinstance(node, _VALUE_FREE_TYPES):
        return True
    return isinstance(node, exp.Anonymous) and str(node.this).lower() in _VALUE_FREE


def _constant(node: exp.Expression) -> exp.Expression:
    return exp.Literal.number(0) if _takes_values_away(node) else node


def sql_flows(sql: str, inputs: Mapping[str, Sequence[str]], where: str) -> Flows:
    """The value flows of one SELECT (DuckDB dialect) over `inputs` (table -> columns).

    Raises:
        DefinitionError: the SQL does not parse.
    """
    import sqlglot
    from sqlglot.errors import ParseError

    from assay.lineage.sql import sql_lineage

    try:
        parsed = sqlglot.parse_one(sql, dialect="duckdb")
    except ParseError as exc:
        raise DefinitionError(f"the SQL does not parse: {exc}", where=where) from None
    valued = parsed.transform(_constant, copy=True)
    schemas = {t: dict.fromkeys(cols, "") for t, cols in inputs.items()}
    found = sql_lineage(valued.sql(dialect="duckdb"), schemas, where)
    names = {t.lower(): t for t in inputs}
    return {
        column: list(
            dict.fromkeys(
                (names.get(u.table.lower(), u.table), u.column) for u in uses if u.type == "DIRECT"
            )
        )
        for column, uses in found.columns.items()
    }


def render(sql: str, variables: Mapping[str, Any], where: str) -> str:
    """`sql` with its templates filled as lineage fills them (any interval will do)."""
    from assay.pipelines.transforms import render_sql

    return render_sql(sql, {**_BOUNDS, "vars": variables}, where)


def declared_flows(lineage: Mapping[str, Sequence[str]], datasets: Sequence[str]) -> Flows:
    """A Python dataset's `lineage={"out": ["layer.name.column"]}` as flows.

    Example:
        >>> declared_flows({"n": ["silver.c.email"]}, ["silver.c"])
        {'n': [('silver.c', 'email')]}
    """
    flows: Flows = {}
    for column, refs in lineage.items():
        pairs = [tuple(ref.rsplit(".", 1)) for ref in refs]
        flows[column] = [(t, c) for t, c in pairs if t in datasets]
    return flows


def same_name_flows(inputs: Mapping[str, Sequence[str]], columns: Sequence[str] | None) -> Flows:
    """Flows of a dataset whose code assay cannot read: each of its columns (all the
    inputs' when unknown) from the input columns of the same name.

    Example:
        >>> same_name_flows({"s.a": ["email", "x"]}, ["email", "y"])
        {'email': [('s.a', 'email')], 'y': []}
    """
    outputs = columns if columns is not None else [c for cols in inputs.values() for c in cols]
    return {
        column: [(table, column) for table, cols in inputs.items() if column in cols]
        for column in dict.fromkeys(outputs)
    }
