"""The Runtime the workflows take (assay.runtime), tested directly: what it opens lazily,
where its state lives, the online store it makes, the feature views and row counts."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from assay.config import OnlineStoreSettings, ProjectConfig
from assay.engines import get_engine
from assay.errors import UsageError
from assay.features.online import SQLiteOnlineStore
from assay.features.spec import Entity, FeatureView
from assay.pipelines.dag import Dag
from assay.runtime import Runtime
from assay.tables import Warehouse, WriteMode


def runtime(root: Path, **settings: object) -> Runtime:
    config = ProjectConfig(name="rt", **settings)  # type: ignore[arg-type]
    warehouse = Warehouse(str(root / "warehouse"))
    user = Entity("user", ["user_id"])
    view = FeatureView(
        name="user_daily", entities=[user], source="gold.d", timestamp="t", features=["n"]
    )
    return Runtime(
        str(root),
        config,
        Dag([]),
        warehouse,
        get_engine("duckdb", warehouse),
        feature_definitions=[user, view],
    )


def test_the_catalog_and_the_online_store_are_opened_on_first_use(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    assert rt.state_dir == tmp_path / ".assay"
    assert rt.local is rt.engine  # no embedded engine of its own: the engine is DuckDB
    assert rt.reader is rt.reader
    assert not rt.state_dir.exists()  # reading needs no catalog
    assert rt.catalog is rt.catalog
    assert (rt.state_dir / "catalog.db").is_file()
    store = rt.online_store
    assert isinstance(store, SQLiteOnlineStore) and store is rt.online_store


def test_the_online_store_follows_the_settings(tmp_path: Path) -> None:
    rt = runtime(tmp_path, online_store=OnlineStoreSettings(path="serving/online.db"))
    assert isinstance(rt.online_store, SQLiteOnlineStore)
    assert (tmp_path / "serving").is_dir()
    with pytest.raises(UsageError, match="needs a url"):
        _ = runtime(tmp_path, online_store=OnlineStoreSettings(type="redis")).online_store


def test_feature_views_by_name(tmp_path: Path) -> None:
    assert list(runtime(tmp_path).feature_views) == ["user_daily"]


def test_row_count_from_the_log(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    rt.warehouse.write("gold.d", pa.table({"n": [1, 2]}), mode=WriteMode.OVERWRITE, metadata={})
    rt.warehouse.write("gold.d", pa.table({"n": [3]}), mode=WriteMode.APPEND, metadata={})
    assert rt.row_count("gold.d") == 3
