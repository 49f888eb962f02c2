"""Column lineage of one SQL query (DuckDB dialect) from the schemas of its input tables.

The query is qualified by sqlglot against the schemas (stars expanded, `* EXCLUDE` and
`JOIN ... USING` resolved, every column tied to its table), then each scope (CTE, derived
table, subquery, union branch) is read innermost first: what each of its output columns
is made of, and what every one of its rows depends on (JOIN conditions, WHERE, HAVING,
QUALIFY, GROUP BY, ORDER BY). Outer scopes compose their uses with the inner ones, so the
result names only the input tables' columns.

Example:
    >>> result = sql_lineage(
    ...     "SELECT k, sum(v) AS total FROM s.t WHERE v > 0 GROUP BY k",
    ...     {"s.t": {"k": "INT", "v": "INT"}},
    ... )
    >>> sorted((u.column, u.type, u.subtype) for u in result.columns["total"])
    [('k', 'INDIRECT', 'GROUP_BY'), ('v', 'DIRECT', 'AGGREGATION'), ('v', 'INDIRECT', 'FILTER')]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from assay.errors import DefinitionError
from assay.lineage.graph import INDIRECT
from assay.lineage.sqlexpr import IDENTITY, ExpressionUses, Kind, Use, compose

#: Input table name -> its columns and their SQL types.
Schemas = Mapping[str, Mapping[str, str]]


@dataclass
class SqlLineage:
    """Each output column of a query -> the input columns it uses; what did not resolve."""

    columns: dict[str, list[Use]] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)


def sql_lineage(sql: str, schemas: Schemas, where: str = "<sql>") -> SqlLineage:
    """The column lineage of `sql` over tables whose columns `schemas` gives.

    Raises:
        DefinitionError: the SQL does not parse (or is not one query).
    """
    try:
        parsed = sqlglot.parse_one(sql, dialect="duckdb")
    except ParseError as exc:
        raise DefinitionError(
            f"the SQL does not parse for lineage: {exc.errors[0]['description']}"
            if exc.errors
            else f"the SQL does not parse for lineage: {exc}",
            where=where,
            hint="check the query runs in DuckDB (`assay sql`)",
        ) from None
    if not isinstance(parsed, exp.Query):
        raise DefinitionError(
            f"lineage reads SELECT queries, not {type(parsed).__name__.upper()}",
            where=where,
            hint="write the dataset as a SELECT to trace its columns",
        )
    aliases = _written_aliases(parsed)
    columns = _case_map(schemas)
    nested = _nest(schemas)
    result = SqlLineage()
    try:
        qualified = qualify(
            parsed,
            schema=nested,
            dialect="duckdb",
            validate_qualify_columns=False,
            quote_identifiers=False,
        )
    except OptimizeError as exc:
        result.unresolved.append(f"* ({exc})")
        return result
    reader = _ScopeReader(columns, result.unresolved)
    outputs = reader.read(qualified)
    for name, uses in outputs.items():
        result.columns[_output_name(name, uses, aliases, columns)] = uses
    return result


def _nest(schemas: Schemas) -> dict[str, object]:
    """{"layer.name": cols} -> {"layer": {"name": cols}}: the shape sqlglot's schema takes."""
    nested: dict[str, dict[str, Mapping[str, str]]] = {}
    flat: dict[str, Mapping[str, str]] = {}
    for name, cols in schemas.items():
        if "." in name:
            db, table = name.rsplit(".", 1)
            nested.setdefault(db, {})[table] = cols
        else:
            flat[name] = cols
    if nested and flat:  # sqlglot wants one depth: bare names go under the default db
        nested.setdefault("main", {}).update(flat)
    return dict(nested) if nested else dict(flat)


def _case_map(schemas: Schemas) -> dict[str, dict[str, str]]:
    """Table (lower case) -> column in lower case -> as the table spells it (DuckDB matches
    names case-insensitively; sqlglot folds them to lower case)."""
    return {t.lower(): {c.lower(): c for c in cols} for t, cols in schemas.items()}


def _written_aliases(parsed: exp.Query) -> dict[str, str]:
    """Output names as the outermost SELECT writes them, by their lower case."""
    select = parsed
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return {}
    return {p.alias_or_name.lower(): p.alias_or_name for p in select.expressions}


def _output_name(
    name: str, uses: list[Use], aliases: Mapping[str, str], columns: Mapping[str, Mapping[str, str]]
) -> str:
    if name in aliases and aliases[name] != "*":
        return aliases[name]
    copied = [u for u in uses if u.subtype == "IDENTITY"]
    if copied:  # an expanded star, or a bare column: named as its input spells it
        return copied[0].column
    return name


class _ScopeReader:
    """Reads the scopes of a qualified query, innermost first."""

    def __init__(self, columns: Mapping[str, Mapping[str, str]], unresolved: list[str]):
        self.columns = columns
        self.unresolved = unresolved
        #: id of a scope's expression (and of its Subquery wrapper) -> its output columns.
        self.results: dict[int, dict[str, list[Use]]] = {}
        #: the same key -> what every row of that scope depends on (its filters, joins...).
        self.rows: dict[int, list[Use]] = {}

    def read(self, qualified: exp.Expr) -> dict[str, list[Use]]:
        outputs: dict[str, list[Use]] = {}
        for scope in traverse_scope(qualified):
            rows: list[Use] = []
            if isinstance(scope.expression, exp.SetOperation):
                outputs, rows = self._set_operation(scope.expression)
            elif isinstance(scope.expression, exp.Select):
                outputs, rows = self._select(scope)
            else:  # VALUES, a table function: constants or nothing to trace
                outputs = {}
            keys = [id(scope.expression)]
            if isinstance(scope.expression.parent, exp.Subquery):
                keys.append(id(scope.expression.parent))
            for key in keys:
                self.results[key], self.rows[key] = outputs, rows
        return outputs

    def _set_operation(self, node: exp.SetOperation) -> tuple[dict[str, list[Use]], list[Use]]:
        """UNION: column i of each branch feeds column i; EXCEPT and INTERSECT: the right
        branch only filters the left one's rows."""
        left, right = self.results.get(id(node.this), {}), self.results.get(id(node.expression), {})
        if len(left) != len(right):
            self.unresolved.append(f"* (set operation of {len(left)} and {len(right)} columns)")
        outputs: dict[str, list[Use]] = {}
        for (name, left_uses), right_uses in zip(left.items(), right.values(), strict=False):
            if not isinstance(node, exp.Union):
                right_uses = [compose((INDIRECT, "FILTER"), u) for u in right_uses]
            outputs[name] = _unique(left_uses + right_uses)
        rows = self.rows.get(id(node.this), []) + self.rows.get(id(node.expression), [])
        return outputs, _unique(rows)

    def _select(self, scope: Scope) -> tuple[dict[str, list[Use]], list[Use]]:
        select = scope.expression
        assert isinstance(select, exp.Select)  # read() sends only SELECT scopes here
        windows = {w.name: w for w in select.args.get("windows") or []}
        own: dict[str, list[Use]] = {}
        uses = ExpressionUses(lambda c: self._resolve(scope, c, own), self._subquery, windows)
        for projection in select.expressions:
            if isinstance(projection, exp.Star) or projection.is_star:
                self.unresolved.append(f"{projection.sql('duckdb')} (input columns unknown)")
                continue
            if projection.find(exp.Columns):  # COLUMNS('regex'): columns chosen when run
                self.unresolved.append(
                    f"{projection.unalias().sql('duckdb')} (columns chosen at run time)"
                )
                continue
            if projection.alias_or_name in own:  # the second would hide the first's lineage
                self.unresolved.append(f"{projection.alias_or_name} (output name repeats)")
            own[projection.alias_or_name] = uses.of(projection, IDENTITY)
        # Rows also depend on what the CTEs and derived tables read here filtered on.
        derived = [
            use
            for _, source in scope.selected_sources.values()
            if isinstance(source, Scope)
            for use in self.rows.get(id(source.expression), [])
        ]
        shared = _unique(derived + self._row_uses(select, uses))
        return {name: _unique(found + shared) for name, found in own.items()}, shared

    def _row_uses(self, select: exp.Select, uses: ExpressionUses) -> list[Use]:
        """What every row of the SELECT depends on: joins, filters, grouping, sorting."""
        found: list[Use] = []
        for join in select.args.get("joins") or []:
            found += _of_optional(uses, join.args.get("on"), (INDIRECT, "JOIN"))
        for clause in ("where", "having", "qualify"):
            found += _of_optional(uses, select.args.get(clause), (INDIRECT, "FILTER"))
        group = select.args.get("group")
        if group is not None:
            keys = list(group.expressions)
            if group.args.get("all"):  # GROUP BY ALL: every projection with no aggregate
                keys += [p for p in select.expressions if not p.find(exp.AggFunc)]
            found += [u for key in keys for u in uses.of(key, (INDIRECT, "GROUP_BY"))]
        found += _of_optional(uses, select.args.get("order"), (INDIRECT, "SORT"))
        distinct = select.args.get("distinct")
        if distinct is not None:  # DISTINCT ON (k): one row kept per k, as QUALIFY would
            found += _of_optional(uses, distinct.args.get("on"), (INDIRECT, "FILTER"))
        return found

    def _resolve(self, scope: Scope, column: exp.Column, own: dict[str, list[Use]]) -> list[Use]:
        """The input columns a column reference stands for."""
        if not column.table:  # an output alias used again (ORDER BY total) or unknown
            if column.name in own:
                return own[column.name]
            self.unresolved.append(f"{column.name} (no input has this column)")
            return []
        source = _source(scope, column.table)
        if isinstance(source, exp.Table):
            return self._table_column(source, column)
        if isinstance(source, Scope):
            found = self.results.get(id(source.expression), {})
            if column.name in found:
                return found[column.name]
        self.unresolved.append(f"{column.sql('duckdb')} (not found in its source)")
        return []

    def _table_column(self, table: exp.Table, column: exp.Column) -> list[Use]:
        name = ".".join(p for p in (table.catalog, table.db, table.name) if p)
        spelled = self.columns.get(name.lower())
        if spelled is None:  # columns unknown (not built yet): the SQL names the table
            return [Use(name, column.name, *IDENTITY)]
        if column.name.lower() not in spelled:
            self.unresolved.append(f"{column.name} (no column {column.name} in {name})")
            return []
        return [Use(name, spelled[column.name.lower()], *IDENTITY)]

    def _subquery(self, node: exp.Expr) -> list[Use]:
        found = self.results.get(id(node))
        if found is None:
            self.unresolved.append(f"{node.sql('duckdb')[:60]} (subquery not read)")
            return []
        return _unique([u for uses in found.values() for u in uses])


def _source(scope: Scope | None, alias: str) -> object:
    """What `alias` names in `scope` or, for a correlated subquery, an enclosing scope."""
    while scope is not None:
        if alias in scope.sources:
            return scope.sources[alias]
        scope = scope.parent
    return None


def _of_optional(uses: ExpressionUses, node: exp.Expr | None, kind: Kind) -> list[Use]:
    return uses.of(node, kind) if node is not None else []


def _unique(uses: list[Use]) -> list[Use]:
    return list(dict.fromkeys(uses))
