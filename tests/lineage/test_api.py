"""The lineage API others build on (OpenLineage events): nodes, edges, walks, and
`column_lineage` of a scaffolded project, checked against reading its SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

import assay
from assay.errors import UsageError
from assay.lineage import Edge, LineageGraph, Node, build_lineage, column_lineage


def _kinds(edges: list[Edge]) -> set[tuple[str, str, str, str]]:
    return {(e.source.name, e.source.column or "", e.type, e.subtype) for e in edges}


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory: pytest.TempPathFactory) -> assay.Project:
    root = tmp_path_factory.mktemp("scaffold") / "shop"
    assay.init_project(root)
    return assay.Project(root)


def test_column_lineage_of_the_scaffold_gold_table(scaffold: assay.Project) -> None:
    # gold_daily_totals.sql: date_trunc('day', o.ordered_at) AS day, c.country,
    # count(*) AS orders, sum(o.amount) AS revenue FROM silver.orders o
    # JOIN bronze.customers c USING (customer_id) GROUP BY ALL
    lineage = column_lineage(scaffold.runtime, "gold.daily_totals")
    assert list(lineage) == ["day", "country", "orders", "revenue"]
    rows = {
        ("silver.orders", "customer_id", "INDIRECT", "JOIN"),
        ("bronze.customers", "customer_id", "INDIRECT", "JOIN"),
        ("silver.orders", "ordered_at", "INDIRECT", "GROUP_BY"),
        ("bronze.customers", "country", "INDIRECT", "GROUP_BY"),
    }
    assert _kinds(lineage["revenue"]) == rows | {
        ("silver.orders", "amount", "DIRECT", "AGGREGATION")
    }
    assert _kinds(lineage["orders"]) == rows
    assert _kinds(lineage["day"]) == rows | {
        ("silver.orders", "ordered_at", "DIRECT", "TRANSFORMATION")
    }
    assert _kinds(lineage["country"]) == rows | {
        ("bronze.customers", "country", "DIRECT", "IDENTITY")
    }
    assert {e.target for e in lineage["revenue"]} == {
        Node("dataset", "gold.daily_totals", "revenue")
    }


def test_column_lineage_of_a_file_source(scaffold: assay.Project) -> None:
    lineage = column_lineage(scaffold.runtime, "bronze.orders")
    # The CSV's header (read from the file) and the declared columns, plus assay's own.
    header = (Path(scaffold.root) / "data/orders/2026-01-01.csv").read_text().splitlines()[0]
    fields = header.split(",")
    assert list(lineage)[: len(fields)] == fields
    amount = lineage["amount"]
    assert amount == [
        Edge(
            Node("file", "data/orders/*.csv", "amount"),
            Node("dataset", "bronze.orders", "amount"),
            "DIRECT",
            "IDENTITY",
            "cast to DOUBLE",
        )
    ]
    assert lineage["_ingested_at"] == []
    assert [e.source for e in lineage["_source_file"]] == [Node("file", "data/orders/*.csv")]


def test_an_unknown_dataset_names_the_known_ones(scaffold: assay.Project) -> None:
    with pytest.raises(UsageError, match=r"unknown dataset 'gold\.nope'.*gold\.daily_totals"):
        column_lineage(scaffold.runtime, "gold.nope")


def test_a_python_source_is_reported_unresolved_by_name(scaffold: assay.Project) -> None:
    graph = build_lineage(scaffold.runtime)
    assert [d for d, _ in graph.unresolved] == ["bronze.customers"]
    assert "Python" in graph.unresolved[0][1]


def test_walks_follow_depth_and_whole_table_edges() -> None:
    a = Node("dataset", "bronze.a", "x")
    b = Node("dataset", "silver.b", "y")
    py = Node("dataset", "gold.py")
    feature = Node("feature", "v", "y")
    other = Node("dataset", "silver.b", "z")
    graph = LineageGraph(
        [
            Edge(a, b, "DIRECT", "IDENTITY"),
            Edge(a, other, "INDIRECT", "FILTER"),
            Edge(b.table, py, "DIRECT", "TRANSFORMATION"),  # a Python transform
            Edge(Node("dataset", "gold.py", "f"), feature, "DIRECT", "IDENTITY"),
            Edge(a, b, "DIRECT", "IDENTITY"),  # duplicates collapse
        ]
    )
    assert len(graph.edges) == 4
    assert [e.target for e in graph.downstream(a, depth=1)] == [b, other]
    # From a column of silver.b, the Python table's whole-table edge and then its columns.
    assert [e.target for e in graph.downstream(b)] == [py, feature]
    # Up from the feature: the Python table as a whole reads every column of silver.b.
    assert [(e.source, e.target) for e in graph.upstream(feature)] == [
        (Node("dataset", "gold.py", "f"), feature),
        (b.table, py),
        (a, b),
        (a, other),
    ]
    assert graph.upstream(a) == []


def test_edges_take_only_openlineage_kinds() -> None:
    with pytest.raises(ValueError, match="DIRECT/JOIN"):
        Edge(Node("dataset", "a.b", "x"), Node("dataset", "a.c", "x"), "DIRECT", "JOIN")


def test_assay_lineage_is_a_command_of_the_cli(scaffold: assay.Project) -> None:
    import json

    from typer.testing import CliRunner

    from assay.cli.main import app

    args = ["lineage", "gold.daily_totals.revenue", "--upstream", "--depth", "1"]
    result = CliRunner().invoke(app, [*args, "--format", "json", "--project", scaffold.root])
    assert result.exit_code == 0, result.output
    edges = json.loads(result.output)["edges"]
    assert {"name": "silver.orders", "column": "amount", "kind": "dataset"} in [
        e["source"] for e in edges
    ]
    assert all(e["target"]["name"] == "gold.daily_totals" for e in edges)


def test_a_dataset_with_no_edge_yet_is_found_among_the_datasets() -> None:
    from assay.lineage.render import find_node

    # A Python source never run and read by nothing: a dataset, yet in no edge.
    graph = LineageGraph(
        [Edge(Node("file", "a.csv", "x"), Node("dataset", "bronze.a", "x"), "DIRECT", "IDENTITY")]
    )
    lonely = Node("dataset", "bronze.lonely")
    assert find_node(graph, "bronze.lonely", also=[lonely]) == lonely
    with pytest.raises(UsageError, match=r"did you mean bronze\.a"):
        find_node(graph, "bronze.b")
