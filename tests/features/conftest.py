"""Engines for the point-in-time tests: DuckDB's ASOF join, the window-function join on
DuckDB (what engines without ASOF joins run), and Spark."""

from __future__ import annotations

from typing import Any

import pytest

from assay.engines import get_engine
from assay.engines.duckdb import DuckDBEngine
from assay.tables import Warehouse


class WindowDuckDB(DuckDBEngine):
    """DuckDB running the window-function join that engines without ASOF joins (Spark)
    use: the same oracle checks both formulations quickly, Spark then runs fewer examples."""

    asof_join = False


@pytest.fixture(scope="module", params=["duckdb", "duckdb-windows"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    warehouse = Warehouse(str(tmp_path_factory.mktemp("wh")))
    return WindowDuckDB(warehouse) if request.param == "duckdb-windows" else DuckDBEngine(warehouse)


@pytest.fixture(scope="module")
def spark_engine(spark_jars: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return get_engine("spark", Warehouse(str(tmp_path_factory.mktemp("wh"))))


@pytest.fixture(params=["duckdb", "duckdb-windows", "spark"])
def every_engine(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    if request.param == "spark":
        return request.getfixturevalue("spark_engine")
    warehouse = Warehouse(str(tmp_path))
    return WindowDuckDB(warehouse) if request.param == "duckdb-windows" else DuckDBEngine(warehouse)
