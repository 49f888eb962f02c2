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
