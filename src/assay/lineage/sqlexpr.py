"""How one SQL expression uses the columns in it, as OpenLineage names the kinds.

A column copied as is is DIRECT/IDENTITY; inside a function or operator it is
DIRECT/TRANSFORMATION; inside an aggregate DIRECT/AGGREGATION. A CASE or IF condition is
INDIRECT/CONDITIONAL, a window's PARTITION BY and ORDER BY are INDIRECT/WINDOW, an
aggregate's FILTER (WHERE ...) is INDIRECT/FILTER. Uses compose through CTEs and
subqueries with `compose`.

Example:
    >>> import sqlglot
    >>> def resolve(column):
    ...     return [Use("t", column.name, DIRECT, "IDENTITY")]
    >>> uses = ExpressionUses(resolve, lambda query: [], {})
    >>> expression = sqlglot.parse_one("CASE WHEN k > 0 THEN sum(v) END", dialect="duckdb")
    >>> [(u.column, u.subtype) for u in uses.of(expression, (DIRECT, "IDENTITY"))]
    [('k', 'CONDITIONAL'), ('v', 'AGGREGATION')]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from sqlglot import exp

from assay.lineage.graph import DIRECT, INDIRECT

#: (type, subtype): how an expression position uses what is in it.
Kind = tuple[str, str]
IDENTITY: Kind = (DIRECT, "IDENTITY")
_DIRECT_RANK = {"IDENTITY": 0, "TRANSFORMATION": 1, "AGGREGATION": 2}


class Use(NamedTuple):
    """An input column (`table.column`) one output column depends on, and how."""

    table: str
    column: str
    type: str
    subtype: str


def compose(outer: Kind, inner: Use) -> Use:
    """`inner` seen through a position of kind `outer`.

    An inner indirect use stays as it is (a filter inside a CTE filters the rows of
    whatever reads the CTE); a direct one in an indirect position takes that position's
    subtype (a filter on a CTE's column is a filter on the column it copies); two direct
    ones give the stronger (IDENTITY < TRANSFORMATION < AGGREGATION).

    Example:
        >>> compose((DIRECT, "TRANSFORMATION"), Use("t", "v", DIRECT, "AGGREGATION")).subtype
        'AGGREGATION'
        >>> compose((INDIRECT, "FILTER"), Use("t", "v", DIRECT, "IDENTITY"))[2:]
        ('INDIRECT', 'FILTER')
        >>> compose((INDIRECT, "SORT"), Use("t", "v", INDIRECT, "JOIN"))[2:]
        ('INDIRECT', 'JOIN')
    """
    if inner.type == INDIRECT:
        return inner
    if outer[0] == INDIRECT:
        return inner._replace(type=INDIRECT, subtype=outer[1])
    subtype = max(outer[1], inner.subtype, key=_DIRECT_RANK.__getitem__)
    return inner._replace(subtype=subtype)


def _within(kind: Kind, subtype: str) -> Kind:
    """The kind of a position nested in `kind`: an indirect kind stays as it is; a direct
    one becomes `subtype` (direct or indirect) where that is stronger."""
    if kind[0] == INDIRECT:
        return kind
    if subtype in _DIRECT_RANK:
        return (DIRECT, max(kind[1], subtype, key=_DIRECT_RANK.__getitem__))
    return (INDIRECT, subtype)


def _same_named_columns(node: exp.Coalesce) -> bool:
    """COALESCE(a.k, b.k): what a JOIN ... USING (k) key becomes once qualified."""
    args = [node.this, *node.expressions]
    return all(isinstance(a, exp.Column) for a in args) and len({a.name for a in args}) == 1


class ExpressionUses:
    """The column uses of expressions within one SELECT.

    Args:
        resolve: a column reference -> the input columns it stands for (already composed
            through CTEs and derived tables), as IDENTITY-relative uses.
        subquery: a nested query (scalar, IN, EXISTS) -> every use of its output columns.
        windows: the SELECT's named windows (`WINDOW w AS (...)`) by name.
    """

    def __init__(
        self,
        resolve: Callable[[exp.Column], list[Use]],
        subquery: Callable[[exp.Expr], list[Use]],
        windows: Mapping[str, exp.Window],
    ):
        self.resolve = resolve
        self.subquery = subquery
        self.windows = windows

    def of(self, node: exp.Expr, kind: Kind) -> list[Use]:
        """Every input column `node` uses, when `node` sits in a position of `kind`."""
        if isinstance(node, exp.Column):
            return [compose(kind, use) for use in self.resolve(node)]
        if isinstance(node, exp.Star):
            return []
        if isinstance(node, exp.Subquery | exp.Query):
            return [compose(kind, use) for use in self.subquery(node)]
        if isinstance(node, exp.Window):
            return self._window(node, kind)
        if isinstance(node, exp.Filter):  # agg(x) FILTER (WHERE condition)
            return self.of(node.this, kind) + self.of(node.expression, _within(kind, "FILTER"))
        if isinstance(node, exp.AggFunc):
            return self._children(node, _within(kind, "AGGREGATION"))
        if isinstance(node, exp.Case):
            return self._case(node, kind)
        if isinstance(node, exp.If):
            value = _within(kind, "TRANSFORMATION")
            return (
                self.of(node.this, _within(kind, "CONDITIONAL"))
                + self._maybe(node.args.get("true"), value)
                + self._maybe(node.args.get("false"), value)
            )
        if isinstance(node, exp.Alias | exp.Paren) or (
            isinstance(node, exp.Coalesce) and _same_named_columns(node)
        ):
            return self._children(node, kind)
        return self._children(node, _within(kind, "TRANSFORMATION"))

    def _children(self, node: exp.Expr, kind: Kind) -> list[Use]:
        return [use for child in node.iter_expressions() for use in self.of(child, kind)]

    def _maybe(self, node: exp.Expr | None, kind: Kind) -> list[Use]:
        return self.of(node, kind) if node is not None else []

    def _case(self, node: exp.Case, kind: Kind) -> list[Use]:
        condition, value = _within(kind, "CONDITIONAL"), _within(kind, "TRANSFORMATION")
        uses = self._maybe(node.this, condition)  # CASE x WHEN 1 ...: x decides
        for branch in node.args.get("ifs") or []:
            uses += self.of(branch.this, condition) + self._maybe(branch.args.get("true"), value)
        return uses + self._maybe(node.args.get("default"), value)

    def _window(self, node: exp.Window, kind: Kind) -> list[Use]:
        """The function's arguments as in `kind`; its partition and order as WINDOW
        (a named window's too: `OVER w` with `WINDOW w AS (...)`)."""
        uses = self.of(node.this, kind)
        spec = _within(kind, "WINDOW")
        named = node.args.get("alias")
        definitions = [node]
        if named is not None and named.name in self.windows:
            definitions.append(self.windows[named.name])
        for definition in definitions:
            for part in definition.args.get("partition_by") or []:
                uses += self.of(part, spec)
            uses += self._maybe(definition.args.get("order"), spec)
        return uses
