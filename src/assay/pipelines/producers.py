"""What every dataset recipe shares: system columns, fingerprints and Arrow normalization
(the run context, outputs and the `Producer` interface are defined in `spec`)."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Iterable
from types import GeneratorType
from typing import Any

import pyarrow as pa

from assay.errors import AssayError

# The producer interface lives with the dataset spec (each names the other); re-exported
# here, where the recipes import it.
from assay.pipelines.spec import Output, Pending, Producer, RunContext

__all__ = ["Output", "Pending", "Producer", "RunContext"]

#: Columns assay adds to source rows; they are not part of the user's schema.
SOURCE_FILE, LINE, INGESTED_AT = "_source_file", "_line", "_ingested_at"
SYSTEM_COLUMNS = (SOURCE_FILE, LINE, INGESTED_AT)


def function_fingerprint(func: Any, *extra: Any) -> str:
    """Hash a Python function's source (falling back to its qualified name) plus options."""
    try:
        code = inspect.getsource(func)
    except (OSError, TypeError):
        code = getattr(func, "__qualname__", repr(func))
    return hashlib.sha256(repr((code, extra)).encode()).hexdigest()[:16]


def to_arrow(result: Any, where: str) -> pa.Table:
    """Normalize what user code returned (Arrow, pandas, polars, DuckDB, rows, generators).

    Example:
        >>> to_arrow([{"a": 1}, {"a": 2}], "x").num_rows
        2
    """
    if isinstance(result, pa.Table):
        return result
    if isinstance(result, pa.RecordBatch):
        return pa.Table.from_batches([result])
    if isinstance(result, pa.RecordBatchReader):
        return result.read_all()
    if result is None:
        return pa.table({})
    if isinstance(result, list) and result and all(isinstance(r, dict) for r in result):
        return pa.Table.from_pylist(result)
    module = type(result).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(result, preserve_index=False)
    if module == "polars":
        return result.to_arrow()
    if hasattr(result, "to_arrow_table"):  # a DuckDB relation
        return result.to_arrow_table()
    if hasattr(result, "__arrow_c_stream__"):
        return pa.table(result)
    if isinstance(result, GeneratorType | list | tuple) or _is_iterable_of_frames(result):
        return _concat_parts([_part(item, where) for item in result], where)
    raise AssayError(
        f"returned a {type(result).__name__}, which assay cannot turn into a table",
        where=where,
        hint="return or yield Arrow tables, pandas or polars DataFrames, or lists of dicts",
    )


def _is_iterable_of_frames(result: Any) -> bool:
    return isinstance(result, Iterable) and not isinstance(result, str | bytes | dict)


def _part(item: Any, where: str) -> pa.Table:
    return pa.Table.from_pylist([item]) if isinstance(item, dict) else to_arrow(item, where)


def _concat_parts(parts: list[pa.Table], where: str) -> pa.Table:
    parts = [p for p in parts if p.num_columns]
    if not parts:
        return pa.table({})
    try:
        return pa.concat_tables(parts, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise AssayError(f"yielded parts with incompatible schemas: {exc}", where=where) from exc
