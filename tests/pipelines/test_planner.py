"""The planner on its own: its reasons for a given state and warehouse (no project)."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest

from assay.catalog import Catalog, IntervalRecord
from assay.intervals import Interval
from assay.pipelines.files import FileSource
from assay.pipelines.plan import Planner
from assay.pipelines.sources import PythonSource
from assay.pipelines.spec import DatasetSpec, Kind
from assay.pipelines.transforms import SqlTransform
from assay.tables import Warehouse, WriteMode
from assay.tables.commitmeta import DatasetState

DAYS = [Interval(datetime(2026, 1, d), datetime(2026, 1, d + 1)) for d in (1, 2, 3)]
FILES = DatasetSpec("bronze.a", Kind.APPEND, FileSource(path="data/*.csv", format="csv"))
SILVER = DatasetSpec("silver.b", Kind.FULL, SqlTransform("SELECT * FROM bronze.a"), ("bronze.a",))
GOLD = DatasetSpec("gold.c", Kind.FULL, SqlTransform("SELECT * FROM silver.b"), ("silver.b",))
DAILY = DatasetSpec(
    "silver.daily",
    Kind.INCREMENTAL,
    SqlTransform("SELECT * FROM bronze.a"),
    ("bronze.a",),
    time_column="ts",
)


@pytest.fixture
def planner(tmp_path) -> Planner:
    (tmp_path / "data").mkdir()
    return Planner(Warehouse(str(tmp_path / "wh")), Catalog("sqlite://"), root=str(tmp_path))


def write(planner: Planner, name: str, **columns: list) -> int:
    table = pa.table(columns or {"n": [1]})
    return planner.warehouse.write(name, table, mode=WriteMode.APPEND, metadata={})


def test_a_table_is_rebuilt_when_never_built_its_code_or_its_inputs_changed(planner):
    assert planner.table_work(SILVER, DatasetState(), False).reasons == ["never built"]
    write(planner, "bronze.a")
    write(planner, "silver.b")
    built = DatasetState(fingerprint=SILVER.fingerprint, inputs={"bronze.a": 0})
    assert not planner.table_work(SILVER, built, False).needed
    other_code = DatasetState(fingerprint="0ld", inputs={"bronze.a": 0})
    assert planner.table_work(SILVER, other_code, False).reasons == ["code changed"]
    write(planner, "bronze.a")
    assert planner.table_work(SILVER, built, False).reasons == ["new data in bronze.a (v0 -> v1)"]
    assert planner.table_work(SILVER, built, True).reasons == ["full refresh requested"]


def test_a_file_source_has_pending_its_new_and_changed_files(planner):
    root = planner.root
    for name in ("x.csv", "y.csv"):
        with open(f"{root}/data/{name}", "w") as fh:
            fh.write("n\n1\n")
    [x, y] = FILES.producer.list_files(root)
    work = planner.work(FILES, DatasetState())
    assert (work.needed, work.reasons) == (True, ["2 new or changed file(s)"])
    seen = DatasetState(fingerprint=FILES.fingerprint, ingested={x.path: (x.size, x.mtime_ns)})
    assert planner.work(FILES, seen).reasons == ["1 new or changed file(s)"]
    assert planner.work(FILES, seen, full_refresh=True).reasons == ["2 new or changed file(s)"]
    every = seen.with_ingested({f.path: (f.size, f.mtime_ns) for f in (x, y)})
    assert not planner.work(FILES, every).needed
    redeclared = DatasetState(fingerprint="0ld", ingested=every.ingested)
    work = planner.work(FILES, redeclared)
    assert work.needed and work.replace_table
    assert work.reasons == [
        "declaration changed (columns, derive, time column): re-ingesting 2 file(s)"
    ]


def test_missing_and_stale_intervals_come_from_the_ledger_and_the_input_log(planner):
    ts = [datetime(2026, 1, 1, 5), datetime(2026, 1, 2, 5), datetime(2026, 1, 3, 5)]
    write(planner, "bronze.a", ts=ts)
    with planner.catalog.engine.begin() as con:
        records = [IntervalRecord(d, DAILY.fingerprint, 0, {"bronze.a": 0}) for d in DAYS[:2]]
        planner.catalog.upsert_intervals(con, DAILY.name, records, "r1")
    work = planner.work(DAILY, DatasetState())
    assert work.missing == DAYS[2:] and work.stale == []
    assert work.reasons == ["1 missing interval(s)"]
    write(planner, "bronze.a", ts=[datetime(2026, 1, 2, 9)])  # new rows in day 2 only
    work = Planner(planner.warehouse, planner.catalog).work(DAILY, DatasetState())
    assert work.stale == DAYS[1:2]
    assert work.reasons == ["1 missing interval(s)", "1 stale interval(s): upstream changed"]
    restated = planner.work(DAILY, DatasetState(), force=True)
    assert restated.intervals == DAYS and restated.reasons == ["restated: 3 interval(s) rebuilt"]


def test_plan_all_propagates_upstream_changes_down_the_graph(planner):
    with open(f"{planner.root}/data/x.csv", "w") as fh:
        fh.write("n\n1\n")
    source = DatasetSpec("bronze.py", Kind.FULL, PythonSource(print))
    below = DatasetSpec("silver.py", Kind.FULL, SqlTransform("SELECT 1"), ("bronze.py",))
    for name in ("bronze.a", "silver.b", "gold.c", "bronze.py", "silver.py"):
        write(planner, name)
    with planner.catalog.engine.begin() as con:
        for spec, inputs in ((SILVER, {"bronze.a": 0}), (GOLD, {"silver.b": 0})):
            planner.catalog.set_sync_point(
                con, spec.name, 0, DatasetState(0, spec.fingerprint, inputs)
            )
        planner.catalog.set_sync_point(
            con, below.name, 0, DatasetState(0, below.fingerprint, {"bronze.py": 0})
        )
    plan = {w.dataset: w for w in planner.plan_all([FILES, SILVER, GOLD, source, below])}
    assert plan["bronze.a"].reasons == ["1 new or changed file(s)"]
    assert plan["silver.b"].needed
    assert plan["silver.b"].reasons == ["upstream will change: bronze.a"]
    assert plan["gold.c"].reasons == ["upstream will change: silver.b"]
    # A Python source only knows whether its data changed once it has run.
    assert plan["bronze.py"].reasons == ["re-read on every run; commits only if its data changed"]
    assert not plan["silver.py"].needed


def test_an_incremental_dataset_below_a_change_rechecks_its_intervals_after_it(planner):
    with open(f"{planner.root}/data/x.csv", "w") as fh:
        fh.write("n\n1\n")
    write(planner, "bronze.a", ts=[datetime(2026, 1, 1, 5)])
    [daily] = planner.plan_all([FILES, DAILY])[1:]
    assert daily.reasons == [
        "1 missing interval(s)",
        "upstream will change: bronze.a (its changed intervals are re-checked after it runs)",
    ]
