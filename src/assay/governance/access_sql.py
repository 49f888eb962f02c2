"""The SQL side of access control: governed select lists, row filters, and what a user's
query reads.

Under roles, a query runs over governed views (assay.engines.base.GovernedRef): each
table it names shows masked values and only the rows its filters keep, so joins, CTEs and
subqueries all see governed data. What is checked here, before it runs:

- its shape: one query (SELECT, UNION, ...), reading only `layer.name` tables and its own
  CTEs: no table functions or files (`read_parquet(...)`, `'x.csv'`), no engine internals,
  no statements that change anything;
- the columns it reads of each table (sqlglot's qualify with the tables' schemas, stars
  expanded, unused derived columns pruned), so a read that touches a denied column is
  refused and one that does not is allowed.

Example:
    >>> import pyarrow as pa
    >>> tree = checked_query("SELECT count(*) FROM silver.x WHERE email LIKE '%@a.org'")
    >>> columns_read(tree, {"silver.x": pa.schema([("email", pa.string()), ("n", pa.int64())])})
    {'silver.x': {'email'}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pyarrow as pa
import sqlglot
from sqlglot import exp

from assay.errors import AccessDeniedError, ProjectError, UsageError
from assay.sqlbuild import quote

if TYPE_CHECKING:
    from assay.governance.keys import TokenKeys


def select_list(
    columns: Mapping[str, str | None], dialect: str, keys: TokenKeys | None
) -> tuple[str, ...]:
    """The select list showing each column (name -> its mask, None: as stored).

    Example:
        >>> select_list({"id": None, "email": "hash"}, "duckdb", None)
        ('"id"', 'sha256(CAST("email" AS VARCHAR)) AS "email"')
    """
    from assay.governance.masking import mask_sql

    out = []
    for column, kind in columns.items():
        quoted = quote(column, dialect)  # assay.sqlbuild's: every name one identifier
        out.append(f"{mask_sql(kind, quoted, dialect, keys)} AS {quoted}" if kind else quoted)
    return tuple(out)


def check_predicate(predicate: str, where: str) -> exp.Expr:
    """Parse a row filter (DuckDB dialect): one scalar condition over the table's own
    columns; a ProjectError naming `where` otherwise."""
    try:
        tree = sqlglot.parse_one(predicate, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ProjectError(
            f"cannot parse the row filter {predicate!r}: {exc}",
            where=where,
            hint="write a DuckDB condition such as country = 'FR'",
        ) from None
    if tree.find(exp.Query, exp.Table) is not None:
        raise ProjectError(
            f"the row filter {predicate!r} reads a table",
            where=where,
            hint="a row filter is a condition over the table's own columns (no subqueries)",
        )
    return tree


def check_filter_columns(role: str, table: str, predicate: str, schema: pa.Schema) -> None:
    """Refuse a row filter that names a column the table lacks (it would fail, or worse,
    compare with something else)."""
    names = {n.lower() for n in schema.names}
    for column in check_predicate(predicate, f"roles.{role}.row_filters").find_all(exp.Column):
        if column.name.lower() not in names:
            raise ProjectError(
                f"role {role!r} filters {table} on column {column.name!r}, "
                "which the table does not have",
                where=f"{table}.{column.name}",
                hint=f"fix roles.{role}.row_filters in assay.yaml "
                f"(columns: {', '.join(schema.names)})",
            )


def predicate_columns(predicate: str) -> set[str]:
    """The columns a row filter names, lowercased.

    Example:
        >>> sorted(predicate_columns("country = 'FR' AND Amount > 3"))
        ['amount', 'country']
    """
    tree = check_predicate(predicate, "a row filter")
    return {column.name.lower() for column in tree.find_all(exp.Column)}


def dialect_predicate(predicate: str | None, dialect: str) -> str | None:
    """A row filter as `dialect` runs it.

    Example:
        >>> dialect_predicate("name ILIKE 'a%' AND n::INT > 1", "spark")
        "name ILIKE 'a%' AND CAST(n AS INT) > 1"
    """
    if predicate is None or dialect == "duckdb":
        return predicate
    return sqlglot.parse_one(predicate, read="duckdb").sql(dialect=dialect)


def checked_query(query: str) -> exp.Expr:
    """`query` parsed, when its shape may run under roles (see the module); else an
    AccessDeniedError saying what it may not do."""
    try:
        statements = [s for s in sqlglot.parse(query, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise UsageError(f"cannot parse the query: {exc}") from exc
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise AccessDeniedError(
            "under roles, `assay sql` runs one query (SELECT ...) and nothing else",
            hint="remove other statements (SET, COPY, ATTACH, DESCRIBE, ...)",
        )
    tree = statements[0]
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise AccessDeniedError(
                f"under roles, queries read warehouse tables only, not {table.this.sql('duckdb')}",
                hint="name tables as layer.name",
            )
        private = table.name.lower().startswith("__assay")  # the engines' own relations
        if (
            private
            or table.args.get("catalog")
            or (not table.db and table.name.lower() not in ctes)
        ):
            raise AccessDeniedError(
                f"under roles, queries read warehouse tables only, not {table.sql('duckdb')!r}",
                hint="name tables as layer.name",
            )
    return tree


def columns_read(tree: exp.Expr, schemas: Mapping[str, pa.Schema]) -> dict[str, set[str]] | None:
    """The columns of each table (`layer.name` -> names as the schema spells them) that
    `tree` reads anywhere (select list, filters, joins, groups); None when that cannot
    be told (a construct qualify does not follow, such as COLUMNS(...) or a table used as
    a value)."""
    from sqlglot.optimizer.pushdown_projections import pushdown_projections
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import traverse_scope

    spelled = {t: {n.lower(): n for n in s.names} for t, s in schemas.items()}
    nested: dict[str, object] = {}
    for table, names in spelled.items():
        layer, _, name = table.partition(".")
        layer_tables = nested.setdefault(layer, {})
        assert isinstance(layer_tables, dict)
        layer_tables[name] = dict.fromkeys(names, "VARCHAR")
    if tree.find(exp.Columns) is not None:  # COLUMNS('regex'): qualify does not expand it
        return None
    try:
        qualified = qualify(
            tree.copy(), schema=nested, dialect="duckdb", validate_qualify_columns=True
        )
        qualified = pushdown_projections(qualified)
        scopes = traverse_scope(qualified)
    except Exception:  # anything qualify cannot follow: the caller decides conservatively
        return None
    # Qualify gives every column its table; one left without is something else, such as
    # DuckDB's table alias used as a value (the whole row as a struct).
    if qualified.find(exp.TableColumn) is not None or any(
        not column.table for column in qualified.find_all(exp.Column)
    ):
        return None
    read: dict[str, set[str]] = {t: set() for t in schemas}
    for scope in scopes:
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if source is None:
                return None
            if isinstance(source, exp.Table) and source.db:
                table = f"{source.db}.{source.name}".lower()
                key = next((t for t in spelled if t.lower() == table), None)
                if key is None:
                    return None
                read[key].add(spelled[key].get(column.name.lower(), column.name))
    return read
