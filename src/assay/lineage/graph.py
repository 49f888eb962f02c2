"""The lineage graph: nodes (tables, files, features, contracts and their columns), typed
edges between them as OpenLineage's column lineage facet names them, and walks up and down.

A node with `column=None` stands for the whole thing (a table, a file glob). A walk from a
column follows table-to-table edges of its table too: a Python transform that declares no
column lineage has only those, so each of its columns depends on every column of its
inputs, the safe answer for "what breaks if I change this column?".

Example:
    >>> raw = Node("file", "data/t/*.jsonl", "amount")
    >>> bronze = Node("dataset", "bronze.t", "amount")
    >>> silver = Node("dataset", "silver.t", "amount_usd")
    >>> graph = LineageGraph([
    ...     Edge(raw, bronze, "DIRECT", "IDENTITY"),
    ...     Edge(bronze, silver, "DIRECT", "TRANSFORMATION"),
    ... ])
    >>> [e.source.name for e in graph.upstream(silver)]
    ['bronze.t', 'data/t/*.jsonl']
    >>> [e.target.name for e in graph.downstream(raw, depth=1)]
    ['bronze.t']
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger("assay.lineage")

#: What a node can stand for. "feature_service" is a model's named list of features,
#: the declaration a saved training set is built from.
NODE_KINDS = (
    "dataset",
    "file",
    "kafka",
    "folder",
    "database",
    "feature",
    "feature_service",
    "training_set",
    "contract",
)
DIRECT, INDIRECT = "DIRECT", "INDIRECT"
#: OpenLineage's transformation subtypes, by type.
SUBTYPES = {
    DIRECT: ("IDENTITY", "TRANSFORMATION", "AGGREGATION"),
    INDIRECT: ("JOIN", "FILTER", "GROUP_BY", "WINDOW", "SORT", "CONDITIONAL"),
}


@dataclass(frozen=True, order=True)
class Node:
    """A table, file, feature or contract (`column=None`), or one of its columns.

    Example:
        >>> str(Node("dataset", "silver.transactions", "amount"))
        'silver.transactions.amount'
        >>> str(Node("feature", "card_daily", "amount_mean_7d"))
        'card_daily:amount_mean_7d'
    """

    kind: str
    name: str
    column: str | None = None

    @property
    def table(self) -> Node:
        """The whole thing this node is a column of (itself when it is whole)."""
        return Node(self.kind, self.name) if self.column is not None else self

    def __str__(self) -> str:
        if self.column is None:
            return self.name
        joiner = ":" if self.kind in ("feature", "feature_service", "contract", "file") else "."
        return f"{self.name}{joiner}{self.column}"


def sort_key(node: Node) -> tuple[str, str, str]:
    """Orders nodes with and without a column (None does not compare with text)."""
    return (node.kind, node.name, node.column or "")


@dataclass(frozen=True)
class Edge:
    """`source` feeds `target`; `type` and `subtype` as OpenLineage's columnLineage facet
    names them (DIRECT: IDENTITY, TRANSFORMATION, AGGREGATION; INDIRECT: JOIN, FILTER,
    GROUP_BY, WINDOW, SORT, CONDITIONAL)."""

    source: Node
    target: Node
    type: str
    subtype: str
    description: str | None = None

    def __post_init__(self) -> None:
        if self.subtype not in SUBTYPES.get(self.type, ()):
            raise ValueError(f"not an OpenLineage transformation: {self.type}/{self.subtype}")


@dataclass
class LineageGraph:
    """Every edge of a project, and what could not be resolved (also logged as warnings).

    Attributes:
        edges: unique edges, in the order they were found.
        unresolved: (dataset, column or expression) pairs whose lineage is unknown.
    """

    edges: list[Edge]
    unresolved: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.edges = list(dict.fromkeys(self.edges))
        self._into: dict[Node, list[Edge]] = defaultdict(list)
        self._out_of: dict[Node, list[Edge]] = defaultdict(list)
        for edge in self.edges:
            self._into[edge.target].append(edge)
            self._out_of[edge.source].append(edge)
        # Table pairs linked column by column too (a Python dataset's declared lineage):
        # their table-to-table edge is then not followed from a column.
        self._declared = {
            (e.source.table, e.target.table)
            for e in self.edges
            if e.source.column is not None and e.target.column is not None
        }
        # A whole table's nodes: itself and its columns.
        self._members: dict[Node, list[Node]] = defaultdict(list)
        for node in self.nodes:  # sorted: walks come out the same on every run
            self._members[node.table].append(node)

    @property
    def nodes(self) -> list[Node]:
        """Every node an edge touches, sorted (a whole table before its columns)."""
        return sorted({n for e in self.edges for n in (e.source, e.target)}, key=sort_key)

    def upstream(self, node: Node, depth: int | None = None) -> list[Edge]:
        """Edges on the paths into `node` (a whole table: into any of its columns), nearest
        first; `depth` limits the hops (None: all the way to the raw sources)."""
        return self._walk(node, depth, self._into, lambda e: e.source)

    def downstream(self, node: Node, depth: int | None = None) -> list[Edge]:
        """Edges on the paths out of `node` (a whole table: out of any of its columns),
        nearest first; `depth` limits the hops."""
        return self._walk(node, depth, self._out_of, lambda e: e.target)

    def _walk(
        self,
        start: Node,
        depth: int | None,
        index: dict[Node, list[Edge]],
        next_node: Callable[[Edge], Node],
    ) -> list[Edge]:
        found: dict[Edge, None] = {}
        seen = {start}
        frontier = [start]
        hops = 0
        while frontier and (depth is None or hops < depth):
            hops += 1
            reached: list[Node] = []
            for node in frontier:
                for edge in self._touching(node, index):
                    found.setdefault(edge)
                    following = next_node(edge)
                    if following not in seen:
                        seen.add(following)
                        reached.append(following)
            frontier = reached
        return list(found)

    def _touching(self, node: Node, index: dict[Node, list[Edge]]) -> Iterable[Edge]:
        """Edges at `node`. A column takes its own edges and its table's table-to-table
        ones (a Python dataset's: no column is known, so each may matter) unless the
        columns are known: upstream, the column has edges of its own; downstream, the
        consumer declared its columns' inputs. A whole table takes every edge of its
        columns and of itself."""
        if node.column is not None:
            own = index.get(node, ())
            yield from own
            whole = [
                e
                for e in index.get(node.table, ())
                if e.source.column is None and e.target.column is None
            ]
            if index is self._into:  # upstream: a column with edges of its own needs none
                yield from () if own else whole
            else:  # downstream: not into a dataset that declared its columns' inputs
                yield from (e for e in whole if (e.source, e.target) not in self._declared)
            return
        for member in self._members.get(node, ()):
            yield from index.get(member, ())
