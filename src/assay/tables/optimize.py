"""Table maintenance with delta-rs: compact small files, z-order on declared columns, vacuum.

Every commit this makes is marked `maintenance` (`optimize`, and the vacuum's own
`vacuum`), so planners see no new data (`Warehouse.maintenance_only`): `assay run` after an
optimize commits nothing and downstream intervals stay done. Compaction and z-order keep
every row, every app transaction (a stream's exactly-once marks live in the log, not in
the files) and time travel: the files they replace stay on disk until a vacuum past the
retention. Spark writes the same Delta tables, so delta-rs maintains those too.

This module knows tables only; legal holds and the audit log are the caller's
(`assay.pipelines.optimize`), as for `Warehouse.vacuum`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, WriterProperties
from deltalake.exceptions import CommitFailedError

from assay.errors import AssayError, DefinitionError, UsageError
from assay.tables.commitmeta import CommitMeta, encode_metadata
from assay.tables.delta import ConcurrentCommitError
from assay.tables.storage import UNVACUUMED, TableStorage, table_storage

if TYPE_CHECKING:
    from assay.config import StorageSettings
    from assay.tables.delta import Warehouse

#: The `maintenance` reason of compaction and z-order commits.
OPTIMIZE = "optimize"
#: Commit metadata key naming the columns a z-order commit clustered on.
ZORDER_KEY = "zorder_by"
#: delta-rs's own commits around a vacuum: they change no file a reader sees.
_VACUUM_OPERATIONS = {"VACUUM START", "VACUUM END"}
#: As the warehouse writes (see `assay.tables.delta._WRITER`).
_WRITER = WriterProperties(compression="SNAPPY")


@dataclass(frozen=True)
class OptimizePlan:
    """What `optimize_table` would do to a table, from its log and a file listing.

    Attributes:
        storage: the table's storage now, with its flags.
        compact_files: files compaction would rewrite (files under the target size, in
            partitions with two or more of them); 0: nothing to compact.
        files_after: the estimated file count once compacted.
        zorder_by: the columns a z-order would cluster on; () when none are declared or
            the table is z-ordered on them since its last data commit.
        vacuum_files, vacuum_bytes: data files (and their bytes) a vacuum at the
            retention would remove.
    """

    storage: TableStorage
    compact_files: int
    files_after: int
    zorder_by: tuple[str, ...]
    vacuum_files: int
    vacuum_bytes: int

    @property
    def name(self) -> str:
        return self.storage.name


@dataclass(frozen=True)
class OptimizeResult:
    """What `optimize_table` did.

    Attributes:
        before, after: the table's storage before and after (files, live and total bytes).
        rows: rows in the table (the same before and after, or optimize raised).
        files_rewritten, files_written: files compaction or z-order replaced and wrote.
        zorder_by: the columns z-ordered on this time (() when not).
        vacuumed_files, bytes_freed: data files the vacuum removed and their bytes.
        version: the table's version after (None: nothing was committed).
        seconds: wall time.
    """

    before: TableStorage
    after: TableStorage
    rows: int | None
    files_rewritten: int
    files_written: int
    zorder_by: tuple[str, ...]
    vacuumed_files: int
    bytes_freed: int
    version: int | None
    seconds: float

    @property
    def name(self) -> str:
        return self.before.name


def check_zorder_columns(warehouse: Warehouse, name: str, columns: Sequence[str]) -> None:
    """Raise DefinitionError when a declared z-order column is not in `name`'s table.

    Example:
        >>> import tempfile
        >>> from assay.tables.delta import Warehouse, WriteMode
        >>> wh = Warehouse(tempfile.mkdtemp())
        >>> _ = wh.write("bronze.t", pa.table({"a": [1]}), mode=WriteMode.APPEND, metadata={})
        >>> try:
        ...     check_zorder_columns(wh, "bronze.t", ["b"])
        ... except DefinitionError as exc:
        ...     print(exc.where, "-", exc.message)
        bronze.t - zorder_by column 'b' is not in the table
    """
    names = warehouse.schema(name).names
    for column in columns:
        if column not in names:
            raise DefinitionError(
                f"zorder_by column {column!r} is not in the table",
                where=name,
                hint=f"the table has: {', '.join(names)}; fix zorder_by= "
                f"(SQL header: `-- zorder_by: {names[0]}`)",
            )


def zorder_is_current(warehouse: Warehouse, name: str, columns: Sequence[str]) -> bool:
    """Whether `name` was z-ordered on `columns` and no commit since changed its files
    (only vacuums and compactions): z-ordering again would rewrite every file for nothing.

    Example:
        >>> import tempfile
        >>> from assay.tables.delta import Warehouse, WriteMode
        >>> wh = Warehouse(tempfile.mkdtemp())
        >>> _ = wh.write("bronze.t", pa.table({"a": [2, 1]}), mode=WriteMode.APPEND, metadata={})
        >>> zorder_is_current(wh, "bronze.t", ["a"])
        False
    """
    for commit in warehouse.history(name):
        if commit.operation in _VACUUM_OPERATIONS or commit.meta.maintenance == "vacuum":
            continue
        if commit.meta.maintenance != OPTIMIZE:
            return False  # data (or a delete's rewrite) since
        if commit.meta.extra.get(ZORDER_KEY) == list(columns):
            return True
    return False


def plan_optimize(
    warehouse: Warehouse,
    name: str,
    settings: StorageSettings,
    zorder_by: Sequence[str] = (),
    retain_hours: float | None = None,
) -> OptimizePlan:
    """What `optimize_table` would do, changing nothing (`assay optimize --dry-run`).

    Example:
        >>> import tempfile
        >>> from assay.config import StorageSettings
        >>> from assay.tables.delta import Warehouse, WriteMode
        >>> wh = Warehouse(tempfile.mkdtemp())
        >>> for n in range(3):
        ...     _ = wh.write("bronze.t", pa.table({"a": [n]}), mode=WriteMode.APPEND,
        ...                  metadata={})
        >>> plan = plan_optimize(wh, "bronze.t", StorageSettings(), zorder_by=["a"])
        >>> plan.compact_files, plan.files_after, plan.zorder_by, plan.vacuum_files
        (3, 1, ('a',), 0)
    """
    settings = _with_retention(settings, retain_hours)
    storage = table_storage(warehouse, name, settings)
    if zorder_by:
        check_zorder_columns(warehouse, name, zorder_by)
    compact, after = _compaction_estimate(warehouse.file_actions(name), settings.target_file_bytes)
    vacuum = next((f for f in storage.flags if f.kind == UNVACUUMED), None)
    current = not zorder_by or zorder_is_current(warehouse, name, zorder_by)
    return OptimizePlan(
        storage=storage,
        compact_files=compact,
        files_after=storage.files - compact + after,
        zorder_by=() if current else tuple(zorder_by),
        vacuum_files=vacuum.saving_files if vacuum else 0,
        vacuum_bytes=vacuum.saving_bytes if vacuum else 0,
    )


def optimize_table(
    warehouse: Warehouse,
    name: str,
    settings: StorageSettings,
    *,
    zorder_by: Sequence[str] = (),
    vacuum: bool = True,
    retain_hours: float | None = None,
) -> OptimizeResult:
    """Compact `name`'s small files (or z-order them on `zorder_by`, which compacts too),
    then vacuum the files no version of the last `retain_hours` (default
    `settings.vacuum_retain_hours`, never below 1) references.

    Z-order runs only when the table changed since its last z-order on the same columns;
    compaction commits nothing when no partition has two files under the target size; the
    vacuum commits nothing when no file is old enough. So a second optimize does nothing.

    Raises:
        DefinitionError: a `zorder_by` column is not in the table.
        UsageError: `retain_hours` below 1.
        ConcurrentCommitError: another writer removed files the rewrite read; retry.

    Example:
        >>> import tempfile
        >>> from assay.config import StorageSettings
        >>> from assay.tables.delta import Warehouse, WriteMode
        >>> wh = Warehouse(tempfile.mkdtemp())
        >>> for n in range(3):
        ...     _ = wh.write("bronze.t", pa.table({"a": [n]}), mode=WriteMode.APPEND,
        ...                  metadata={})
        >>> done = optimize_table(wh, "bronze.t", StorageSettings())
        >>> done.before.files, done.after.files, done.rows, done.version
        (3, 1, 3, 3)
        >>> optimize_table(wh, "bronze.t", StorageSettings()).version is None
        True
    """
    started = time.perf_counter()
    settings = _with_retention(settings, retain_hours)
    if zorder_by:
        check_zorder_columns(warehouse, name, zorder_by)
    before = table_storage(warehouse, name, settings)
    version_before = warehouse.version(name)
    zorder = (
        tuple(zorder_by) if zorder_by and not zorder_is_current(warehouse, name, zorder_by) else ()
    )
    rewritten, written = _rewrite(warehouse, name, settings.target_file_bytes, zorder)
    # The rewrite's own commit against the version it was made on: another writer (a
    # stream's micro-batch) may append around it, and those rows are not optimize's.
    ours = _optimize_version(warehouse, name, version_before)
    rows_before = _rows(warehouse, name, None if ours is None else ours - 1)
    rows_after = _rows(warehouse, name, ours)
    if rows_before is not None and rows_after != rows_before:  # never expected: say it loudly
        raise AssayError(
            f"optimize changed the row count from {rows_before} to {rows_after}",
            where=name,
            hint=f"read the previous version (`assay history {name}`) and report this bug",
        )
    # Vacuum only when the listing finds files it would remove: on an object store
    # delta-rs lists files it already removed again, and would commit a vacuum for them.
    pre_vacuum = table_storage(warehouse, name, settings) if vacuum else None
    if pre_vacuum is not None and any(f.kind == UNVACUUMED for f in pre_vacuum.flags):
        warehouse.vacuum(name, math.ceil(settings.vacuum_retain_hours))
    after = table_storage(warehouse, name, settings)
    pre_vacuum = pre_vacuum or after  # no vacuum: nothing removed
    version_after = warehouse.version(name)
    return OptimizeResult(
        before=before,
        after=after,
        rows=rows_after,
        files_rewritten=rewritten,
        files_written=written,
        zorder_by=zorder if rewritten else (),
        vacuumed_files=max(pre_vacuum.unvacuumed_files - after.unvacuumed_files, 0),
        bytes_freed=max(_data_bytes(pre_vacuum) - _data_bytes(after), 0),
        version=version_after if version_after != version_before else None,
        seconds=time.perf_counter() - started,
    )


def _rewrite(
    warehouse: Warehouse, name: str, target_bytes: int, zorder: tuple[str, ...]
) -> tuple[int, int]:
    """One compaction or z-order commit (none when there is nothing to compact); return
    the files it removed and added."""
    meta = CommitMeta(maintenance=OPTIMIZE, extra={ZORDER_KEY: list(zorder)} if zorder else {})
    properties = CommitProperties(custom_metadata=encode_metadata(meta))
    optimizer = warehouse.table(name).optimize
    try:
        if zorder:
            metrics = optimizer.z_order(
                list(zorder),
                target_size=target_bytes,
                writer_properties=_WRITER,
                commit_properties=properties,
            )
        else:
            metrics = optimizer.compact(
                target_size=target_bytes, writer_properties=_WRITER, commit_properties=properties
            )
    except CommitFailedError as exc:
        raise ConcurrentCommitError(
            f"concurrent commit conflict: {exc}",
            where=name,
            hint="another writer changed the files being compacted; run `assay optimize` again",
        ) from exc
    return int(metrics.get("numFilesRemoved") or 0), int(metrics.get("numFilesAdded") or 0)


def _data_bytes(storage: TableStorage) -> int:
    """Bytes of data files on disk, live or not (the log left out: a vacuum adds to it)."""
    return storage.live_bytes + storage.unvacuumed_bytes


def _optimize_version(warehouse: Warehouse, name: str, since: int | None) -> int | None:
    """The version of the optimize commit made after `since` (None: none was made)."""
    latest = warehouse.version(name)
    if latest is None or since is None or latest <= since:
        return None
    commits = warehouse.history(name, limit=latest - since)
    ours = [c.version for c in commits if c.version > since and c.meta.maintenance == OPTIMIZE]
    return min(ours) if ours else None


def _rows(warehouse: Warehouse, name: str, version: int | None = None) -> int | None:
    """Rows of `version` (default the newest) from the log's statistics (None: a file has
    none)."""
    counts = warehouse.file_actions(name, version)["num_records"]
    if counts.null_count:
        return None
    return int(pc.sum(counts).as_py() or 0)


def _compaction_estimate(actions: pa.Table, target_bytes: int) -> tuple[int, int]:
    """Files compaction would rewrite and the files it would make of them: per partition,
    the files under the target size, when there are two or more, bin-packed to it."""
    partition_columns = [c for c in actions.column_names if c.startswith("partition.")]
    groups: dict[tuple[object, ...], list[int]] = {}
    sizes = actions["size_bytes"].to_pylist()
    keys = zip(*(actions[c].to_pylist() for c in partition_columns), strict=True)
    for key, size in zip(keys if partition_columns else ((),) * len(sizes), sizes, strict=True):
        if size < target_bytes:
            groups.setdefault(tuple(key), []).append(size)
    rewritten = made = 0
    for small in groups.values():
        if len(small) >= 2:
            rewritten += len(small)
            made += math.ceil(sum(small) / target_bytes)
    return rewritten, made


def _with_retention(settings: StorageSettings, retain_hours: float | None) -> StorageSettings:
    if retain_hours is None:
        return settings
    if retain_hours < 1:
        raise UsageError(
            f"a vacuum keeps at least 1 hour of history, not {retain_hours:g} h: readers "
            "in flight and time travel need the files",
            hint="pass --retain-hours 1 or more (default: storage.vacuum_retain_hours)",
        )
    return settings.model_copy(update={"vacuum_retain_hours": float(retain_hours)})
