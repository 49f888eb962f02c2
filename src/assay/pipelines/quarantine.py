"""Quarantine tables: where rows that cannot be written go, with the raw record and reason.

`quarantine.bronze_transactions` holds the rejects of `bronze.transactions`. Rows carry a
`batch_key` (the source file or interval they came from) so that re-processing a batch
replaces its quarantined rows instead of adding them twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa

from assay.naming import split_name
from assay.tables.predicates import Predicate, in_predicate

SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("dataset", pa.string()),
        ("batch_key", pa.string()),
        ("source_file", pa.string()),
        ("line", pa.int64()),
        ("raw_record", pa.string()),
        ("rule", pa.string()),
        ("reason", pa.string()),
        ("quarantined_at", pa.timestamp("us")),
    ]
)


def quarantine_name(dataset: str) -> str:
    """The quarantine table of a dataset.

    Example:
        >>> quarantine_name("bronze.transactions")
        'quarantine.bronze_transactions'
    """
    layer, name = split_name(dataset)
    return f"quarantine.{layer}_{name}"


def rows_to_table(
    rows: Iterable[Mapping[str, Any]], run_id: str, dataset: str, at: datetime
) -> pa.Table:
    """Build quarantine rows from dicts holding batch_key, source_file, line, raw_record,
    rule and reason."""
    full = [{"run_id": run_id, "dataset": dataset, "quarantined_at": at, **row} for row in rows]
    return pa.Table.from_pylist(full, schema=SCHEMA)


def batch_predicate(batch_keys: Iterable[str]) -> Predicate:
    """A Delta predicate selecting the quarantine rows of these batches."""
    return in_predicate("batch_key", batch_keys)
