"""The one read path (assay.reader), tested directly: names and versions resolved, unknown
tables named with the fix, every read announced to listeners, which may refuse it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from assay.engines import get_engine
from assay.errors import AssayError, TableNotFoundError, UsageError
from assay.features.spec import Entity, FeatureView
from assay.reader import Read, Reader, referenced_tables, split_version
from assay.tables import Warehouse, WriteMode


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    wh = Warehouse(str(tmp_path / "warehouse"))
    wh.write("silver.orders", pa.table({"id": [1, 2]}), mode=WriteMode.OVERWRITE, metadata={})
    wh.write("silver.orders", pa.table({"id": [3]}), mode=WriteMode.APPEND, metadata={})
    wh.write("gold.totals", pa.table({"n": [3]}), mode=WriteMode.OVERWRITE, metadata={})
    return wh


@pytest.fixture
def reader(warehouse: Warehouse) -> Reader:
    return Reader(warehouse, get_engine("duckdb", warehouse), declared={"gold.planned"})


def ids(table: pa.Table) -> list[int]:
    return sorted(table["id"].to_pylist())


def test_names_and_versions_resolve_to_data(reader: Reader) -> None:
    assert ids(reader.table("silver.orders")) == [1, 2, 3]
    assert ids(reader.table("silver.orders", 0)) == [1, 2]
    assert ids(reader.table("silver.orders@0")) == [1, 2]
    assert reader.table("silver.orders", columns=["id"]).column_names == ["id"]
    rows, version = reader.head("silver.orders", 1)
    assert (rows.num_rows, version) == (1, 1)
    assert reader.head("silver.orders@0", 5)[1] == 0


def test_sources_are_pinned_to_the_version_read(reader: Reader) -> None:
    ref, schema = reader.source("silver.orders")
    assert (ref.name, ref.version, schema.names) == ("silver.orders", 1, ["id"])
    assert reader.source("silver.orders", 0)[0].version == 0


def test_sql_reads_every_referenced_table(reader: Reader) -> None:
    query = "SELECT count(*) AS n, (SELECT n FROM gold.totals) AS total FROM silver.orders"
    assert reader.sql(query).to_pylist() == [{"n": 3, "total": 3}]


def test_an_unknown_table_is_named_with_the_tables_there_are(reader: Reader) -> None:
    for read in (
        lambda: reader.table("silver.ordrs"),
        lambda: reader.sql("SELECT * FROM silver.ordrs"),
        lambda: reader.head("silver.ordrs", 3),
    ):
        with pytest.raises(TableNotFoundError) as caught:
            read()
        assert caught.value.where == "silver.ordrs"
        assert caught.value.hint == "tables: gold.totals, silver.orders"


def test_a_declared_table_not_built_says_how_to_build_it(reader: Reader) -> None:
    with pytest.raises(TableNotFoundError) as caught:
        reader.table("gold.planned")
    assert caught.value.where == "gold.planned"
    assert "assay run" in (caught.value.hint or "")


def test_an_empty_warehouse_says_to_run_first(tmp_path: Path) -> None:
    wh = Warehouse(str(tmp_path / "empty"))
    with pytest.raises(TableNotFoundError, match=r"silver\.x") as caught:
        Reader(wh, get_engine("duckdb", wh)).table("silver.x")
    assert caught.value.hint == "none yet; run `assay run`"


def test_a_missing_version_of_a_table_says_which(reader: Reader) -> None:
    with pytest.raises(TableNotFoundError, match="version 9"):
        reader.table("silver.orders@9")


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [("silver.orders@x", None, "invalid table version"), ("silver.orders@1", 0, "version 1")],
)
def test_bad_versions_in_names_are_usage_errors(
    name: str, version: int | None, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        split_version(name, version)


def test_every_read_is_announced_with_its_version_and_purpose(reader: Reader) -> None:
    seen: list[Read] = []
    reader.listen(seen.append)
    reader.table("silver.orders@0", columns=["id"])
    reader.head("gold.totals", 1)
    reader.source("silver.orders")
    reader.sql("SELECT * FROM gold.totals")
    assert seen == [
        Read("silver.orders", 0, "table", ("id",)),
        Read("gold.totals", 0, "table"),
        Read("silver.orders", 1, "training"),
        Read("gold.totals", 0, "sql"),
    ]


def test_a_listener_can_refuse_a_read(reader: Reader) -> None:
    def deny_gold(read: Read) -> None:
        if read.table.startswith("gold."):
            raise AssayError("access denied", where=read.table)

    reader.listen(deny_gold)
    assert ids(reader.table("silver.orders")) == [1, 2, 3]
    with pytest.raises(AssayError, match="access denied"):
        reader.sql("SELECT * FROM silver.orders, gold.totals")


def test_online_reads_are_announced_with_the_view_source(warehouse: Warehouse) -> None:
    view = FeatureView(
        name="card_stats",
        entities=[Entity("card", ["card_id"])],
        source="gold.totals",
        timestamp="t",
        features=["n"],
    )

    class Store:
        def read_many(self, requests: Any) -> list[Any]:
            return [[None for _ in keys] for _, keys, _ in requests]

    seen: list[Read] = []
    reader = Reader(warehouse, get_engine("duckdb", warehouse), lambda: Store())  # type: ignore[arg-type, return-value]
    reader.listen(seen.append)
    assert reader.online([(view, [(1,), (2,)], ["n"])]) == [[None, None]]
    assert seen == [Read("gold.totals", None, "online", ("n",))]


def test_referenced_tables_skip_ctes_and_table_functions() -> None:
    query = "WITH a AS (SELECT * FROM silver.x) SELECT * FROM a, range(3), gold.y, silver.x"
    assert sorted(referenced_tables(query)) == ["gold.y", "silver.x"]
    with pytest.raises(UsageError, match="cannot parse"):
        referenced_tables("SELECT FROM WHERE (")


def test_a_version_a_vacuum_removed_is_a_clear_error(tmp_path: Path) -> None:
    """Found trying the README: after `assay retention apply`, `assay show NAME --version 0`
    printed a traceback and aborted."""
    wh = Warehouse(str(tmp_path))
    wh.write("silver.t", pa.table({"a": [1, 2]}), mode=WriteMode.APPEND, metadata={})
    wh.write("silver.t", pa.table({"a": [3]}), mode=WriteMode.OVERWRITE, metadata={})
    assert len(wh.vacuum("silver.t", 0)) == 1
    reader = Reader(wh, get_engine("duckdb", wh))
    for read in (lambda: reader.head("silver.t", 5, 0), lambda: reader.table("silver.t@0")):
        with pytest.raises(TableNotFoundError, match="a vacuum removed them") as caught:
            read()
        assert caught.value.where == "silver.t" and "assay history silver.t" in str(caught.value)
    assert reader.table("silver.t")["a"].to_pylist() == [3]
