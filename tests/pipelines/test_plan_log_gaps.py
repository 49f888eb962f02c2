"""Where the Delta log cannot tell what changed in an input, the planner says "unknown"
(every interval over it stale), never "nothing": an input recreated behind assay's back,
and commits cleaned from the log (a maintenance commit on the checkpoint would otherwise
hide the data commits before it). Maintenance between data commits stays ignored."""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from datetime import datetime

import pyarrow as pa

from assay.catalog import Catalog
from assay.config import StorageSettings
from assay.pipelines.plan import Planner
from assay.tables.delta import Warehouse, WriteMode
from assay.tables.optimize import optimize_table


def _day(n: int) -> pa.Table:
    return pa.table({"ts": pa.array([datetime(2024, 1, n)], pa.timestamp("us"))})


def _appended(days: range | tuple[int, ...]) -> Warehouse:
    wh = Warehouse(tempfile.mkdtemp())
    for n in days:
        wh.write("bronze.a", _day(n), mode=WriteMode.APPEND, metadata={})
    return wh


def _changed(wh: Warehouse, since: int) -> list[tuple[datetime, datetime]] | None:
    return Planner(wh, Catalog("sqlite://"), {"bronze.a": "ts"})._compute_changed(
        "bronze.a", "ts", since
    )


def test_a_recreated_input_is_unknown_not_unchanged() -> None:
    wh = _appended(range(1, 6))  # v0..v4; an interval recorded v4
    shutil.rmtree(wh.uri("bronze.a"))
    for n in (20, 21):  # v0..v1 again, other data
        wh.write("bronze.a", _day(n), mode=WriteMode.APPEND, metadata={})
    assert _changed(wh, 4) is None


def test_commits_cleaned_from_the_log_are_unknown_not_skipped() -> None:
    wh = _appended(range(1, 6))  # v0..v4
    optimize_table(wh, "bronze.a", StorageSettings(), vacuum=False)  # v5: maintenance
    wh.table("bronze.a").create_checkpoint()
    wh.write("bronze.a", _day(6), mode=WriteMode.APPEND, metadata={})  # v6
    log = os.path.join(wh.uri("bronze.a"), "_delta_log")
    for path in glob.glob(log + "/*.json"):  # the log's expired entries, as delta-rs drops them
        if int(os.path.basename(path).split(".")[0]) < 5:
            os.remove(path)
    # Days 3-5 came in v2-v4, which the log no longer shows: the planner cannot say.
    assert _changed(wh, 1) is None


def test_maintenance_between_data_commits_is_not_a_change() -> None:
    wh = _appended(range(1, 4))  # v0..v2
    optimize_table(wh, "bronze.a", StorageSettings(), vacuum=False)  # v3: maintenance
    assert _changed(wh, 2) == []
    wh.write("bronze.a", _day(9), mode=WriteMode.APPEND, metadata={})  # v4
    assert _changed(wh, 2) == [(datetime(2024, 1, 9), datetime(2024, 1, 9))]
