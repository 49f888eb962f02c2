"""Name dbt relations the assay way in compiled SQL: `"memory"."silver"."transactions"`
becomes `silver.transactions`, `"memory"."main"."stg_x"` the model's dataset. The SQL is
parsed and its Table nodes replaced (sqlglot), never edited as text."""

from __future__ import annotations

import re
from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from assay.integrations.dbt.compile import DbtError

#: A relation as dbt names it: (database, schema, identifier), lower case.
Relation = tuple[str, str, str]


def relation_key(database: str | None, schema: str | None, identifier: str) -> Relation:
    """The lookup key of a relation.

    Example:
        >>> relation_key("memory", "Main", "stg_x")
        ('memory', 'main', 'stg_x')
    """
    return ((database or "").lower(), (schema or "").lower(), identifier.lower())


def parse_compiled(sql: str, where: str, compiled_path: str | None = None) -> exp.Query:
    """dbt's compiled SQL as a sqlglot query (DuckDB's dialect, dbt-duckdb's).

    Example:
        >>> parse_compiled("SELECT 1 AS one", "models/one.sql").sql()
        'SELECT 1 AS one'

    Raises:
        DbtError: the SQL does not parse: the line and column in the compiled SQL, that
            line quoted, and where the compiled SQL is (`compiled_path`).
    """
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except ParseError as exc:
        raise _parse_error(sql, exc, where, compiled_path) from None
    if not isinstance(tree, exp.Query):
        raise DbtError(
            f"compiled SQL is a {tree.key.upper()} statement, not a query",
            where=where,
            hint="a dbt model that assay runs is one SELECT",
        )
    return tree


def _parse_error(sql: str, exc: ParseError, where: str, compiled_path: str | None) -> DbtError:
    first = exc.errors[0] if exc.errors else {}
    description = first.get("description") or str(exc).splitlines()[0]
    description = re.sub(r"<class '(?:\w+\.)*(\w+)'>", r"\1", description)  # sqlglot's class
    line, column = first.get("line"), first.get("col")
    lines = sql.splitlines()
    place, quoted = "", ""
    if isinstance(line, int) and 1 <= line <= len(lines):
        place = f" at line {line}, column {column} of the compiled SQL"
        quoted = f": `{lines[line - 1].strip()}`"
    shown = compiled_path or "the dbt target folder"
    return DbtError(
        f"compiled SQL does not parse{place}{quoted} ({description})",
        where=where,
        hint=f"fix the model; the compiled SQL is in {shown} (assay runs it on DuckDB: "
        "write the model in DuckDB's SQL)",
    )


def rename_relations(
    tree: exp.Query, names: Mapping[Relation, str], where: str
) -> tuple[exp.Query, list[str]]:
    """`tree` with every dbt relation replaced by its assay name (keeping, or adding, the
    alias the SQL qualifies columns with), and the assay names it reads, in order.

    Example:
        >>> q = parse_compiled('SELECT t.a FROM "memory"."silver"."tx" t', "m")
        >>> out, read = rename_relations(q, {("memory", "silver", "tx"): "silver.tx"}, "m")
        >>> out.sql("duckdb"), read
        ('SELECT t.a FROM silver.tx AS t', ['silver.tx'])

    Raises:
        DbtError: a three-part relation that is no dbt model or source (a hard-coded table).
    """
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    read: list[str] = []

    def rewrite(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Table) or not node.name:
            return node
        if not node.args.get("db") and node.name.lower() in ctes:
            return node  # a CTE (dbt inlines ephemeral models as __dbt__cte__ ones)
        key = relation_key(node.catalog, node.db, node.name)
        target = names.get(key)
        if target is None:
            raise DbtError(
                f"the SQL reads {node.sql('duckdb')}, which is no dbt model or source",
                where=where,
                hint="read assay tables through {{ source('<layer>', '<table>') }} and "
                "models through {{ ref('<model>') }}",
            )
        read.append(target)
        alias = node.alias or node.name  # columns may be qualified with the old name
        return exp.alias_(exp.to_table(target), alias, table=True)

    renamed = tree.copy().transform(rewrite)
    assert isinstance(renamed, exp.Query)  # only Table nodes were replaced
    return renamed, list(dict.fromkeys(read))
