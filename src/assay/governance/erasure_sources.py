"""Source files outside the warehouse that hold a data subject.

assay ingests files it does not own (the producer's landing folder): an erasure cannot
delete them, but it must not ignore them either. Every file a file source matches today
and every file the catalog lists as ingested is read and its records matched by key
(JSON lines parsed, CSV and Parquet by column); those that hold the subject are listed
for deletion at the source, in the output and in the proof.

Streams too: a folder stream's files (its glob, today) are read as JSON lines; a Kafka
topic cannot be read back here, so the stream's table and its dead letters tell which
partitions and offsets held the subject (their `_partition` and `_offset` columns), listed
as `kafka TOPIC partition P offsets A-B` for deletion in the topic (compaction with a
tombstone, or its retention).

Example:
    >>> from assay.governance.erasure_match import Needles
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
    >>> _ = path.write_text('{"customer_id": 7}\\n{"customer_id": 8}\\n')
    >>> records_holding(path, "jsonl", Needles({"customer_id": frozenset({"7"})}))
    1
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.governance.erasure_match import Needles, raw_mask, row_mask

if TYPE_CHECKING:
    from assay.runtime import Runtime


@dataclass(frozen=True)
class SourceFile:
    """A file outside the warehouse that holds the subject (deleted at the source)."""

    dataset: str
    path: str
    records: int


def source_files(rt: Runtime, needles: Needles) -> list[SourceFile]:
    """Files of the project's file sources (matched now or ingested before) that hold a
    needle, with the number of records that do."""
    from assay.pipelines.files import FileSource
    from assay.streaming.sources import FolderSource, KafkaSource

    found = []
    root = Path(rt.root)
    for name, spec in rt.dag.specs.items():
        producer = spec.producer
        if isinstance(producer, FolderSource):
            found += _folder_files(rt, name, producer, needles)
            continue
        if isinstance(producer, KafkaSource):
            found += _kafka_positions(rt, name, producer.topic, needles)
            continue
        if not isinstance(producer, FileSource):
            continue
        paths = {f.path for f in producer.list_files(rt.root)}
        paths |= set(rt.catalog.ingested_files(name))
        for path in sorted(paths):
            full = Path(path) if Path(path).is_absolute() else root / path
            if not full.is_file():
                continue
            records = records_holding(full, producer.format, needles)
            if records:
                found.append(SourceFile(name, path, records))
    return found


def records_holding(path: Path, file_format: str, needles: Needles) -> int:
    """Records of the file holding a needle (a line that is not JSON: by key, as text)."""
    if file_format == "jsonl":
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        found = raw_mask(pa.array(lines, pa.string()), needles)
        return int(pc.sum(pc.cast(found, pa.int64())).as_py() or 0)
    if file_format == "csv":
        import csv

        import pyarrow.csv as pcsv

        with path.open(newline="", encoding="utf-8", errors="replace") as text:
            header = next(csv.reader(text), [])
        # Every field as text: the needle is text, and a typed read could fail on a bad row.
        types = {c: pa.string() for c in header}
        table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(column_types=types))
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    columns = {c: needles.keys[c] for c in table.column_names if c in needles.keys}
    if not columns:
        return 0
    mask = row_mask(table, columns, (), needles)
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _folder_files(rt: Runtime, name: str, source: Any, needles: Needles) -> list[SourceFile]:
    """The files a folder stream reads today (its glob) that hold a needle."""
    import glob
    import os

    root = Path(rt.root)
    pattern = source.path if os.path.isabs(source.path) else str(root / source.path)
    found = []
    for path in sorted(glob.glob(pattern, recursive=True)):
        full = Path(path)
        if not full.is_file():
            continue
        records = records_holding(full, "jsonl", needles)
        if records:
            shown = full.relative_to(root).as_posix() if full.is_relative_to(root) else path
            found.append(SourceFile(name, shown, records))
    return found


def _kafka_positions(rt: Runtime, name: str, topic: str, needles: Needles) -> list[SourceFile]:
    """Per partition of the topic, the offsets (first-last) of the subject's records as
    the stream's table and its dead letters kept them."""
    from assay.pipelines.rejected import DEAD_LETTERS

    offsets: dict[str, list[int]] = {}
    for table in (name, DEAD_LETTERS.name(name)):
        if table not in rt.warehouse.list_tables():
            continue
        for partition, offset in _positions(rt, table, name, needles):
            offsets.setdefault(partition, []).append(offset)
    return [
        SourceFile(
            name,
            f"kafka {topic} partition {p} offsets {min(found)}-{max(found)}",
            len(found),
        )
        for p, found in sorted(offsets.items())
    ]


def _positions(rt: Runtime, table: str, stream: str, needles: Needles) -> list[tuple[str, int]]:
    """(partition, offset) of `table`'s rows holding a needle (rows of `stream` only,
    in a dead-letter table shared by name)."""
    from assay.governance.erasure_match import raw_columns

    schema = rt.warehouse.schema(table)
    if "_partition" not in schema.names or "_offset" not in schema.names:
        return []
    columns = {c: needles.keys[c] for c in schema.names if c in needles.keys}
    raw = raw_columns(table, schema)
    if not columns and not raw:
        return []
    used = list(dict.fromkeys([*columns, *raw, "_partition", "_offset"]))
    if "stream" in schema.names:
        used.append("stream")
    out: list[tuple[str, int]] = []
    for batch in rt.warehouse.dataset(table).to_batches(columns=used):
        mask = row_mask(batch, columns, raw, needles)
        if "stream" in batch.schema.names:
            mask = pc.and_(mask, pc.fill_null(pc.equal(batch.column("stream"), stream), False))
        hits = pa.Table.from_batches([batch]).filter(mask)
        out += zip(
            [str(p) for p in hits.column("_partition").to_pylist()],
            hits.column("_offset").to_pylist(),
            strict=True,
        )
    return out
