"""Incoming columns take the existing table's types when no value is lost.

The two engines type the same SQL differently (a sum of DECIMAL(10, 2) is DECIMAL(38, 2) on
DuckDB and DECIMAL(20, 2) on Spark; a count is BIGINT on both but a rank INTEGER on Spark),
and Delta refuses to merge a narrower column into a wider one. A table keeps the types its
first writer gave it: an append, interval replacement or merge casts each shared number
column to the table's type, checking every value, and a value that does not fit stops the
write with a SchemaDriftError naming the table, the column and both types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from assay.errors import SchemaDriftError


def _family(t: pa.DataType) -> str | None:
    if pa.types.is_integer(t) or pa.types.is_decimal(t):
        return "exact"  # integers and decimals cast into each other, values checked
    if pa.types.is_floating(t):
        return "float"
    return None


def castable(incoming: pa.DataType, existing: pa.DataType) -> bool:
    """Whether `incoming` values are cast to the table's `existing` type (checked per value).

    Integers and decimals cast among themselves (a value that does not fit stops the
    write); a float widens to a wider float only (narrowing would round silently).

    Example:
        >>> castable(pa.decimal128(38, 2), pa.decimal128(20, 2))
        True
        >>> castable(pa.int64(), pa.int32()), castable(pa.float64(), pa.float32())
        (True, False)
        >>> castable(pa.string(), pa.int64())
        False
    """
    if incoming == existing:
        return False
    family = _family(incoming)
    if family is None or family != _family(existing):
        return False
    return family == "exact" or existing.bit_width > incoming.bit_width


def target_schema(incoming: pa.Schema, existing: pa.Schema) -> pa.Schema | None:
    """`incoming` with the existing table's type for each castable shared column, or None
    when no column changes type."""
    have = {f.name: f.type for f in existing}
    fields = [
        f.with_type(have[f.name]) if f.name in have and castable(f.type, have[f.name]) else f
        for f in incoming
    ]
    target = pa.schema(fields, metadata=incoming.metadata)
    return None if target.equals(incoming) else target


def to_table_types(
    name: str, data: Any, existing: pa.Schema, failures: list[SchemaDriftError] | None = None
) -> Any:
    """`data` (an Arrow table or stream of batches) with the table's types where the cast
    is lossless for its values; other data passes untouched.

    A stream is cast batch by batch as the writer reads it; the writer (Rust) reports a
    failed batch in words only, so the SchemaDriftError is also appended to `failures`.

    Example:
        >>> from decimal import Decimal
        >>> table = pa.schema([("x", pa.decimal128(20, 2))])
        >>> rows = pa.table({"x": pa.array([Decimal("2.70")], pa.decimal128(38, 2))})
        >>> to_table_types("gold.t", rows, table).schema.field("x").type
        Decimal128Type(decimal128(20, 2))
        >>> too_big = pa.table({"x": pa.array([Decimal("1" * 25)], pa.decimal128(38, 2))})
        >>> to_table_types("gold.t", too_big, table)
        Traceback (most recent call last):
        ...
        assay.errors.SchemaDriftError: gold.t: column x: a value of type decimal128(38, 2) \
does not fit the table's decimal128(20, 2) (Decimal value does not fit in precision 20) (hint: \
...)
    """
    schema = getattr(data, "schema", None)
    if schema is None:
        return data
    target = target_schema(schema, existing)
    if target is None:
        return data
    if isinstance(data, pa.Table):
        return pa.Table.from_batches([cast_batch(name, b, target) for b in data.to_batches()])
    if isinstance(data, pa.RecordBatch):
        return cast_batch(name, data, target)
    stream = _cast_stream(name, data, target, [] if failures is None else failures)
    return pa.RecordBatchReader.from_batches(target, stream)


def _cast_stream(
    name: str, reader: Any, target: pa.Schema, failures: list[SchemaDriftError]
) -> Iterator[pa.RecordBatch]:
    for batch in reader:
        try:
            yield cast_batch(name, batch, target)
        except SchemaDriftError as exc:
            failures.append(exc)
            raise


def cast_batch(name: str, batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """One batch cast to `target` column by column, so a failure names its column."""
    columns = []
    for column, field in zip(batch.columns, target, strict=True):
        if column.type != field.type:
            try:
                column = column.cast(field.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise drift(name, field.name, column.type, field.type, str(exc)) from exc
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=target)


def drift(
    name: str, column: str, incoming: pa.DataType, existing: pa.DataType, reason: str
) -> SchemaDriftError:
    """The error of a value that does not fit the table's type of its column."""
    return SchemaDriftError(
        f"column {column}: a value of type {incoming} does not fit the table's {existing}"
        f" ({reason})",
        where=name,
        hint=f"cast {column} in the dataset's SQL to a type that holds it, or rebuild the table "
        f"with a full refresh (`assay run --full-refresh {name}`)",
    )
