"""Lineage of sources and Python datasets in a project written here: a Kafka stream with a
window, a database table, a CSV with a `derive=` column, and a Python transform. The
expected edges are read off the declarations below."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest

import assay
from assay.lineage import Edge, Node, build_lineage, column_lineage
from assay.lineage.sources import python_lineage

BRONZE = """
import assay
from assay import Aggregation

clicks = assay.kafka(
    "bronze.clicks",
    topic="clicks",
    timestamp="ts",
    key="click_id",
    columns={"click_id": "VARCHAR", "user_id": "BIGINT", "price": "DOUBLE"},
    windows=[
        assay.window(
            "silver.user_spend",
            keys=["user_id"],
            window=assay.tumbling("1h"),
            aggregations=[Aggregation("price", "sum"), Aggregation(function="count")],
        )
    ],
)

users = assay.sql_table(
    "bronze.users", url="sqlite:///{db}", table="users", columns=["user_id", "country"]
)

visits = assay.files(
    "bronze.visits",
    path="data/visits/*.csv",
    format="csv",
    columns={"year": "INTEGER"},
    derive={"period_start": "make_date(year, month, 1)"},
)


@assay.transform("gold.py_spend", inputs=["silver.user_spend", "bronze.users"])
def py_spend(ctx, spend, users):
    return spend
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> assay.Project:
    root = tmp_path_factory.mktemp("sources")
    (root / "pipelines").mkdir()
    db = root / "shop.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE users (user_id INTEGER, country TEXT, secret TEXT)")
    (root / "pipelines" / "bronze.py").write_text(BRONZE.replace("{db}", str(db)))
    (root / "data" / "visits").mkdir(parents=True)
    (root / "data" / "visits" / "a.csv").write_text("year,month,page\n2024,3,/home\n")
    (root / "assay.yaml").write_text("name: sources\n")
    return assay.Project(root)


def test_kafka_fields_and_window_aggregates(project: assay.Project) -> None:
    clicks = column_lineage(project.runtime, "bronze.clicks")
    assert list(clicks) == ["ts", "click_id", "user_id", "price"]
    assert clicks["price"] == [
        Edge(
            Node("kafka", "clicks", "price"),
            Node("dataset", "bronze.clicks", "price"),
            "DIRECT",
            "IDENTITY",
        )
    ]
    spend = column_lineage(project.runtime, "silver.user_spend")
    assert list(spend) == ["user_id", "window_start", "window_end", "price_sum", "count"]
    kinds = {(e.source.column, e.type, e.subtype) for e in spend["price_sum"]}
    assert kinds == {
        ("price", "DIRECT", "AGGREGATION"),
        ("user_id", "INDIRECT", "GROUP_BY"),
        ("ts", "INDIRECT", "WINDOW"),
    }
    assert {(e.source.column, e.subtype) for e in spend["count"]} == {
        ("user_id", "GROUP_BY"),
        ("ts", "WINDOW"),
    }


def test_database_columns_and_no_password_in_names(project: assay.Project) -> None:
    users = column_lineage(project.runtime, "bronze.users")
    assert list(users) == ["user_id", "country"]  # columns=[...] as declared
    (edge,) = users["country"]
    assert edge.source.kind == "database"
    assert edge.source.name.endswith("shop.db#users") and edge.source.column == "country"


def test_derived_columns_read_their_fields(project: assay.Project) -> None:
    visits = column_lineage(project.runtime, "bronze.visits")
    assert list(visits)[:3] == ["year", "month", "page"]  # the CSV header
    assert {(e.source.column, e.subtype) for e in visits["period_start"]} == {
        ("year", "TRANSFORMATION"),
        ("month", "TRANSFORMATION"),
    }


def test_python_transform_is_table_level_and_named_unresolved(project: assay.Project) -> None:
    graph = build_lineage(project.runtime)
    assert (
        Edge(
            Node("dataset", "silver.user_spend"),
            Node("dataset", "gold.py_spend"),
            "DIRECT",
            "TRANSFORMATION",
            "Python code",
        )
        in graph.edges
    )
    assert [d for d, _ in graph.unresolved] == ["gold.py_spend"]
    # Downstream of a Kafka field: through the window into the Python table as a whole.
    reached = {str(e.target) for e in graph.downstream(Node("kafka", "clicks", "price"))}
    assert reached == {
        "bronze.clicks.price",
        "silver.user_spend.price_sum",
        "gold.py_spend",
    }


def test_declared_python_lineage_gives_column_edges() -> None:
    spec = SimpleNamespace(name="gold.out", inputs=("silver.a",))
    producer = SimpleNamespace(lineage={"total": ["silver.a.amount"], "bad": ["nope.x.y"]})
    found = python_lineage(spec, producer, ["total", "bad", "other"], {"silver.a": None})  # type: ignore[arg-type]
    assert [(str(e.source), e.subtype) for e in found.columns["total"]] == [
        ("silver.a.amount", "TRANSFORMATION")
    ]
    assert found.columns["other"] == []
    assert found.unresolved == ["bad (declared input nope.x.y is not a dataset)"]
