"""`sync` folds a table's Delta log into the catalog: tested on hand-made logs, no project."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest

from assay.catalog import Catalog
from assay.catalog.sync import sync
from assay.intervals import Interval
from assay.tables import Warehouse, WriteMode
from assay.tables.commitmeta import CommitMeta, DatasetState, FileStamp

NAME = "silver.daily"
DAYS = [Interval(datetime(2026, 1, d), datetime(2026, 1, d + 1)) for d in (1, 2, 3)]


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    return Warehouse(str(tmp_path / "wh"))


def commit(wh: Warehouse, metadata: CommitMeta | dict, mode: WriteMode = WriteMode.APPEND) -> int:
    return wh.write(NAME, pa.table({"n": [1]}), mode=mode, metadata=metadata)


def test_a_catalog_behind_the_log_catches_up(wh):
    catalog = Catalog("sqlite://")
    # As an older version wrote it: a plain dict with the same keys.
    commit(wh, {"run_id": "r1", "fingerprint": "f1", "inputs": {"bronze.x": 4},
                "intervals": [DAYS[0].key()]})  # fmt: skip
    state = sync(catalog, wh, NAME)
    assert state == DatasetState(version=0, fingerprint="f1", inputs={"bronze.x": 4}, run_id="r1")
    assert [r.interval for r in catalog.done_intervals(NAME, "f1")] == DAYS[:1]
    # Two more commits land while the catalog is not written (a crash after each commit).
    commit(
        wh, CommitMeta(run_id="r2", fingerprint="f1", inputs={"bronze.x": 5}, intervals=(DAYS[1],))
    )
    commit(
        wh, CommitMeta(run_id="r2", fingerprint="f1", inputs={"bronze.x": 5}, intervals=(DAYS[2],))
    )
    state = sync(catalog, wh, NAME)
    assert state.version == 2 and state.inputs == {"bronze.x": 5}
    done = catalog.done_intervals(NAME, "f1")
    assert [(r.interval, r.version, dict(r.inputs)) for r in done] == [
        (DAYS[0], 0, {"bronze.x": 4}),
        (DAYS[1], 1, {"bronze.x": 5}),
        (DAYS[2], 2, {"bronze.x": 5}),
    ]
    assert catalog.sync_point(NAME) == (2, state)


def test_files_ingested_are_recorded_and_a_reset_forgets_earlier_ones(wh):
    catalog = Catalog("sqlite://")
    commit(wh, CommitMeta(run_id="r1", fingerprint="f1", files=(FileStamp("data/a.csv", 3, 1),)))
    commit(wh, CommitMeta(run_id="r1", fingerprint="f1", files=(FileStamp("data/b.csv", 4, 2),)))
    sync(catalog, wh, NAME)
    assert catalog.ingested_files(NAME) == {"data/a.csv": (3, 1), "data/b.csv": (4, 2)}
    # A full refresh's first commit replaces the table: what the log said before is gone.
    replaced = CommitMeta(
        run_id="r2", fingerprint="f2", files=(FileStamp("data/b.csv", 5, 3),), reset=True
    )
    commit(wh, replaced, WriteMode.OVERWRITE)
    state = sync(catalog, wh, NAME)
    assert catalog.ingested_files(NAME) == {"data/b.csv": (5, 3)}
    assert state == DatasetState(version=2, fingerprint="f2", run_id="r2")


def test_commits_without_assay_metadata_leave_the_state_alone(wh):
    catalog = Catalog("sqlite://")
    commit(wh, CommitMeta(run_id="r1", fingerprint="f1", inputs={}, cursor="2026-01-05T10:00:00"))
    commit(wh, {})  # e.g. a commit made by another tool
    state = sync(catalog, wh, NAME)
    assert (state.version, state.cursor) == (0, "2026-01-05T10:00:00")
    assert catalog.sync_point(NAME)[0] == 1


def test_a_dropped_table_starts_over(wh, tmp_path):
    import shutil

    catalog = Catalog("sqlite://")
    commit(wh, CommitMeta(run_id="r1", fingerprint="f1", intervals=(DAYS[0],)))
    sync(catalog, wh, NAME)
    shutil.rmtree(wh.uri(NAME))
    assert sync(catalog, wh, NAME) == DatasetState()
    assert catalog.done_intervals(NAME, "f1") == []
    assert catalog.sync_point(NAME) == (-1, DatasetState())
