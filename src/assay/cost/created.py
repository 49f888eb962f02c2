"""When a table was created: the time of its first commit (Delta version 0), from the log.

Storage is charged only for the time a table's bytes existed (see `assay.cost.model`), so a
table made inside a cost window is charged from its creation, not from the window's start.
The log is the truth: the commit's in-commit timestamp when the writer recorded one, else
its `commitInfo.timestamp` (what `assay history` shows), else the commit file's modification
time (the Delta protocol's own commit time). The file is read through delta-rs's file system,
so object-store warehouses work like local folders.

Example:
    >>> import tempfile, pyarrow as pa
    >>> from assay.intervals import utcnow
    >>> from assay.tables.delta import Warehouse, WriteMode
    >>> wh = Warehouse(tempfile.mkdtemp())
    >>> before = utcnow().replace(microsecond=0)
    >>> _ = wh.write("bronze.t", pa.table({"a": [1]}), mode=WriteMode.APPEND, metadata={})
    >>> before <= table_created(wh, "bronze.t") <= utcnow()
    True
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.tables.delta import Warehouse

#: Version 0's commit file, relative to the table's folder.
FIRST_COMMIT = "_delta_log/00000000000000000000.json"


def table_created(warehouse: Warehouse, name: str) -> datetime | None:
    """The naive UTC time table `name` was created (its version 0 was committed).

    None when version 0's commit file is no longer in the log (log cleanup removed it: the
    table is older than the log's retention, 30 days by default) or the table does not exist.
    """
    import pyarrow.fs as pafs
    from deltalake.fs import DeltaStorageHandler

    handler = DeltaStorageHandler(warehouse.uri(name), warehouse.storage_options or None)
    filesystem = pafs.PyFileSystem(handler)
    info = filesystem.get_file_info(FIRST_COMMIT)
    if info.type != pafs.FileType.File:
        return None
    with filesystem.open_input_stream(FIRST_COMMIT) as stream:
        stamp = commit_timestamp(stream.read().decode("utf-8"))
    if stamp is not None:
        return stamp
    modified = info.mtime
    if not isinstance(modified, datetime):
        return None
    return modified.astimezone(UTC).replace(tzinfo=None)


def commit_timestamp(commit: str) -> datetime | None:
    """The naive UTC time a commit file's `commitInfo` records (None when it has none).

    Example:
        >>> commit_timestamp('{"commitInfo":{"timestamp":1767225600000}}\\n{"add":{}}')
        datetime.datetime(2026, 1, 1, 0, 0)
        >>> commit_timestamp('{"add":{}}') is None
        True
    """
    for line in commit.splitlines():
        if not line.strip():
            continue
        action: dict[str, Any] = json.loads(line)
        info = action.get("commitInfo")
        if not isinstance(info, dict):
            continue
        millis = info.get("inCommitTimestamp") or info.get("timestamp")
        if isinstance(millis, int | float):
            return datetime.fromtimestamp(millis / 1000, UTC).replace(tzinfo=None)
    return None
