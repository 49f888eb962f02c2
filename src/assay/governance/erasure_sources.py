"""Source files outside the warehouse that hold a data subject.

assay ingests files it does not own (the producer's landing folder): an erasure cannot
delete them, but it must not ignore them either. Every file a file source matches today
and every file the catalog lists as ingested is read and its records matched by key
(JSON lines parsed, CSV and Parquet by column); those that hold the subject are listed
for deletion at the source, in the output and in the proof.

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
from typing import TYPE_CHECKING

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

    found = []
    root = Path(rt.root)
    for name, spec in rt.dag.specs.items():
        producer = spec.producer
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
