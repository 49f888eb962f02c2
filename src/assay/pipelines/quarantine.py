"""Quarantine tables: where rows that cannot be written go, with the raw record and reason.

`quarantine.bronze_transactions` holds the rejects of `bronze.transactions`. Rows carry a
`batch_key` (the source file or interval they came from) so that re-processing a batch
replaces its quarantined rows instead of adding them twice. The rows have the shape every
rejected row has (`assay.pipelines.rejected`); this module keeps the names batch code uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa

from assay.pipelines.rejected import QUARANTINE, Rejected, batch_predicate

#: A quarantine table's columns: its own (`source_file`, `line`, `quarantined_at`, ...),
#: then the shared shape's.
SCHEMA = QUARANTINE.schema


def quarantine_name(dataset: str) -> str:
    """The quarantine table of a dataset.

    Example:
        >>> quarantine_name("bronze.transactions")
        'quarantine.bronze_transactions'
    """
    return QUARANTINE.name(dataset)


def rows_to_table(
    rows: Iterable[Mapping[str, Any]], run_id: str, dataset: str, at: datetime
) -> pa.Table:
    """Build quarantine rows from dicts holding batch_key, source_file, line, raw_record,
    rule and reason.

    Example:
        >>> row = {"batch_key": "a.csv", "source_file": "a.csv", "line": 3, "rule": "cast",
        ...        "reason": "column n: x is not BIGINT", "raw_record": "x"}
        >>> t = rows_to_table([row], "r1", "bronze.t", datetime(2024, 1, 1))
        >>> t.select(["line", "position", "quarantined_at"]).to_pylist()[0]["position"]
        3
    """
    rejected = [
        Rejected(
            rule=row.get("rule"),  # type: ignore[arg-type]
            reason=row.get("reason"),  # type: ignore[arg-type]
            raw_record=row.get("raw_record"),
            source=row.get("source_file"),
            position=row.get("line"),
            batch_key=row.get("batch_key"),
        )
        for row in rows
    ]
    return QUARANTINE.table(rejected, dataset, run_id, at)


__all__ = ["SCHEMA", "batch_predicate", "quarantine_name", "rows_to_table"]
