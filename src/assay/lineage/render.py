"""`assay lineage` without the command line: a name to a node, and edges as JSON,
Graphviz dot or a Mermaid flowchart.

Example:
    >>> a, b = Node("file", "data/t.csv", "x"), Node("dataset", "bronze.t", "x")
    >>> graph = LineageGraph([Edge(a, b, "DIRECT", "IDENTITY")])
    >>> find_node(graph, "bronze.t.x") == b
    True
    >>> print(to_mermaid(graph.edges))
    flowchart LR
      n0["data/t.csv:x"]
      n1["bronze.t.x"]
      n0 -->|IDENTITY| n1
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence

from assay.errors import UsageError
from assay.lineage.graph import INDIRECT, Edge, LineageGraph, Node, sort_key


def find_node(graph: LineageGraph, text: str, also: Iterable[Node] = ()) -> Node:
    """The node `text` names: `layer.name[.column]`, `view:feature` (or `view.feature`),
    `training.<set>.<column>`, a raw field `path:field`, a contract check; or one of
    `also` (datasets with no edge, e.g. Python code not run yet).

    Raises:
        UsageError: nothing has that name (the message suggests close names), or several
            things of different kinds do.
    """
    candidates = [*graph.nodes, *also]
    found = {m for n in candidates for m in (n, n.table) if _names(m, text)}
    matches = sorted(found, key=sort_key)
    if len(matches) == 1:
        return matches[0]
    if matches:
        kinds = ", ".join(f"{m.kind} {m}" for m in matches)
        raise UsageError(f"{text!r} names several things: {kinds}", where=text)
    names = sorted({str(m) for n in candidates for m in (n, n.table)})
    close = difflib.get_close_matches(text, names, n=5, cutoff=0.5)
    raise UsageError(
        f"nothing in the lineage is named {text!r}",
        where=text,
        hint=f"did you mean {', '.join(close)}?"
        if close
        else "name a dataset (layer.name[.column]), a feature (view:feature), a training "
        "set column or a raw field (path:field)",
    )


def _names(node: Node, text: str) -> bool:
    if node.column is None:
        return node.name == text
    return text in (f"{node.name}.{node.column}", f"{node.name}:{node.column}")


def _node_json(node: Node) -> dict[str, str | None]:
    return {"kind": node.kind, "name": node.name, "column": node.column}


def to_json(node: Node, edges: Sequence[Edge], unresolved: Sequence[tuple[str, str]]) -> str:
    """The node, its edges and what did not resolve, as JSON."""
    document = {
        "node": _node_json(node),
        "edges": [
            {
                "source": _node_json(e.source),
                "target": _node_json(e.target),
                "type": e.type,
                "subtype": e.subtype,
                "description": e.description,
            }
            for e in edges
        ],
        "unresolved": [{"dataset": d, "what": w} for d, w in unresolved],
    }
    return json.dumps(document, indent=2)


def _ids(edges: Sequence[Edge]) -> dict[Node, str]:
    nodes = dict.fromkeys(n for e in edges for n in (e.source, e.target))
    return {node: f"n{i}" for i, node in enumerate(nodes)}


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(edges: Sequence[Edge]) -> str:
    """A Graphviz digraph: one box per node, indirect edges dashed.

    Example:
        >>> e = Edge(Node("dataset", "a.b", "x"), Node("dataset", "a.c", "y"), "INDIRECT", "JOIN")
        >>> print(to_dot([e]))
        digraph lineage {
          rankdir=LR;
          node [shape=box];
          n0 [label="a.b.x"];
          n1 [label="a.c.y"];
          n0 -> n1 [label="INDIRECT/JOIN", style=dashed];
        }
    """
    ids = _ids(edges)
    lines = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box];"]
    lines += [f"  {i} [label={_quoted(str(n))}];" for n, i in ids.items()]
    for e in edges:
        style = ", style=dashed" if e.type == INDIRECT else ""
        label = _quoted(f"{e.type}/{e.subtype}")
        lines.append(f"  {ids[e.source]} -> {ids[e.target]} [label={label}{style}];")
    return "\n".join([*lines, "}"])


def to_mermaid(edges: Sequence[Edge]) -> str:
    """A Mermaid flowchart: direct edges solid, indirect ones dotted."""
    ids = _ids(edges)
    lines = ["flowchart LR"]
    lines += [f'  {i}["{_mermaid_text(str(n))}"]' for n, i in ids.items()]
    for e in edges:
        arrow = "-.->" if e.type == INDIRECT else "-->"
        lines.append(f"  {ids[e.source]} {arrow}|{e.subtype}| {ids[e.target]}")
    return "\n".join(lines)


def _mermaid_text(text: str) -> str:
    """Mermaid labels cannot hold a double quote: its entity code stands in."""
    return text.replace('"', "#quot;")
