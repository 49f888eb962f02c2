"""The lineage graph as the UI draws it: nodes placed in layers left to right (sources,
bronze, silver, gold, other layers, features, services and training sets), edges between
them; at table level, or the columns around one dataset.

Positions are computed here (a layered layout: rank by layer, order within a rank by the
mean position of what feeds a node, which keeps edges from crossing much), so the browser
draws the graph as given and every load looks the same.

Example:
    >>> from assay.lineage.graph import Edge, LineageGraph, Node
    >>> raw = Node("file", "data/x.csv", "a")
    >>> graph = LineageGraph([
    ...     Edge(raw, Node("dataset", "bronze.x", "a"), "DIRECT", "IDENTITY"),
    ...     Edge(Node("dataset", "bronze.x", "a"), Node("dataset", "silver.x", "a"),
    ...          "DIRECT", "IDENTITY"),
    ... ])
    >>> view = table_graph(graph, {"bronze.x": "fresh"})
    >>> [(n["id"], n["rank"], n["status"]) for n in view.nodes]
    [('file:data/x.csv', 0, None), ('dataset:bronze.x', 1, 'fresh'), ('dataset:silver.x', 2, None)]
    >>> [(e["source"], e["target"]) for e in view.edges]
    [('file:data/x.csv', 'dataset:bronze.x'), ('dataset:bronze.x', 'dataset:silver.x')]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.catalog_views.overview import LAYERS
from assay.lineage.graph import LineageGraph, Node

#: Kinds drawn as sources, left of every dataset.
SOURCE_KINDS = ("file", "folder", "database", "stream", "kafka", "table")
#: Kinds drawn right of every dataset, in this order.
CONSUMER_KINDS = ("feature", "feature_service", "training_set")
#: Kinds not drawn at table level (a contract is a check on a table, not a table).
HIDDEN_KINDS = ("contract",)
#: Spacing of the layout, in pixels.
RANK_GAP, ROW_GAP, COLUMN_ROW_GAP = 280, 70, 46


@dataclass
class GraphView:
    """Nodes ({id, label, kind, rank, x, y, status, url, parent}) and edges ({id, source,
    target, type}) for Cytoscape."""

    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)

    def elements(self) -> dict[str, list[dict[str, Any]]]:
        """The graph in Cytoscape's JSON shape."""
        return {
            "nodes": [{"data": n, "position": {"x": n["x"], "y": n["y"]}} for n in self.nodes],
            "edges": [{"data": e} for e in self.edges],
        }


def node_id(node: Node) -> str:
    """A node's id in the drawn graph: kind, name and column.

    Example:
        >>> node_id(Node("dataset", "gold.x")), node_id(Node("dataset", "gold.x", "a"))
        ('dataset:gold.x', 'dataset:gold.x:a')
    """
    base = f"{node.kind}:{node.name}"
    return base if node.column is None else f"{base}:{node.column}"


def rank_of(node: Node) -> int:
    """The node's layer, left to right."""
    if node.kind in SOURCE_KINDS:
        return 0
    if node.kind == "dataset":
        layer = node.name.split(".", 1)[0]
        return 1 + (LAYERS.index(layer) if layer in LAYERS else len(LAYERS))
    if node.kind in CONSUMER_KINDS:
        return 2 + len(LAYERS) + CONSUMER_KINDS.index(node.kind)
    return 2 + len(LAYERS) + len(CONSUMER_KINDS)


def url_of(node: Node) -> str | None:
    """Where clicking the node goes: a dataset's page."""
    return f"/datasets/{node.name}" if node.kind == "dataset" else None


def table_nodes(graph: LineageGraph) -> list[Node]:
    """The whole tables, files, features and services of the graph (no contracts)."""
    return sorted({n.table for n in graph.nodes if n.kind not in HIDDEN_KINDS}, key=_sort)


def _sort(node: Node) -> tuple[int, str, str]:
    return (rank_of(node), node.kind, node.name)


def table_graph(graph: LineageGraph, statuses: Mapping[str, str]) -> GraphView:
    """Table-level lineage: one node per table (file, feature view...), one edge per pair
    of tables any column edge links. `statuses`: dataset -> overview status."""
    nodes = table_nodes(graph)
    pairs = sorted(
        {
            (e.source.table, e.target.table)
            for e in graph.edges
            if e.source.kind not in HIDDEN_KINDS
            and e.target.kind not in HIDDEN_KINDS
            and e.source.table != e.target.table
        },
        key=lambda p: (_sort(p[0]), _sort(p[1])),
    )
    places = _layered(nodes, pairs, ROW_GAP)
    view = GraphView()
    for node in nodes:
        x, y = places[node]
        view.nodes.append(_node(node, node.name, x, y, statuses.get(node.name)))
    view.edges = [_edge(source, target, "DIRECT") for source, target in pairs]
    return view


def column_graph(graph: LineageGraph, dataset: str, statuses: Mapping[str, str]) -> GraphView:
    """The columns of `dataset`, the columns they come from and the columns they feed,
    each inside its table (compound nodes); edges typed DIRECT or INDIRECT."""
    edges = [
        e
        for e in graph.edges
        if (
            e.target.table == Node("dataset", dataset) or e.source.table == Node("dataset", dataset)
        )
        and e.source.kind not in HIDDEN_KINDS
        and e.target.kind not in HIDDEN_KINDS
    ]
    own = {n for n in graph.nodes if n.table == Node("dataset", dataset) and n.column}
    columns = sorted(own | {n for e in edges for n in (e.source, e.target)}, key=_column_sort)
    tables = sorted({n.table for n in columns}, key=_sort)
    # Tables in three ranks: what feeds the dataset, the dataset, what it feeds.
    rank = {t: 0 if t.table != Node("dataset", dataset) else 1 for t in tables}
    for e in edges:
        if e.source.table == Node("dataset", dataset) and e.target.table != e.source.table:
            rank[e.target.table] = 2
    view = GraphView()
    heights: dict[int, float] = defaultdict(float)
    for table in sorted(tables, key=lambda t: (rank[t], _sort(t))):
        members = [c for c in columns if c.table == table and c.column is not None]
        x, top = rank[table] * RANK_GAP * 1.4, heights[rank[table]]
        view.nodes.append(_node(table, table.name, x, top, statuses.get(table.name), compound=True))
        for index, column in enumerate(members):
            node = _node(column, column.column or "", x, top + 40 + index * COLUMN_ROW_GAP, None)
            node["parent"] = node_id(table)
            view.nodes.append(node)
        heights[rank[table]] = top + 40 + max(1, len(members)) * COLUMN_ROW_GAP + 60
    seen = set()
    for e in edges:
        source = e.source if e.source.column is not None else e.source.table
        key = (node_id(source), node_id(e.target), e.type)
        if key not in seen and e.target.column is not None:
            seen.add(key)
            view.edges.append(_edge(source, e.target, e.type, e.subtype))
    return view


def _column_sort(node: Node) -> tuple[int, str, str, str]:
    return (rank_of(node), node.kind, node.name, node.column or "")


def _node(
    node: Node, label: str, x: float, y: float, status: str | None, compound: bool = False
) -> dict[str, Any]:
    return {
        "id": node_id(node),
        "label": label,
        "kind": node.kind,
        "rank": rank_of(node),
        "x": x,
        "y": y,
        "status": status,
        "url": url_of(node),
        "compound": compound,
    }


def _edge(source: Node, target: Node, type_: str, subtype: str | None = None) -> dict[str, Any]:
    return {
        "id": f"{node_id(source)}->{node_id(target)}:{type_}",
        "source": node_id(source),
        "target": node_id(target),
        "type": type_,
        "subtype": subtype,
    }


def _layered(
    nodes: Iterable[Node], pairs: Iterable[tuple[Node, Node]], gap: float
) -> dict[Node, tuple[float, float]]:
    """x by rank; y by order within the rank, each node placed at the mean row of its
    inputs (barycenter), ties by name."""
    feeds: dict[Node, list[Node]] = defaultdict(list)
    for source, target in pairs:
        feeds[target].append(source)
    by_rank: dict[int, list[Node]] = defaultdict(list)
    for node in nodes:
        by_rank[rank_of(node)].append(node)
    row: dict[Node, float] = {}
    places: dict[Node, tuple[float, float]] = {}
    for column, rank in enumerate(sorted(by_rank)):
        members = by_rank[rank]

        def barycenter(node: Node) -> tuple[float, str, str]:
            known = [row[s] for s in feeds[node] if s in row]
            return (sum(known) / len(known) if known else float("inf"), node.kind, node.name)

        middle = (len(members) - 1) / 2  # ranks centred on one line
        for index, node in enumerate(sorted(members, key=barycenter)):
            row[node] = index - middle
            places[node] = (column * RANK_GAP, (index - middle) * gap)
    return places
