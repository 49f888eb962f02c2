"""Delta predicates (replace-where conditions) built as sqlglot expressions, not strings.

A predicate is rendered for the writer that runs it: delta-rs (DataFusion's SQL) or Spark.
Literals are compared as text, which both cast to the column's type; the text is chosen by
that type so that a DATE, TIMESTAMP or TIMESTAMPTZ column selects exactly the rows of
`[start, end)` in UTC.

Example:
    >>> from datetime import datetime
    >>> import pyarrow as pa
    >>> p = interval_predicate("day", datetime(2024, 1, 1), datetime(2024, 1, 2), pa.date32())
    >>> print(render(p, "delta"))
    "day" >= '2024-01-01' AND "day" < '2024-01-02'
    >>> print(render(in_predicate("_source_file", ["data/batch_key_1.jsonl"]), "spark"))
    `_source_file` IN ('data/batch_key_1.jsonl')
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pyarrow as pa
from sqlglot import exp

#: A predicate as an expression, or as SQL text already written for the writer.
Predicate = exp.Expr | str
#: sqlglot dialects of the writers: delta-rs parses predicates with DataFusion (ANSI quotes).
_DIALECTS = {"delta": "postgres", "spark": "spark"}


def column(name: str) -> exp.Column:
    """A quoted column reference (any name works)."""
    return exp.column(exp.to_identifier(name, quoted=True))


def interval_predicate(
    name: str, start: datetime, end: datetime, kind: pa.DataType | None = None
) -> exp.Expr:
    """Rows of column `name` in `[start, end)` (naive UTC bounds), for a column of `kind`."""
    col = column(name)
    low, high = _literal(start, kind), _literal(end, kind)
    return exp.and_(col >= exp.Literal.string(low), col < exp.Literal.string(high))


def in_predicate(name: str, values: Iterable[str]) -> exp.Expr:
    """Rows whose column `name` is one of `values` (quotes inside values are escaped)."""
    literals = [exp.Literal.string(v) for v in sorted(set(values))]
    return column(name).isin(*literals)


def render(predicate: Predicate, writer: str) -> str:
    """The predicate as SQL text for `writer` ("delta" or "spark")."""
    if isinstance(predicate, str):
        return predicate
    return predicate.sql(dialect=_DIALECTS[writer])


def _literal(moment: datetime, kind: pa.DataType | None) -> str:
    if kind is not None and pa.types.is_date(kind):
        # A date d is in [start, end) exactly when d >= the first midnight at or after
        # start, and likewise for end: round the bounds up to whole days.
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if day != moment:
            day += timedelta(days=1)
        return day.date().isoformat()
    # Text without an offset is read as UTC by both writers, for zoned and naive columns.
    return moment.isoformat(" ")
