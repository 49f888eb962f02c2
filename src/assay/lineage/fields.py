"""The raw fields of a file source, read from the files themselves when the bronze table
is not built yet: a CSV header, the keys of the first JSON lines, a Parquet schema."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from assay.pipelines.files import FileSource

#: JSON lines read for their keys: enough for fields that are not on every line, without
#: reading a whole file.
SAMPLE_LINES = 200


def sampled_fields(source: FileSource, root: str) -> list[str] | None:
    """The fields of the first file `source` matches, in file order; None when no file
    matches (or it cannot be read)."""
    files = source.list_files(root)
    if not files:
        return None
    path = Path(root) / files[0].path
    try:
        if source.format == "csv":
            return _csv_header(path, source.csv_delimiter)
        if source.format == "jsonl":
            return _json_keys(path)
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    except (OSError, ValueError):  # an unreadable file: the caller says what is unknown
        return None


def _csv_header(path: Path, delimiter: str) -> list[str]:
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        return next(csv.reader(handle, delimiter=delimiter), [])


def _json_keys(path: Path) -> list[str]:
    keys: dict[str, None] = {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle):
            if number >= SAMPLE_LINES:
                break
            try:
                record = json.loads(line)
            except ValueError:  # a broken line (quarantined at ingest): its keys are unknown
                continue
            if isinstance(record, dict):
                keys.update(dict.fromkeys(record))
    return list(keys)


def merged(*groups: Sequence[str] | None) -> list[str]:
    """The names of every group, first seen first.

    Example:
        >>> merged(["a", "b"], None, ["b", "c"])
        ['a', 'b', 'c']
    """
    return list(dict.fromkeys(name for group in groups if group for name in group))
