"""One set of result types on every engine: the types DuckDB gives a query, except that an
integer sum (DuckDB's 128-bit HUGEINT) is a BIGINT.

The same SQL types differently on the two engines: a sum of integers is HUGEINT on DuckDB
and BIGINT on Spark, a sum of DECIMAL(p, s) is DECIMAL(38, s) on DuckDB and DECIMAL(p + 10,
s) on Spark, ranks, `extract` and `length` are BIGINT on DuckDB and INT on Spark, and
`DATE + INTERVAL` is a TIMESTAMP on DuckDB and a DATE on Spark. A new table takes the types
of the query that built it, so a project moved to Spark built tables of other types.

assay's SQL is DuckDB's dialect, so DuckDB's types are the reference: DuckDB binds the query
over empty inputs of the same schemas (no rows are read) and Spark casts each column whose
type differs to it, where the cast keeps every value (a value that does not fit fails the
query: Spark's ANSI casts check). BIGINT rather than HUGEINT for integer sums because Spark,
Delta and Arrow have no 128-bit integer (DuckDB hands it over as DECIMAL(38, 0)) and
Spark's sums are BIGINT already; a sum that does not fit fails on both engines, naming the
portable fix (sum a DECIMAL(38, 0)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from sqlglot import exp

from assay import sqlbuild
from assay.errors import AssayError

#: DuckDB's 128-bit integers, which become BIGINT.
_HUGE = frozenset({"HUGEINT", "UHUGEINT"})
_OVERFLOW_HINT = (
    "integer sums are BIGINT on every engine: sum a DECIMAL instead, e.g. "
    "sum(CAST(x AS DECIMAL(38, 0)))"
)


def bigint_sums(rel: Any) -> Any:
    """A DuckDB relation with its HUGEINT columns (sums of integers) as BIGINT; the cast
    checks every value, so a sum that does not fit fails instead of wrapping."""
    types = [str(t) for t in rel.types]
    names = list(rel.columns)
    if not _HUGE.intersection(types) or len(set(names)) != len(names):
        return rel
    columns = [
        exp.alias_(sqlbuild.cast(sqlbuild.column(n), "BIGINT"), sqlbuild.identifier(n))
        if t in _HUGE
        else sqlbuild.column(n)
        for n, t in zip(names, types, strict=True)
    ]
    return rel.project(sqlbuild.render_list(columns, "duckdb"))


def overflow_error(message: str) -> AssayError | None:
    """The error of an integer sum beyond BIGINT (DuckDB's words, or Spark's), or None.

    Example:
        >>> overflow_error("Conversion Error: Type INT128 with value 1 can't be cast because "
        ...     "the value is out of range for the destination type INT64").hint[:31]
        'integer sums are BIGINT on ever'
        >>> overflow_error("Binder Error: no such column") is None
        True
    """
    duckdb = "INT128" in message and "INT64" in message
    spark = "ARITHMETIC_OVERFLOW" in message and "long overflow" in message
    if not (duckdb or spark):
        return None
    return AssayError(
        f"an integer result does not fit a BIGINT ({message.splitlines()[0][:300]})",
        hint=_OVERFLOW_HINT,
    )


# -- Spark: the casts to DuckDB's types ---------------------------------------------------------


def spark_casts(got: pa.Schema, want: pa.Schema) -> list[str | None]:
    """For each column of Spark's result (`got`), the Spark type it is cast to so it has
    DuckDB's type (`want`), or None to leave it.

    Only casts that keep the values are made: integers and decimals among themselves (a
    value that does not fit fails the query), to a decimal of the same or a larger scale,
    to DOUBLE, a DATE to a TIMESTAMP (its midnight), lists of those element by element.
    Anything else is left as Spark typed it (the conformance suite shows the difference).

    Example:
        >>> got = pa.schema([("r", pa.int32()), ("s", pa.decimal128(15, 2)), ("t", pa.string())])
        >>> want = pa.schema([("r", pa.int64()), ("s", pa.decimal128(38, 2)), ("t", pa.string())])
        >>> spark_casts(got, want)
        ['BIGINT', 'DECIMAL(38,2)', None]
        >>> spark_casts(pa.schema([("x", pa.float64())]), pa.schema([("x", pa.int64())]))
        [None]
    """
    if len(got) != len(want):
        return [None] * len(got)
    return [
        _ddl(w.type) if _same(g.type, w.type) is False and _keeps(g.type, w.type) else None
        for g, w in zip(got, want, strict=True)
    ]


def _same(got: pa.DataType, want: pa.DataType) -> bool:
    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    if any(f(got) for f in text) and any(f(want) for f in text):
        return True
    return bool(got == want)


def _keeps(got: pa.DataType, want: pa.DataType) -> bool:
    """Whether casting `got` to `want` keeps every value (or fails on one that does not fit)."""
    t = pa.types
    whole = t.is_integer(got) or (t.is_decimal(got) and got.scale == 0)
    if t.is_integer(want):
        return whole
    if t.is_decimal(want):
        return whole or (t.is_decimal(got) and want.scale >= got.scale)
    if t.is_float64(want):
        return t.is_integer(got) or t.is_decimal(got) or t.is_float32(got)
    if t.is_timestamp(want) and want.tz is None:
        return t.is_date32(got)
    if t.is_list(want) and (t.is_list(got) or t.is_large_list(got)):
        return _same(got.value_type, want.value_type) or _keeps(got.value_type, want.value_type)
    return False


_INTEGERS = {8: "TINYINT", 16: "SMALLINT", 32: "INT", 64: "BIGINT"}


def _ddl(kind: pa.DataType) -> str | None:
    """Spark's name of an Arrow type (None: one assay does not cast to)."""
    t = pa.types
    if t.is_signed_integer(kind):
        return _INTEGERS[kind.bit_width]
    if t.is_decimal(kind):
        return f"DECIMAL({kind.precision},{kind.scale})"
    if t.is_float64(kind):
        return "DOUBLE"
    if t.is_timestamp(kind):
        return "TIMESTAMP" if kind.tz else "TIMESTAMP_NTZ"
    if t.is_list(kind):
        inner = _ddl(kind.value_type)
        return None if inner is None else f"ARRAY<{inner}>"
    return None


def cast_columns(df: Any, casts: Sequence[str | None]) -> Any:
    """A Spark DataFrame with column i cast to `casts[i]` (None: left as it is)."""
    from pyspark.sql import functions as F

    if not any(casts) or len(set(df.columns)) != len(df.columns):
        return df
    columns = []
    for name, cast in zip(df.columns, casts, strict=True):
        col = F.col(sqlbuild.quote(name, "spark"))
        columns.append(col.cast(cast).alias(name) if cast else col)
    return df.select(*columns)
