"""Delta tables written by delta-rs (assay's writer) and by Spark's Delta connector are one
table: each reads and appends to what the other wrote, and time travel sees both writers'
versions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from assay.engines import TableRef, get_engine
from assay.tables import Warehouse, WriteMode

pytestmark = pytest.mark.usefixtures("spark_jars")

SCHEMA = pa.schema([("id", pa.int64()), ("at", pa.timestamp("us")), ("name", pa.string())])


def batch(ids: range) -> pa.Table:
    return pa.table(
        {
            "id": list(ids),
            "at": [datetime(2026, 1, 1, i % 24) for i in ids],
            "name": [f"n{i}" for i in ids],
        },
        schema=SCHEMA,
    )


@pytest.fixture
def spark_and_warehouse(tmp_path: Path) -> tuple[Any, Warehouse]:
    warehouse = Warehouse(str(tmp_path / "wh"))
    return get_engine("spark", warehouse), warehouse


def ids_by_spark(engine: Any, version: int | None = None) -> list[int]:
    table = engine.query(
        "SELECT id FROM silver.t ORDER BY id", {"silver.t": TableRef("silver.t", version)}
    )
    return table["id"].to_pylist()


def ids_by_delta_rs(warehouse: Warehouse, version: int | None = None) -> list[int]:
    return sorted(warehouse.dataset("silver.t", version).to_table()["id"].to_pylist())


def test_spark_reads_and_appends_to_a_delta_rs_table(spark_and_warehouse: Any) -> None:
    engine, warehouse = spark_and_warehouse
    warehouse.write("silver.t", batch(range(0, 5)), mode=WriteMode.OVERWRITE, metadata={"w": 1})

    assert ids_by_spark(engine) == list(range(5))
    spark_rows = engine.frame(batch(range(5, 8)))
    spark_rows.write.format("delta").mode("append").save(warehouse.uri("silver.t"))

    assert warehouse.version("silver.t") == 1
    assert ids_by_delta_rs(warehouse) == list(range(8))
    assert ids_by_spark(engine) == list(range(8))
    # Time travel sees both writers' versions, from both readers.
    assert ids_by_delta_rs(warehouse, 0) == ids_by_spark(engine, 0) == list(range(5))
    assert warehouse.schema("silver.t") == SCHEMA  # types survive the Spark append


def test_delta_rs_reads_and_appends_to_a_spark_table(spark_and_warehouse: Any) -> None:
    engine, warehouse = spark_and_warehouse
    engine.frame(batch(range(0, 4))).write.format("delta").save(warehouse.uri("silver.t"))

    assert warehouse.exists("silver.t")
    assert warehouse.schema("silver.t") == SCHEMA
    assert ids_by_delta_rs(warehouse) == list(range(4))
    warehouse.write("silver.t", batch(range(4, 6)), mode=WriteMode.APPEND, metadata={"w": 2})
    # Overwrite part of it the way assay replaces an interval (a predicate, i.e. replaceWhere).
    warehouse.write(
        "silver.t",
        batch(range(0, 2)).set_column(2, "name", pa.array(["new0", "new1"])),
        mode=WriteMode.OVERWRITE,
        predicate="id < 2",
        metadata={"w": "three"},
    )

    got = engine.query(
        "SELECT id, name FROM silver.t ORDER BY id", {"silver.t": TableRef("silver.t")}
    )
    assert got["id"].to_pylist() == list(range(6))
    assert got["name"].to_pylist()[:3] == ["new0", "new1", "n2"]
    assert ids_by_spark(engine, 0) == ids_by_delta_rs(warehouse, 0) == list(range(4))
    assert ids_by_spark(engine, 1) == list(range(6))
    history = warehouse.history("silver.t")
    assert [c.version for c in history] == [2, 1, 0]
    assert history[0].metadata.get("w") == "three"  # assay's commit metadata on a Spark table


def test_spark_merge_into_a_delta_rs_table_is_read_back_by_delta_rs(
    spark_and_warehouse: Any,
) -> None:
    from delta.tables import DeltaTable

    engine, warehouse = spark_and_warehouse
    warehouse.write("silver.t", batch(range(0, 4)), mode=WriteMode.OVERWRITE, metadata={})
    updates = engine.frame(batch(range(2, 6)).set_column(2, "name", pa.array(["u"] * 4)))

    target = DeltaTable.forPath(engine.spark, warehouse.uri("silver.t"))
    target.alias("t").merge(
        updates.alias("u"), "t.id = u.id"
    ).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()

    table = warehouse.dataset("silver.t").to_table().sort_by("id")
    assert table["id"].to_pylist() == list(range(6))
    assert table["name"].to_pylist() == ["n0", "n1", "u", "u", "u", "u"]


# Sums of DECIMAL(10, 2): DECIMAL(20, 2) on Spark, DECIMAL(38, 2) on DuckDB; rank() INTEGER on
# Spark, BIGINT on DuckDB. Whichever engine creates the table, the other writes into its types.
TOTALS = "SELECT k, sum(amount) AS total, rank() OVER (ORDER BY k) AS r FROM silver.src GROUP BY k"
#: TOTALS in the types Spark gave it before both engines typed results alike (a table an
#: older assay, or a Spark job, made): DECIMAL(p + 10, s) sums and INT ranks.
SPARK_TYPED = (
    "SELECT k, CAST(sum(amount) AS DECIMAL(20, 2)) AS total, "
    "CAST(rank() OVER (ORDER BY k) AS INTEGER) AS r FROM silver.src GROUP BY k"
)
SOURCES = {"silver.src": TableRef("silver.src")}


def amounts(warehouse: Warehouse, ks: list[int], amount: str) -> None:
    from decimal import Decimal

    rows = pa.table(
        {"k": ks, "amount": pa.array([Decimal(amount)] * len(ks), pa.decimal128(10, 2))}
    )
    warehouse.write("silver.src", rows, mode=WriteMode.OVERWRITE, metadata={})


def totals(warehouse: Warehouse) -> list[tuple[int, str, int]]:
    table = warehouse.read("gold.t").sort_by("k")
    return [(r["k"], str(r["total"]), r["r"]) for r in table.to_pylist()]


def test_a_spark_table_takes_duckdb_writes_in_its_types(spark_and_warehouse: Any) -> None:
    from decimal import Decimal

    from assay.errors import SchemaDriftError

    spark, warehouse = spark_and_warehouse
    duck = get_engine("duckdb", warehouse)
    amounts(warehouse, [1, 2], "2.70")
    spark.writer().write(
        "gold.t", spark.relation(SPARK_TYPED, SOURCES), mode=WriteMode.OVERWRITE, metadata={}
    )
    created = warehouse.schema("gold.t")
    assert created.field("total").type == pa.decimal128(20, 2)
    assert created.field("r").type == pa.int32()

    amounts(warehouse, [3], "1.25")
    rows = duck.query(TOTALS, SOURCES)
    assert rows.schema.field("total").type == pa.decimal128(38, 2)  # what DuckDB gives
    warehouse.write("gold.t", rows, mode=WriteMode.APPEND, metadata={})
    warehouse.merge("gold.t", rows.set_column(0, "k", pa.array([2])), keys=["k"], metadata={})

    assert warehouse.schema("gold.t") == created
    assert totals(warehouse) == [(1, "2.70", 1), (2, "1.25", 1), (3, "1.25", 1)]
    assert spark.query("SELECT sum(total) AS s FROM gold.t", {"gold.t": TableRef("gold.t")})[
        "s"
    ].to_pylist() == [Decimal("5.20")]

    # A value DECIMAL(20, 2) cannot hold stops the write, naming table, column and types.
    huge = rows.set_column(1, "total", pa.array([Decimal("1" * 25)], pa.decimal128(38, 2)))
    before = warehouse.version("gold.t")
    with pytest.raises(SchemaDriftError) as err:
        warehouse.write("gold.t", huge, mode=WriteMode.APPEND, metadata={})
    assert err.value.where == "gold.t"
    assert "column total" in err.value.message
    assert "decimal128(38, 2)" in err.value.message and "decimal128(20, 2)" in err.value.message
    with pytest.raises(SchemaDriftError):
        warehouse.merge("gold.t", huge, keys=["k"], metadata={})
    assert warehouse.version("gold.t") == before


def test_a_duckdb_table_takes_spark_writes_in_its_types(spark_and_warehouse: Any) -> None:
    spark, warehouse = spark_and_warehouse
    duck = get_engine("duckdb", warehouse)
    amounts(warehouse, [1, 2], "2.70")
    warehouse.write("gold.t", duck.query(TOTALS, SOURCES), mode=WriteMode.OVERWRITE, metadata={})
    created = warehouse.schema("gold.t")
    assert created.field("total").type == pa.decimal128(38, 2)
    assert created.field("r").type == pa.int64()

    amounts(warehouse, [3], "1.25")
    writer = spark.writer()
    writer.write("gold.t", spark.relation(TOTALS, SOURCES), mode=WriteMode.APPEND, metadata={})
    amounts(warehouse, [2], "1.25")
    writer.merge("gold.t", spark.relation(TOTALS, SOURCES), keys=["k"], metadata={})

    assert warehouse.schema("gold.t") == created
    assert totals(warehouse) == [(1, "2.70", 1), (2, "1.25", 1), (3, "1.25", 1)]
