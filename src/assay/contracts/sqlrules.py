"""`type: sql` quality rules: parsed when the contract loads, bound to datasets, rendered
per run as sqlglot expressions (user SQL is parsed, never edited as text).

The standard's placeholders `{object}` and `{property}` (and `${table}`/`${column}`, or
`{table}`/`{column}`) stand for the bound dataset and the rule's column; any other table the
query names is the contract's own object (by its name or physicalName) or a dataset of the
project, resolved by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from assay import sqlbuild
from assay.contracts.errors import ContractError

_PLACEHOLDER = re.compile(r"\$?\{(object|table|property|column)\}")
_OBJECT, _PROPERTY = "__assay_object__", "__assay_property__"
#: The table name that stands for the checked object in a parsed query's tree (for
#: integrations that build a `SqlQuery` from SQL of their own, such as dbt's tests).
OBJECT = _OBJECT
#: The alias under which a query reads the batch (or table) being checked.
BATCH = "batch"


class SqlRuleError(ContractError):
    """A `type: sql` rule cannot be parsed or names a table that is not a dataset."""


@dataclass(frozen=True)
class SqlQuery:
    """A parsed SQL rule. `tables` maps each table name the query reads (lower case) to
    the dataset it reads: "" for the contract's own object, None while unbound."""

    text: str
    tree: exp.Expr = field(compare=False, repr=False)
    tables: Mapping[str, str | None] = field(default_factory=dict)


def parse_query(text: str, rule: str, where: str, has_property: bool) -> SqlQuery:
    """Parse a rule's query (DuckDB's dialect), failing at load with file and rule named.

    Example:
        >>> q = parse_query("SELECT count(*) FROM {object} WHERE {property} < 0", "r", "c", True)
        >>> dict(q.tables)
        {}
    """
    uses_property = any(m.group(1) in ("property", "column") for m in _PLACEHOLDER.finditer(text))
    if uses_property and not has_property:
        raise SqlRuleError(
            f"sql rule {rule!r} uses {{property}} but is not under a property",
            where=where,
            hint="move the rule into the property's quality list, or name the column",
        )
    # Placeholders are not SQL: they become identifiers before parsing, nothing else changes.
    source = _PLACEHOLDER.sub(
        lambda m: _OBJECT if m.group(1) in ("object", "table") else _PROPERTY, text
    )
    try:
        tree = sqlglot.parse_one(source, read="duckdb")
    except ParseError as exc:
        raise SqlRuleError(
            f"sql rule {rule!r} does not parse: {_first_error(exc)}",
            where=where,
            hint="write the query in DuckDB's SQL dialect (assay translates it for Spark)",
        ) from None
    if not isinstance(tree, exp.Query):
        raise SqlRuleError(
            f"sql rule {rule!r} is a {tree.key.upper()} statement, not a query",
            where=where,
            hint="a sql rule is a SELECT returning one number or boolean",
        )
    return SqlQuery(text, tree, {name: None for name in _table_names(tree)})


def _first_error(exc: ParseError) -> str:
    if exc.errors:
        first = exc.errors[0]
        return f"{first.get('description')} (line {first.get('line')}, col {first.get('col')})"
    return str(exc).splitlines()[0]


def _table_names(tree: exp.Expr) -> list[str]:
    """Tables the query reads: not CTEs, not the placeholder for the object."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = []
    for table in tree.find_all(exp.Table):
        name = _full_name(table)
        if name != _OBJECT and name.lower() not in ctes:
            names.append(name.lower())
    return list(dict.fromkeys(names))


def _full_name(table: exp.Table) -> str:
    return ".".join(part.name for part in table.parts)


def bind_query(
    query: SqlQuery, is_own_object: Callable[[str], bool], resolve: Callable[[str], str]
) -> SqlQuery:
    """Bind each table the query names: the contract's object, or a project dataset
    (`resolve` raises, naming the candidates, when a name is no dataset)."""
    tables = {name: "" if is_own_object(name) else resolve(name) for name in dict(query.tables)}
    return replace(query, tables=tables)


def render(query: SqlQuery, column: str | None) -> tuple[str, dict[str, str]]:
    """DuckDB SQL for a bound query, and the datasets it reads under which aliases (the
    rule's own object is read as `batch`)."""
    aliases: dict[str, str] = {}
    datasets: dict[str, str] = {}
    for name, dataset in query.tables.items():
        if dataset is None:
            raise SqlRuleError(f"sql rule reads {name!r}, which is not bound to a dataset")
        if not dataset:
            aliases[name] = BATCH
        else:
            alias = datasets.setdefault(dataset, f"assay_ref_{len(datasets)}")
            aliases[name] = alias

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table):
            name = _full_name(node)
            target = BATCH if name == _OBJECT else aliases.get(name.lower())
            if target is None:
                return node  # a CTE
            keep = node.alias or (node.name if name != _OBJECT else "")
            table = exp.to_table(target)
            return exp.alias_(table, keep, table=True) if keep else table
        if isinstance(node, exp.Column) and node.name == _PROPERTY and column is not None:
            return sqlbuild.column(column)
        return node

    sql = query.tree.copy().transform(rewrite).sql(dialect="duckdb")
    return sql, {alias: dataset for dataset, alias in datasets.items()}
