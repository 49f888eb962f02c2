"""Impact before a change: what a changed SQL dataset reaches downstream, and which of its
removed or retyped columns something downstream still uses.

`assay plan` shows both; `assay run` stops before running when a used column is removed
or retyped incompatibly, naming the users (`allow_breaking=True` /
`--allow-breaking-changes` runs anyway).

Example:
    >>> from assay.pipelines.schema_change import ColumnChange
    >>> Breaking(ColumnChange("silver.t", "amount", "double", None),
    ...          (Node("dataset", "gold.daily", "amount_sum"),)).describe()
    'silver.t.amount (double) is removed, used by gold.daily.amount_sum'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from assay.errors import SchemaDriftError
from assay.lineage.build import build_lineage
from assay.lineage.consumers import contract_node
from assay.lineage.graph import LineageGraph, Node, sort_key
from assay.pipelines.schema_change import ColumnChange, changed_sql_datasets, column_changes
from assay.runtime import Runtime

#: The kinds of node a change can break (files and sources are upstream, never affected).
_AFFECTED_KINDS = ("dataset", "feature", "feature_service", "training_set", "contract")


@dataclass(frozen=True)
class Breaking:
    """A removed or retyped column and the nodes downstream that read it directly."""

    change: ColumnChange
    users: tuple[Node, ...]
    #: Everything downstream of the column, as whole nodes (the users' own consumers
    #: too: a feature computed from a gold column that reads it breaks with it).
    reaches: tuple[Node, ...] = ()

    def describe(self) -> str:
        return f"{self.change.describe()}, used by {', '.join(str(u) for u in self.users)}"


@dataclass(frozen=True)
class Impact:
    """What the changed SQL datasets among the selection reach.

    Attributes:
        changed: the SQL datasets whose code differs from what built their table.
        affected: everything downstream of them, as whole nodes (datasets, features,
            feature services, training sets, contracts).
        breaking: removed or incompatibly retyped columns that something still reads.
    """

    changed: tuple[str, ...] = ()
    affected: tuple[Node, ...] = ()
    breaking: tuple[Breaking, ...] = ()


def impact(rt: Runtime, names: Iterable[str]) -> Impact:
    """The impact of the changed SQL datasets among `names` (nothing changed: empty,
    without building the lineage graph)."""
    selected = list(names)
    changed = [s.name for s in changed_sql_datasets(rt, selected)]
    if not changed:
        return Impact()
    graph = build_lineage(rt)
    affected = {
        edge.target.table
        for name in changed
        for edge in graph.downstream(Node("dataset", name))
        if edge.target.kind in _AFFECTED_KINDS and edge.target.table != Node("dataset", name)
    }
    breaking = [
        Breaking(change, users, _reaches(graph, users))
        for change in column_changes(rt, selected)
        if (users := tuple(dict.fromkeys((*_users(graph, change), *_contract_users(rt, change)))))
    ]
    return Impact(tuple(changed), tuple(sorted(affected, key=sort_key)), tuple(breaking))


def refuse_breaking(found: Impact) -> None:
    """Raise when `found` removes or retypes a column something downstream uses."""
    if not found.breaking:
        return
    lines = "\n  ".join(b.describe() for b in found.breaking)
    raise SchemaDriftError(
        f"the changed code removes or retypes columns that downstream uses:\n  {lines}",
        where=", ".join(found.changed),
        hint="change those users in the same change (or keep the column); `assay plan` "
        "shows the impact; `assay run --allow-breaking-changes` runs anyway",
    )


def _reaches(graph: LineageGraph, users: tuple[Node, ...]) -> tuple[Node, ...]:
    """The users and everything downstream of them, as whole nodes."""
    found = {u.table for u in users}
    for user in users:
        found.update(e.target.table for e in graph.downstream(user))
    return tuple(sorted(found, key=sort_key))


def _contract_users(rt: Runtime, change: ColumnChange) -> tuple[Node, ...]:
    """The dataset's own contracts that declare the column (lineage is built from the new
    code, where a removed column is no longer there to link a contract to)."""
    return tuple(
        contract_node(contract, rt.root, change.column)
        for contract in rt.contracts.get(change.dataset, ())
        if any(c.name == change.column for c in contract.columns)
    )


def _users(graph: LineageGraph, change: ColumnChange) -> tuple[Node, ...]:
    """Nodes one hop downstream of the column that read it (not the table's other
    columns: a walk from a column also follows table-level edges of Python datasets)."""
    column = Node("dataset", change.dataset, change.column)
    users = {e.target for e in graph.downstream(column, depth=1) if e.source == column}
    return tuple(sorted(users, key=sort_key))
