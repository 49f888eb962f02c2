"""Turn one Output into one atomic Delta commit (plus its quarantine rows).

Order matters for crash safety: quarantine rows are written first, replacing the rows of
the same batches, then the data commit, which carries the metadata (files, interval, inputs)
that marks the batch done. A crash anywhere leaves the batch either not done (and redone
identically) or done.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa

from assay import _faults
from assay.engines import Engine
from assay.errors import AssayError
from assay.pipelines.intervals import Interval
from assay.pipelines.producers import SOURCE_FILE, Output, RunContext
from assay.pipelines.quarantine import batch_predicate, quarantine_name
from assay.pipelines.spec import Kind, SchemaPolicy
from assay.pipelines.types import arrow_to_sql
from assay.tables import Warehouse, WriteMode


def content_hash(engine: Engine, table: pa.Table) -> str:
    """An order-insensitive checksum of a table's rows and schema.

    Example:
        >>> from assay.engines import get_engine
        >>> from assay.tables import Warehouse
        >>> e = get_engine("duckdb", Warehouse("/tmp/x"))
        >>> content_hash(e, pa.table({"a": [1, 2]})) == content_hash(e, pa.table({"a": [2, 1]}))
        True
    """
    if not table.num_columns:
        return "empty"
    cols = ", ".join(f'"{c}"' for c in table.column_names)
    rows, total = (
        engine.query(
            f"SELECT count(*), coalesce(sum(hash({cols})::HUGEINT), 0)::VARCHAR FROM t",
            {"t": table},
        )
        .to_pylist()[0]
        .values()
    )
    # Column names and SQL types only: pandas metadata or string vs large_string must not
    # make equal content look different.
    shape = ",".join(f"{f.name}:{arrow_to_sql(f.type)}" for f in table.schema)
    return f"{rows}:{total}:{hashlib.sha256(shape.encode()).hexdigest()[:12]}"


class Committer:
    """Writes Outputs of one dataset to the warehouse, one commit each."""

    def __init__(self, warehouse: Warehouse, engine: Engine):
        self.warehouse = warehouse
        self.engine = engine

    def commit(
        self, ctx: RunContext, output: Output, intervals: list[Interval] | None = None
    ) -> int | None:
        """Write `output`; return the new table version, or None when nothing changed."""
        spec = ctx.dataset
        metadata: dict[str, Any] = {
            "run_id": ctx.run_id,
            "fingerprint": spec.fingerprint,
            "inputs": {name: ref.version for name, ref in ctx.inputs.items()},
            **output.metadata,
        }
        if intervals:
            metadata["intervals"] = [i.key() for i in intervals]
        if ctx.replace_table:
            metadata["reset"] = True
        data = output.data
        if data is not None and not data.num_columns:
            data = None  # a source that returned nothing at all
        if data is not None and not data.num_rows and not self._must_record(ctx, output):
            data = None  # nothing new: commit nothing
        if spec.kind in (Kind.FULL, Kind.MERGE) and data is not None and not ctx.replace_table:
            metadata["content_hash"] = digest = content_hash(self.engine, data)
            if digest == ctx.state.get("content_hash") and self.warehouse.exists(spec.name):
                return None  # the same content again: commit nothing
        self._write_quarantine(ctx, output)
        _faults.point("after_quarantine")
        if data is None:
            return None
        version = self._write_data(ctx, data, metadata, intervals, output.append_only)
        _faults.point("after_commit")
        return version

    def _must_record(self, ctx: RunContext, output: Output) -> bool:
        """An empty batch still commits when it marks files or intervals as done, or when
        it is the first or a replacing write of a full table."""
        spec = ctx.dataset
        if "files" in output.metadata or spec.kind is Kind.INCREMENTAL or ctx.replace_table:
            return True
        return spec.kind is Kind.FULL or not self.warehouse.exists(spec.name)

    def _write_quarantine(self, ctx: RunContext, output: Output) -> None:
        name = quarantine_name(ctx.dataset.name)
        rows = output.quarantine if output.quarantine is not None else _empty_quarantine()
        exists = self.warehouse.exists(name)
        if not exists and rows.num_rows == 0:
            return
        meta = {"run_id": ctx.run_id, "dataset": ctx.dataset.name}
        if ctx.replace_table or not exists:
            self.warehouse.write(name, rows, mode=WriteMode.OVERWRITE, metadata=meta)
        elif output.batch_keys:
            # Replace this batch's earlier rejects, so re-processing never duplicates them.
            self.warehouse.write(
                name,
                rows,
                mode=WriteMode.OVERWRITE,
                metadata=meta,
                predicate=batch_predicate(output.batch_keys),
            )
        elif rows.num_rows:
            self.warehouse.write(name, rows, mode=WriteMode.APPEND, metadata=meta)

    def _write_data(
        self,
        ctx: RunContext,
        data: pa.Table,
        metadata: dict[str, Any],
        intervals: list[Interval] | None,
        append_only: bool = False,
    ) -> int | None:
        spec, wh = ctx.dataset, self.warehouse
        exists = wh.exists(spec.name) and not ctx.replace_table
        evolve = spec.schema_policy is SchemaPolicy.EVOLVE
        common: dict[str, Any] = {"metadata": metadata, "partition_by": spec.partition_by}
        if not exists:
            return wh.write(spec.name, data, mode=WriteMode.OVERWRITE, **common)
        if spec.kind is Kind.MERGE:
            return wh.merge(spec.name, data, keys=spec.keys, metadata=metadata)
        if spec.kind is Kind.INCREMENTAL and intervals:
            column, start, end = spec.time_column, intervals[0].start, intervals[-1].end
            predicate = (
                f"{column} >= '{start.isoformat(' ')}' AND {column} < '{end.isoformat(' ')}'"
            )
            return wh.write(
                spec.name,
                data,
                mode=WriteMode.OVERWRITE,
                predicate=predicate,
                evolve_schema=evolve,
                **common,
            )
        if spec.kind is Kind.APPEND and "files" in metadata and not append_only:
            files = [f["path"] for f in metadata["files"]]
            predicate = batch_predicate(files).replace("batch_key", SOURCE_FILE)
            return wh.write(
                spec.name,
                data,
                mode=WriteMode.OVERWRITE,
                predicate=predicate,
                evolve_schema=evolve,
                **common,
            )
        if spec.kind is Kind.APPEND:
            return wh.write(spec.name, data, mode=WriteMode.APPEND, evolve_schema=evolve, **common)
        if spec.kind is Kind.FULL:
            return wh.write(spec.name, data, mode=WriteMode.OVERWRITE, **common)
        raise AssayError(f"cannot write kind {spec.kind.value}", where=spec.where)


def _empty_quarantine() -> pa.Table:
    from assay.pipelines.quarantine import SCHEMA

    return SCHEMA.empty_table()
