"""Turn one Output into one atomic Delta commit (plus its quarantine rows).

Order matters for crash safety: quarantine rows are written first, replacing the rows of
the same batches, then the data commit, which carries the metadata (files, interval, inputs)
that marks the batch done. A crash anywhere leaves the batch either not done (and redone
identically) or done.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from assay import _faults
from assay.engines import Engine, Frame
from assay.engines.types import arrow_to_sql
from assay.errors import AssayError, ContractViolationError
from assay.intervals import Interval, to_naive_utc
from assay.naming import check_columns, quote
from assay.pipelines.producers import SOURCE_FILE, Output, RunContext
from assay.pipelines.quarantine import batch_predicate, quarantine_name, rows_to_table
from assay.pipelines.spec import Kind, SchemaPolicy
from assay.tables import Warehouse, WriteMode
from assay.tables.predicates import in_predicate, interval_predicate

if TYPE_CHECKING:
    from assay.catalog import Catalog
    from assay.contracts.model import Contract


def content_hash(engine: Engine, table: pa.Table | Frame) -> str:
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
    cols = ", ".join(quote(c) for c in table.column_names)
    if isinstance(table, Frame):  # hashed where it is (Spark's own row hash)
        rows, total = table.checksum()
        return _hashed(rows, total, table.schema)
    rows, total = (
        engine.query(
            f"SELECT count(*), coalesce(sum(hash({cols})::HUGEINT), 0)::VARCHAR FROM t",
            {"t": table},
        )
        .to_pylist()[0]
        .values()
    )
    return _hashed(rows, total, table.schema)


def _hashed(rows: int, total: str, schema: pa.Schema) -> str:
    # Column names and SQL types only: pandas metadata or string vs large_string must not
    # make equal content look different.
    shape = ",".join(f"{f.name}:{arrow_to_sql(f.type)}" for f in schema)
    return f"{rows}:{total}:{hashlib.sha256(shape.encode()).hexdigest()[:12]}"


class BatchBlocked(ContractViolationError):
    """A batch's contract blocked it: its data was not committed.

    `failures` names the rules; the runner adds which intervals of the run were committed.
    """

    def __init__(self, failures: str, *, where: str, hint: str):
        super().__init__(f"contract failed, nothing committed: {failures}", where=where, hint=hint)
        self.failures = failures


class Committer:
    """Writes Outputs of one dataset to the warehouse, one commit each."""

    def __init__(
        self,
        warehouse: Warehouse,
        engine: Engine,
        contracts: Mapping[str, Sequence[Contract]] | None = None,
        catalog: Catalog | None = None,
    ):
        self.warehouse = warehouse
        self.engine = engine
        self.contracts: Mapping[str, Sequence[Contract]] = contracts or {}
        self.catalog = catalog

    def commit(
        self, ctx: RunContext, output: Output, intervals: list[Interval] | None = None
    ) -> tuple[int | None, Output]:
        """Write `output`; return the new table version (None when nothing changed) and the
        output as written (contracts may have moved rows to quarantine)."""
        written = None
        try:
            version, written = self._commit(ctx, output, intervals)
            written.rows_written  # noqa: B018 - counted while the Frame is still cached
            return version, written
        finally:
            # A Frame (and the checked rows derived from it) is cached until committed.
            for data in {id(o.data): o.data for o in (output, written) if o is not None}.values():
                if isinstance(data, Frame):
                    data.release()

    def _commit(
        self, ctx: RunContext, output: Output, intervals: list[Interval] | None
    ) -> tuple[int | None, Output]:
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
        if data is not None:
            check_columns(list(data.column_names), spec.where)
        if isinstance(data, Frame) and (
            spec.kind in (Kind.FULL, Kind.MERGE) or self.contracts.get(spec.name)
        ):
            data.reuse()  # hashed or checked, then written: computed once
        if data is not None and not self._must_record(ctx, output) and not data.num_rows:
            data = None  # nothing new: commit nothing
        empty_batch = data is not None and bool(intervals) and self._is_empty_batch(ctx, data)
        if empty_batch and intervals and self._skip_empty_batch(ctx, intervals):
            # No rows, and none to remove: commit nothing; the ledger still marks it done.
            self._write_quarantine(ctx, self._clearing(ctx, output, intervals))
            self._record_done(ctx, intervals, metadata["inputs"])
            return None, output
        if spec.kind is Kind.MERGE and data is not None:
            self._refuse_duplicate_keys(ctx, data)
        if spec.kind in (Kind.FULL, Kind.MERGE) and data is not None and not ctx.replace_table:
            metadata["content_hash"] = digest = content_hash(self.engine, data)
            if digest == ctx.state.get("content_hash") and self.warehouse.exists(spec.name):
                return None, output  # the same content again: commit nothing
        if empty_batch and intervals:
            output = self._clearing(ctx, output, intervals)  # not judged: it has no rows
        elif data is not None and data.num_columns and self.contracts.get(spec.name):
            data, output = self._enforce(ctx, data, output, intervals)
        self._write_quarantine(ctx, output)
        _faults.point("after_quarantine")
        if data is None:
            return None, output
        if output.widen and not ctx.replace_table and self.warehouse.exists(ctx.dataset.name):
            self._widen(ctx, output.widen)
        version = self._write_data(ctx, data, metadata, intervals, output.append_only)
        _faults.point("after_commit")
        return version, replace(output, data=data)

    def _enforce(
        self,
        ctx: RunContext,
        data: pa.Table | Frame,
        output: Output,
        intervals: list[Interval] | None,
    ) -> tuple[pa.Table | Frame, Output]:
        """Apply the dataset's contracts: quarantine broken rows, block on error rules."""
        from assay.catalog.store import record_checks
        from assay.contracts.enforce import enforce

        spec = ctx.dataset
        engine = data.engine if isinstance(data, Frame) else self.engine
        result = enforce(engine, self.contracts[spec.name], data)
        if self.catalog is not None:
            # Per-batch metrics get their own names: anomaly baselines compare like with like.
            batch_metrics = {f"batch.{k}": v for k, v in result.metrics.items()}
            record_checks(self.catalog, ctx.run_id, result.results, batch_metrics)
        if result.blocked:
            raise BatchBlocked(
                "; ".join(r.detail or r.rule for r in result.blocked),
                where=spec.name,
                hint="fix the data or the contract; `assay check` shows every rule",
            )
        if not result.rejected.num_rows:
            # Rows rejected by an earlier run of these intervals are gone now: clear them.
            return result.good, self._clearing(ctx, output, intervals) if intervals else output
        rows, keys = contract_rejects(ctx, result.rejected, result.reasons, intervals)
        quarantine = rows_to_table(rows, ctx.run_id, spec.name, ctx.ingested_at)
        if output.quarantine is not None and output.quarantine.num_rows:
            quarantine = pa.concat_tables([output.quarantine, quarantine])
        batch_keys = tuple(dict.fromkeys([*output.batch_keys, *keys]))
        return result.good, replace(output, quarantine=quarantine, batch_keys=batch_keys)

    def _refuse_duplicate_keys(self, ctx: RunContext, data: pa.Table | Frame) -> None:
        """A merge batch holding a key twice is refused: which row wins would depend on how
        the data was delivered (Delta's MERGE refuses it for matched rows too)."""
        keys = [quote(k) for k in ctx.dataset.keys]
        engine = data.engine if isinstance(data, Frame) else self.engine
        sql = (
            f"SELECT {', '.join(keys)}, count(*) AS rows FROM t GROUP BY ALL "
            f"HAVING count(*) > 1 ORDER BY rows DESC LIMIT 5"
        )
        repeated = engine.query(sql, {"t": data}).to_pylist()
        if not repeated:
            return
        shown = "; ".join(
            ", ".join(f"{k}={r[k]!r}" for k in ctx.dataset.keys) + f" ({r['rows']} rows)"
            for r in repeated
        )
        raise AssayError(
            f"duplicate keys in a merge batch, nothing committed: {shown}",
            where=ctx.dataset.where,
            hint="keep one row per key in the query, e.g. QUALIFY row_number() OVER "
            f"(PARTITION BY {', '.join(ctx.dataset.keys)} ORDER BY <newest first>) = 1",
        )

    def _is_empty_batch(self, ctx: RunContext, data: pa.Table | Frame) -> bool:
        """An interval batch without rows (a Frame is counted only when it is cached)."""
        if ctx.dataset.kind is not Kind.INCREMENTAL:
            return False
        if isinstance(data, Frame) and not self.contracts.get(ctx.dataset.name):
            return False  # counting would compute it twice; writing it empty is harmless
        return not data.num_rows

    def _skip_empty_batch(self, ctx: RunContext, intervals: list[Interval]) -> bool:
        """An empty batch commits nothing unless it creates the table or removes rows."""
        name = ctx.dataset.name
        if ctx.replace_table or not self.warehouse.exists(name):
            return False
        return not self._holds_rows(name, ctx.dataset.time_column or "", intervals)

    def _clearing(self, ctx: RunContext, output: Output, intervals: list[Interval]) -> Output:
        """`output` set to replace the earlier contract rejects of its intervals."""
        if not self.contracts.get(ctx.dataset.name):
            return output
        keys = tuple(dict.fromkeys([*output.batch_keys, *(i.key() for i in intervals)]))
        return replace(output, batch_keys=keys)

    def _record_done(
        self, ctx: RunContext, intervals: list[Interval], inputs: Mapping[str, int | None]
    ) -> None:
        """Mark intervals done in the ledger without a Delta commit (an empty batch)."""
        if self.catalog is None:
            return
        from assay.catalog import IntervalRecord

        version = self.warehouse.version(ctx.dataset.name)
        version = -1 if version is None else version
        read = {name: v for name, v in inputs.items() if v is not None}
        records = [IntervalRecord(i, ctx.dataset.fingerprint, version, read) for i in intervals]
        with self.catalog.engine.begin() as con:
            self.catalog.upsert_intervals(con, ctx.dataset.name, records, ctx.run_id)

    def _widen(self, ctx: RunContext, types: Mapping[str, str]) -> None:
        """Rewrite the table with wider column types, as its own commit before the batch.

        delta-rs cannot change a column's type in place. A crash after this commit leaves a
        widened table and the batch not done: the re-run finds nothing to widen and writes it.
        """
        from assay.engines import TableRef

        name = ctx.dataset.name
        casts = ", ".join(f"CAST({quote(c)} AS {t}) AS {quote(c)}" for c, t in types.items())
        widened = self.engine.query(f"SELECT * REPLACE ({casts}) FROM t", {"t": TableRef(name)})
        self.warehouse.write(
            name,
            widened,
            mode=WriteMode.OVERWRITE,
            metadata={"run_id": ctx.run_id, "widened": dict(types)},
            partition_by=ctx.dataset.partition_by,
        )

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
        data: pa.Table | Frame,
        metadata: dict[str, Any],
        intervals: list[Interval] | None,
        append_only: bool = False,
    ) -> int | None:
        spec = ctx.dataset
        # A Frame is committed by its engine's writer (Spark's Delta writer), Arrow by ours.
        wh = data.engine.writer() if isinstance(data, Frame) else self.warehouse
        exists = self.warehouse.exists(spec.name) and not ctx.replace_table
        evolve = spec.schema_policy is SchemaPolicy.EVOLVE
        common: dict[str, Any] = {"metadata": metadata, "partition_by": spec.partition_by}
        if not exists:
            return wh.write(spec.name, data, mode=WriteMode.OVERWRITE, **common)
        if spec.kind is Kind.MERGE:
            return wh.merge(spec.name, data, keys=spec.keys, metadata=metadata)
        if spec.kind is Kind.INCREMENTAL and intervals:
            predicate = self._interval_predicate(spec.name, spec.time_column or "", intervals)
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
            return wh.write(
                spec.name,
                data,
                mode=WriteMode.OVERWRITE,
                predicate=in_predicate(SOURCE_FILE, files),
                evolve_schema=evolve,
                **common,
            )
        if spec.kind is Kind.APPEND:
            return wh.write(spec.name, data, mode=WriteMode.APPEND, evolve_schema=evolve, **common)
        if spec.kind is Kind.FULL:
            return wh.write(spec.name, data, mode=WriteMode.OVERWRITE, **common)
        raise AssayError(f"cannot write kind {spec.kind.value}", where=spec.where)

    def _interval_predicate(self, name: str, column: str, intervals: list[Interval]) -> exp.Expr:
        """The rows of the batch's intervals, compared as the table's column type reads."""
        schema = self.warehouse.schema(name)
        kind = schema.field(column).type if column in schema.names else None
        return interval_predicate(column, intervals[0].start, intervals[-1].end, kind)

    def _holds_rows(self, name: str, column: str, intervals: list[Interval]) -> bool:
        """Whether the table may hold rows in the batch's range (from file statistics;
        True when they cannot tell)."""
        actions = self.warehouse.file_actions(name)
        lows, highs = f"min.{column}", f"max.{column}"
        if not actions.num_rows:
            return False
        if lows not in actions.column_names or highs not in actions.column_names:
            return True
        start, end = intervals[0].start, intervals[-1].end
        for lo, hi in zip(actions[lows].to_pylist(), actions[highs].to_pylist(), strict=True):
            if lo is None or hi is None:
                return True
            if to_naive_utc(_as_moment(lo)) < end and start <= to_naive_utc(_as_moment(hi)):
                return True
        return False


def contract_rejects(
    ctx: RunContext, rejected: pa.Table, reasons: list[str], intervals: list[Interval] | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Quarantine rows for rows a contract rejected, keyed so a re-run replaces them: by
    source file, by interval, by merge key, or as the whole of a full table."""
    from assay.contracts.enforce import rows_as_json

    spec = ctx.dataset
    raws = rows_as_json(rejected)
    records = rejected.to_pylist()
    keys: list[str] = []
    rows = []
    for record, raw, reason in zip(records, raws, reasons, strict=True):
        if SOURCE_FILE in record:
            key = str(record[SOURCE_FILE])
        elif intervals and spec.time_column:
            key = _interval_key(intervals, record.get(spec.time_column))
        elif spec.kind is Kind.MERGE:
            key = "key:" + json.dumps([record.get(k) for k in spec.keys], default=str)
        else:
            key = "full"
        keys.append(key)
        rows.append(
            {
                "batch_key": key,
                "source_file": record.get(SOURCE_FILE),
                "line": record.get("_line"),
                "raw_record": raw,
                "rule": reason.split(":", 1)[0],
                "reason": reason,
            }
        )
    if intervals and spec.time_column:
        keys.extend(i.key() for i in intervals)  # clear old rejects of every interval redone
    if spec.kind is Kind.FULL:
        keys.append("full")
    return rows, keys


def _interval_key(intervals: list[Interval], value: Any) -> str:
    for interval in intervals:
        if value is not None and interval.start <= to_naive_utc(value) < interval.end:
            return interval.key()
    return intervals[0].key()


def _as_moment(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _empty_quarantine() -> pa.Table:
    from assay.pipelines.quarantine import SCHEMA

    return SCHEMA.empty_table()
