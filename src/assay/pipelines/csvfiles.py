"""Read CSV files row by row where they are broken, and in one vectorized pass where not.

A CSV file is never all or nothing: a row with the wrong number of fields, or with bytes
that are not UTF-8, is quarantined on its own with its raw text and line number, and the
other rows of the file are written. `_line` is the line of the file where the record starts
(the header is line 1), right after malformed rows, blank lines and quoted line breaks too.

Most files are clean: pyarrow parses them in one pass and the line of row k is k + 1. Only a
file where that does not hold (a rejected row, a blank line, a value spanning lines, bytes
that are not UTF-8) is read again with Python's csv module, which knows each record's line.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

#: Fields larger than pyarrow's default block (1 MiB) are fine: blocks grow to the file.
_MAX_BLOCK = 1 << 30
#: Text that pyarrow reads as null in a CSV field (kept the same on the row-by-row path).
NULL_TOKENS = frozenset(pcsv.ConvertOptions().null_values)


@dataclass
class CsvRows:
    """The good records of a CSV file as text columns, their lines, and the rejects."""

    table: pa.Table
    lines: pa.Array
    header: list[str]
    rejects: list[dict[str, Any]] = field(default_factory=list)


def read_csv_rows(
    full_path: str, rel_path: str, delimiter: str, null_values: frozenset[str] = NULL_TOKENS
) -> CsvRows:
    """Read a CSV file with a header into text columns; a field whose whole text is one of
    `null_values` is null (default: pyarrow's list, `""`, `NA`, `NULL`, `N/A`...)."""
    with open(full_path, "rb") as fh:
        data = fh.read()
    header = _header(data, delimiter)
    fast = _vectorized(data, header, delimiter, null_values)
    if fast is not None:
        return fast
    return _row_by_row(data, rel_path, header, delimiter, null_values)


def _header(data: bytes, delimiter: str) -> list[str]:
    """The first record (a quoted name may span lines); a header that is not UTF-8 makes
    the file unreadable (UnicodeDecodeError), since no column can be named from it."""
    text = io.TextIOWrapper(
        io.BytesIO(data), encoding="utf-8-sig", errors="surrogateescape", newline=""
    )
    header = next(csv.reader(text, delimiter=delimiter), [])
    for name in header:
        if _not_utf8(name):
            raise UnicodeDecodeError("utf-8", name.encode(errors="surrogateescape"), 0, 1, "header")
    return header


def _vectorized(
    data: bytes, header: list[str], delimiter: str, null_values: frozenset[str]
) -> CsvRows | None:
    """One pyarrow pass, or None when rows would need their own treatment or lines."""
    if not header:
        return None
    rejected: list[Any] = []

    def on_invalid(row: Any) -> str:
        rejected.append(row)
        return "skip"

    table = pcsv.read_csv(
        pa.py_buffer(data),
        read_options=pcsv.ReadOptions(block_size=max(1 << 20, min(len(data) + 1, _MAX_BLOCK))),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
        convert_options=pcsv.ConvertOptions(
            column_types={c: pa.binary() for c in header},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=sorted(null_values),
        ),
    )
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if rejected or lines != table.num_rows + 1 or table.num_columns != len(header):
        return None
    try:
        text = pa.table({c: table[i].cast(pa.string()) for i, c in enumerate(header)})
    except pa.ArrowInvalid:  # some value is not UTF-8
        return None
    numbers = pa.array(np.arange(2, table.num_rows + 2, dtype=np.int64))
    return CsvRows(text, numbers, header)


def _row_by_row(
    data: bytes, rel_path: str, header: list[str], delimiter: str, null_values: frozenset[str]
) -> CsvRows:
    columns: list[list[str | None]] = [[] for _ in header]
    lines: list[int] = []
    rejects: list[dict[str, Any]] = []
    for line, fields, raw in _records(data, delimiter):
        problem = _problem(fields, raw, len(header))
        if problem:
            rejects.append(_reject(rel_path, line, raw, *problem))
            continue
        lines.append(line)
        for values, value in zip(columns, fields, strict=True):
            values.append(None if value in null_values else value)
    table = pa.table({c: pa.array(v, pa.string()) for c, v in zip(header, columns, strict=True)})
    return CsvRows(table, pa.array(lines, pa.int64()), header, rejects)


def _records(data: bytes, delimiter: str) -> Iterator[tuple[int, list[str], str]]:
    """(line where the record starts, fields, raw text) for every record after the header.

    Bytes that are not UTF-8 are kept as surrogates, so such a record is found and
    quarantined rather than failing the file.
    """
    text = data.decode("utf-8", errors="surrogateescape")
    physical = text.splitlines(keepends=True)
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)  # a field over 128 KiB is a value, not an error
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        next(reader, None)  # the header
        consumed = reader.line_num
        for fields in reader:
            start, consumed = consumed + 1, reader.line_num
            if fields:  # a blank line is no record
                yield start, fields, "".join(physical[start - 1 : consumed]).rstrip("\r\n")
    finally:
        csv.field_size_limit(limit)


def _problem(fields: list[str], raw: str, expected: int) -> tuple[str, str] | None:
    if any(_not_utf8(value) for value in fields):
        return "malformed_record", "line is not valid UTF-8"
    if len(fields) != expected:
        return "malformed_record", f"expected {expected} fields, found {len(fields)}"
    return None


def _not_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _reject(rel_path: str, line: int, raw: str, rule: str, reason: str) -> dict[str, Any]:
    printable = raw.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    return {
        "batch_key": rel_path,
        "source_file": rel_path,
        "line": line,
        "raw_record": printable,
        "rule": rule,
        "reason": reason,
    }
