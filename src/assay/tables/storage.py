"""Storage health of Delta tables: what a table costs on disk and what maintenance would save.

A table's live files (the current snapshot) come from the Delta log; what is actually on
disk comes from a listing through delta-rs's own file system (the same object store client
that reads the table), so local folders and object-store warehouses (s3://, gs://, az://,
file://) are measured alike. Two things are flagged, with the saving `assay optimize` would
bring: many small files (compaction) and history still on disk past the vacuum retention.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote

import pyarrow.compute as pc
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.fs import DeltaStorageHandler

if TYPE_CHECKING:
    from assay.config import StorageSettings
    from assay.tables.delta import Warehouse

#: Flag kinds, as `StorageFlag.kind` names them.
SMALL_FILES = "small files"
UNVACUUMED = "unvacuumed history"

_LOG_DIR = "_delta_log/"
_COMMIT = re.compile(r"^_delta_log/(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^_delta_log/(\d{20})\.checkpoint(\.\d+\.\d+)?\.parquet$")


@dataclass(frozen=True)
class StorageFlag:
    """One storage problem of a table and what fixing it would save.

    `saving_bytes`/`saving_files`: bytes freed and files fewer once `assay optimize` ran
    (compaction frees no bytes by itself: the files it replaces stay until a vacuum past the
    retention, so its saving is in files).
    """

    kind: str
    message: str
    saving_bytes: int
    saving_files: int


@dataclass(frozen=True)
class TableStorage:
    """What one table holds on disk.

    Attributes:
        name: `layer.name`.
        live_bytes: bytes of the data files of the current version.
        files: data files of the current version.
        avg_file_bytes: live_bytes / files (0 for a table without files).
        versions_kept: versions time travel can still load from the log.
        unvacuumed_bytes: bytes of data files on disk that the current version does not
            reference (removed by later commits, or left by a crashed writer).
        small_files: files of the current version smaller than `small_file_bytes`.
        total_bytes: every byte under the table's folder: data files, old or live, and log.
        flags: storage problems, with the saving `assay optimize` would bring.
        unvacuumed_files: data files counted in `unvacuumed_bytes`.
    """

    name: str
    live_bytes: int
    files: int
    avg_file_bytes: int
    versions_kept: int
    unvacuumed_bytes: int
    small_files: int
    total_bytes: int
    flags: list[StorageFlag] = field(default_factory=list)
    unvacuumed_files: int = 0

    @property
    def saving_bytes(self) -> int:
        """Bytes `assay optimize` would free, over all flags."""
        return sum(flag.saving_bytes for flag in self.flags)


@dataclass(frozen=True)
class _Listing:
    """The files under a table's folder, by path relative to it, with their sizes."""

    data: dict[str, int]
    log: dict[str, int]


def table_storage(warehouse: Warehouse, name: str, settings: StorageSettings) -> TableStorage:
    """Measure table `name` of `warehouse` and flag what `assay optimize` would fix.

    Raises TableNotFoundError when the table does not exist.

    Example:
        >>> import tempfile, pyarrow as pa
        >>> from assay.config import StorageSettings
        >>> from assay.tables.delta import Warehouse, WriteMode
        >>> wh = Warehouse(tempfile.mkdtemp())
        >>> for day in range(3):
        ...     _ = wh.write("bronze.t", pa.table({"day": [day]}), mode=WriteMode.APPEND,
        ...                  metadata={})
        >>> health = table_storage(wh, "bronze.t", StorageSettings(small_files_flag=3))
        >>> health.files, health.small_files, health.versions_kept, health.unvacuumed_bytes
        (3, 3, 3, 0)
        >>> [(flag.kind, flag.saving_files) for flag in health.flags]
        [('small files', 2)]
    """
    table = warehouse.table(name)
    actions = warehouse.file_actions(name).select(["path", "size_bytes"])
    # The log stores paths URL-encoded (a partition value `x y` is `p=x%2520y` for the
    # folder `p=x%20y`); the listing gives the names as they are on disk.
    live = {
        unquote(path): int(size)
        for path, size in zip(
            actions["path"].to_pylist(), actions["size_bytes"].to_pylist(), strict=True
        )
    }
    listing = _list_files(table.table_uri, warehouse.storage_options)
    unvacuumed = {path: size for path, size in listing.data.items() if path not in live}
    live_bytes = int(pc.sum(actions["size_bytes"]).as_py() or 0)
    small = [size for size in live.values() if size < settings.small_file_bytes]
    vacuumable = _vacuumable(table, settings.vacuum_retain_hours, unvacuumed)
    return TableStorage(
        name=name,
        live_bytes=live_bytes,
        files=len(live),
        avg_file_bytes=live_bytes // len(live) if live else 0,
        versions_kept=_versions_kept(listing.log, table.version()),
        unvacuumed_bytes=sum(unvacuumed.values()),
        small_files=len(small),
        total_bytes=sum(listing.data.values()) + sum(listing.log.values()),
        flags=[
            *_small_files_flag(small, settings),
            *_unvacuumed_flag(vacuumable, unvacuumed, settings.vacuum_retain_hours),
        ],
        unvacuumed_files=len(unvacuumed),
    )


def warehouse_storage(
    warehouse: Warehouse, names: Iterable[str], settings: StorageSettings
) -> list[TableStorage]:
    """`table_storage` of each of `names` that exists (a dataset not built yet has no
    storage), in the order given.

    Example:
        >>> import tempfile, pyarrow as pa
        >>> from assay.config import StorageSettings
        >>> from assay.tables.delta import Warehouse, WriteMode
        >>> wh = Warehouse(tempfile.mkdtemp())
        >>> _ = wh.write("bronze.t", pa.table({"a": [1]}), mode=WriteMode.APPEND, metadata={})
        >>> [s.name for s in warehouse_storage(wh, ["bronze.t", "silver.none"],
        ...                                    StorageSettings())]
        ['bronze.t']
    """
    return [table_storage(warehouse, name, settings) for name in names if warehouse.exists(name)]


def compacted_files(sizes: Iterable[int], target_file_bytes: int) -> int:
    """How many files compaction makes of files of `sizes`: bin-packed up to the target.

    Example:
        >>> compacted_files([40, 40, 40, 40, 40], 100), compacted_files([], 100)
        (2, 0)
    """
    return math.ceil(sum(sizes) / target_file_bytes)


def _list_files(table_uri: str, storage_options: dict[str, str]) -> _Listing:
    """Every file under the table's folder, split into data files and log files."""
    handler = DeltaStorageHandler(table_uri, storage_options or None)
    filesystem = pafs.PyFileSystem(handler)
    data: dict[str, int] = {}
    log: dict[str, int] = {}
    for info in filesystem.get_file_info(pafs.FileSelector("", recursive=True)):
        if info.type != pafs.FileType.File:
            continue
        path = info.path.lstrip("/")
        (log if path.startswith(_LOG_DIR) else data)[path] = int(info.size or 0)
    return _Listing(data=data, log=log)


def _versions_kept(log_files: dict[str, int], latest: int) -> int:
    """Versions loadable from the log: from version 0 while its commit file is kept, else
    from the oldest checkpoint (an older commit file without a checkpoint before it cannot
    be replayed)."""
    commits = {int(m.group(1)) for path in log_files if (m := _COMMIT.match(path))}
    checkpoints = {int(m.group(1)) for path in log_files if (m := _CHECKPOINT.match(path))}
    if 0 in commits:
        oldest = 0
    elif checkpoints:
        oldest = min(checkpoints)
    else:
        oldest = min(commits, default=latest)
    return latest - oldest + 1


def _vacuumable(
    table: DeltaTable, retain_hours: float, unvacuumed: dict[str, int]
) -> dict[str, int]:
    """Of the files on disk the current version does not reference, those a vacuum at
    `retain_hours` would remove (delta-rs decides, in a dry run; it also lists files it
    removed already, so only the ones still on disk count)."""
    if not unvacuumed:
        return {}
    root = table.table_uri.rstrip("/") + "/"
    listed = table.vacuum(
        retention_hours=math.ceil(retain_hours), dry_run=True, enforce_retention_duration=False
    )
    removable = {path.removeprefix(root) for path in listed}
    return {path: size for path, size in unvacuumed.items() if path in removable}


def _small_files_flag(small: list[int], settings: StorageSettings) -> list[StorageFlag]:
    if len(small) < settings.small_files_flag:
        return []
    after = compacted_files(small, settings.target_file_bytes)
    return [
        StorageFlag(
            kind=SMALL_FILES,
            message=(
                f"{len(small)} files under {human_bytes(settings.small_file_bytes)} "
                f"(average {human_bytes(sum(small) // len(small))}); compaction would make "
                f"{after} file{'s' if after != 1 else ''} of them"
            ),
            saving_bytes=0,
            saving_files=len(small) - after,
        )
    ]


def _unvacuumed_flag(
    vacuumable: dict[str, int], unvacuumed: dict[str, int], retain_hours: float
) -> list[StorageFlag]:
    if not vacuumable:
        return []
    kept = len(unvacuumed) - len(vacuumable)
    freed = sum(vacuumable.values())
    return [
        StorageFlag(
            kind=UNVACUUMED,
            message=(
                f"{human_bytes(freed)} in {len(vacuumable)} files no version of the last "
                f"{retain_hours:g} h references; a vacuum would remove them"
                + (f" ({kept} newer files stay for time travel)" if kept else "")
            ),
            saving_bytes=freed,
            saving_files=len(vacuumable),
        )
    ]


def human_bytes(num_bytes: float) -> str:
    """`num_bytes` for people: 512 B, 1.5 KiB, 16 MiB.

    Example:
        >>> [human_bytes(n) for n in (512, 1536, 16 * 1024 * 1024, 1023.9 * 1024)]
        ['512 B', '1.5 KiB', '16 MiB', '1024 KiB']
    """
    unit = "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if num_bytes < 1024 or unit == "TiB":
            break
        num_bytes /= 1024
    if unit == "B" or num_bytes >= 10:
        return f"{num_bytes:.0f} {unit}"
    return f"{num_bytes:.1f}".removesuffix(".0") + f" {unit}"
