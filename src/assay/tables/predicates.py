"""Delta predicates (replace-where conditions): the names the table writers know, built by
`assay.sqlbuild` as sqlglot expressions and rendered for delta-rs ("delta") or Spark.

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

from sqlglot import exp

from assay.sqlbuild import Predicate, column, in_list, render
from assay.sqlbuild import time_range as interval_predicate


def in_predicate(name: str, values: Iterable[str]) -> exp.Expr:
    """Rows whose column `name` is one of the texts `values` (quotes inside are escaped).

    Example:
        >>> print(render(in_predicate("k", ["b'", "a"]), "delta"))
        "k" IN ('a', 'b''')
    """
    return in_list(name, values)


__all__ = ["Predicate", "column", "in_predicate", "interval_predicate", "render"]
