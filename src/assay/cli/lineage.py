"""`assay lineage NAME[.COLUMN]`: where a column comes from and what it reaches."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

if TYPE_CHECKING:
    from assay.lineage.graph import Edge


class LineageFormat(StrEnum):
    table = "table"
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


@handles_errors
def lineage(
    name: Annotated[
        str,
        typer.Argument(
            help="A dataset or column (`silver.transactions.amount`), a feature "
            "(`card_daily:amount_mean_7d`), a training-set column "
            "(`training.fraud_model.amount_mean_7d`) or a raw field "
            "(`data/transactions/*.jsonl:amount`)."
        ),
    ],
    upstream: Annotated[bool, typer.Option("--upstream", help="Only where it comes from.")] = False,
    downstream: Annotated[bool, typer.Option("--downstream", help="Only what it reaches.")] = False,
    depth: Annotated[
        int | None, typer.Option("--depth", min=1, help="Hops to follow (default: all).")
    ] = None,
    output: Annotated[
        LineageFormat, typer.Option("--format", help="table, json, dot (Graphviz) or mermaid.")
    ] = LineageFormat.table,
    project: ProjectOpt = Path("."),
) -> None:
    """Column lineage, from raw fields through tables to features, training sets and
    contracts, with OpenLineage's edge kinds (DIRECT: identity, transformation,
    aggregation; INDIRECT: join, filter, group by, window, sort, conditional).

    Example: `assay lineage training.fraud_model.amount_mean_7d --upstream`, or
    `assay lineage 'data/transactions/*.jsonl:amount' --downstream --format mermaid`
    """
    from assay.cli.render import console
    from assay.lineage import Node, build_lineage
    from assay.lineage.render import find_node, to_dot, to_json, to_mermaid

    runtime = _project(project).runtime
    graph = build_lineage(runtime)
    node = find_node(graph, name, also=[Node("dataset", n) for n in runtime.dag.specs])
    both = upstream == downstream
    edges = (graph.upstream(node, depth) if upstream or both else []) + (
        graph.downstream(node, depth) if downstream or both else []
    )
    if output is LineageFormat.json:
        typer.echo(to_json(node, edges, graph.unresolved))
    elif output is LineageFormat.dot:
        typer.echo(to_dot(edges))
    elif output is LineageFormat.mermaid:
        typer.echo(to_mermaid(edges))
    else:
        console.print(_table(str(node), edges))
        for dataset, what in graph.unresolved:
            console.print(f"[yellow]unresolved[/] {dataset}: {what}")


def _table(title: str, edges: list[Edge]) -> Table:

    table = Table(title=f"lineage of {title}")
    for column in ("from", "to", "type", "subtype", "detail"):
        table.add_column(column)
    for e in edges:
        table.add_row(str(e.source), str(e.target), e.type, e.subtype, e.description or "")
    if not edges:
        table.caption = "no edges: nothing feeds it or reads it"
    return table
