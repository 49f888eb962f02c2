"""Rejected rows: one shape for the rows a batch quarantines and a stream dead-letters.

A row is rejected when it cannot be written (it does not parse or cast, lacks its key or
event time) or a contract's row rule refuses it. Both table families hold the same
columns, so a reader (`assay status`, the web UI, lineage) reads them one way:

    dataset      the dataset or stream the row was meant for
    run_id       the run that rejected it
    rule         the rule it broke (`cast`, `minimum(amount)`, `malformed_record`, ...)
    reason       why, in words
    raw_record   the record as read (typed rows as JSON)
    source       where it was read: a file, or a stream's partition
    position     its line in that file, or its offset in that partition
    record_key   a stream record's message key (none for files)
    batch_key    what re-processing replaces: a file, an interval, a key (none for streams,
                 whose dead letters are fenced by offset instead)
    rejected_at  when it was rejected (naive UTC)

Compatibility: the table families keep their names (`quarantine.<layer>_<name>`,
`deadletter.<layer>_<name>`) and the columns users query today, as columns that repeat the
shared ones in each family's own words: quarantine tables keep `source_file`, `line` and
`quarantined_at`; dead-letter tables keep `stream`, `_partition`, `_offset`, `_key` and
`_ingested_at`. New columns come after the old ones, in the order schema evolution adds
them to a table created before this shape, so old and new tables look alike. Rows written
before hold nulls in the shared columns; `read_rejected` fills them from the family's own
columns, so every row reads in the one shape.

Example:
    >>> from datetime import datetime
    >>> rows = [Rejected("cast", "column n: x is not BIGINT", "{}", "a.jsonl", 2, "a.jsonl")]
    >>> t = QUARANTINE.table(rows, "bronze.t", "run1", datetime(2024, 1, 1))
    >>> t.select(["source_file", "line", "source", "position", "rule"]).to_pylist()
    [{'source_file': 'a.jsonl', 'line': 2, 'source': 'a.jsonl', 'position': 2, 'rule': 'cast'}]
    >>> QUARANTINE.name("bronze.t"), DEAD_LETTERS.name("bronze.events")
    ('quarantine.bronze_t', 'deadletter.bronze_events')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.naming import split_name
from assay.sqlbuild import Predicate, in_list
from assay.tables import Warehouse, WriteMode

#: The one shape of a rejected row, in both families.
SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("run_id", pa.string()),
        ("rule", pa.string()),
        ("reason", pa.string()),
        ("raw_record", pa.large_string()),
        ("source", pa.string()),
        ("position", pa.int64()),
        ("record_key", pa.string()),
        ("batch_key", pa.string()),
        ("rejected_at", pa.timestamp("us")),
    ]
)


@dataclass(frozen=True)
class Rejected:
    """One rejected row, before the run and dataset stamp it (see the module's columns)."""

    rule: str
    reason: str
    raw_record: str | None
    source: str | None = None
    position: int | None = None
    batch_key: str | None = None
    record_key: str | None = None


@dataclass(frozen=True)
class Family:
    """A table family of rejected rows: its layer and the columns it kept from before.

    `own` maps each of the family's own column names to the shared column it repeats,
    in the family's historical column order (shared columns of the same name included).
    """

    layer: str
    own: Mapping[str, str]
    types: Mapping[str, pa.DataType] = field(default_factory=dict)

    def name(self, dataset: str) -> str:
        """The family's table for `dataset`: `<layer>.<dataset layer>_<dataset name>`."""
        layer, name = split_name(dataset)
        return f"{self.layer}.{layer}_{name}"

    @property
    def schema(self) -> pa.Schema:
        """The family's columns: its own, then the shared ones it does not hold by name."""
        own = [pa.field(c, self.types.get(c, SCHEMA.field(s).type)) for c, s in self.own.items()]
        shared = [f for f in SCHEMA if f.name not in self.own]
        return pa.schema([*own, *shared])

    def table(self, rows: Iterable[Rejected], dataset: str, run_id: str, at: datetime) -> pa.Table:
        """Rejected rows of `dataset`, stamped with the run and time, in the family's layout.

        Example:
            >>> t = DEAD_LETTERS.table(
            ...     [Rejected("empty_record", "empty", "", "p0", 7, record_key="k")],
            ...     "bronze.events", "r", datetime(2024, 1, 1),
            ... )
            >>> row = t.to_pylist()[0]
            >>> [row[c] for c in ("stream", "_partition", "_offset", "_key", "dataset", "position")]
            ['bronze.events', 'p0', 7, 'k', 'bronze.events', 7]
        """
        shared: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
        for row in rows:
            rule, reason, raw, source, position, batch_key, record_key = astuple(row)
            values = (dataset, run_id, rule, reason, raw, source, position, record_key)
            for name, value in zip(SCHEMA.names, (*values, batch_key, at), strict=True):
                shared[name].append(value)
        return self.complete(pa.table(shared, schema=SCHEMA))

    def complete(self, rows: pa.Table) -> pa.Table:
        """`rows` (shared columns, the family's own, or both) in the family's layout: each
        missing column is filled from its counterpart, so rows built by older code (in the
        family's old layout) and rows in the shared shape both come out whole.

        Example:
            >>> old = pa.table({"source_file": ["a.csv"], "line": [3]})
            >>> QUARANTINE.complete(old).select(["source", "position", "line"]).to_pylist()
            [{'source': 'a.csv', 'position': 3, 'line': 3}]
        """
        n = rows.num_rows
        columns = []
        for f in self.schema:
            counterpart = self.own.get(f.name) or next(
                (c for c, s in self.own.items() if s == f.name and c != f.name), None
            )
            if f.name in rows.column_names:
                column = rows[f.name]
            elif counterpart is not None and counterpart in rows.column_names:
                column = rows[counterpart]
            else:
                column = pa.nulls(n, f.type)
            columns.append(column.cast(f.type))
        return pa.table(columns, schema=self.schema)

    def empty(self) -> pa.Table:
        """No rows, in the family's layout (the first commit of an empty quarantine)."""
        return self.schema.empty_table()


#: `quarantine.<layer>_<name>`: what a batch run (files, SQL, Python) could not write.
QUARANTINE = Family(
    "quarantine",
    {
        "run_id": "run_id",
        "dataset": "dataset",
        "batch_key": "batch_key",
        "source_file": "source",
        "line": "position",
        "raw_record": "raw_record",
        "rule": "rule",
        "reason": "reason",
        "quarantined_at": "rejected_at",
    },
    # Quarantine tables have always held raw records as (32-bit offset) strings.
    {"raw_record": pa.string()},
)

#: `deadletter.<layer>_<name>`: what a stream could not write.
DEAD_LETTERS = Family(
    "deadletter",
    {
        "stream": "dataset",
        "_partition": "source",
        "_offset": "position",
        "_key": "record_key",
        "raw_record": "raw_record",
        "rule": "rule",
        "reason": "reason",
        "run_id": "run_id",
        "_ingested_at": "rejected_at",
    },
)


def batch_predicate(batch_keys: Iterable[str]) -> Predicate:
    """A Delta predicate selecting the rejected rows of these batches.

    Example:
        >>> from assay.sqlbuild import render
        >>> print(render(batch_predicate(["b", "a'"]), "delta"))
        "batch_key" IN ('a''', 'b')
    """
    return in_list("batch_key", batch_keys)


def write_quarantine(
    warehouse: Warehouse,
    dataset: str,
    rows: pa.Table | None,
    metadata: Any,
    *,
    replace_all: bool = False,
    batch_keys: Iterable[str] = (),
) -> int | None:
    """Commit a batch's quarantined rows (the one writer of quarantine tables); return the
    new version, or None when nothing needed writing.

    `replace_all`: the dataset's table is rebuilt, so its quarantine is too. `batch_keys`:
    the batches re-processed, whose earlier rejects these rows replace (never duplicated).
    A table created before the shared shape gains its columns (schema evolution).
    `metadata` is the commit's metadata, as `Warehouse.write` takes it.
    """
    name = QUARANTINE.name(dataset)
    rows = QUARANTINE.empty() if rows is None else QUARANTINE.complete(rows)
    exists = warehouse.exists(name)
    keys = list(batch_keys)
    if not exists and rows.num_rows == 0:
        return None
    if replace_all or not exists:
        return warehouse.write(name, rows, mode=WriteMode.OVERWRITE, metadata=metadata)
    if keys:
        return warehouse.write(
            name, rows, mode=WriteMode.OVERWRITE, metadata=metadata, predicate=batch_predicate(keys)
        )
    if rows.num_rows:
        return warehouse.write(name, rows, mode=WriteMode.APPEND, metadata=metadata)
    return None


def read_rejected(warehouse: Warehouse, name: str) -> pa.Table:
    """A family table's rows in the shared shape, rows written before it included.

    Example: ``read_rejected(warehouse, "deadletter.bronze_events").column("position")``
    """
    family = DEAD_LETTERS if name.startswith(f"{DEAD_LETTERS.layer}.") else QUARANTINE
    rows = warehouse.read(name)
    columns = []
    for f in SCHEMA:
        own = [c for c, s in family.own.items() if s == f.name and c in rows.column_names]
        values = [
            rows[c].cast(f.type) for c in dict.fromkeys([f.name, *own]) if c in rows.column_names
        ]
        column = values[0] if values else pa.nulls(rows.num_rows, f.type)
        for other in values[1:]:
            column = pc.coalesce(column, other)
        columns.append(column)
    return pa.table(columns, schema=SCHEMA)
