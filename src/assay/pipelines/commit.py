"""Turn one Output into one atomic Delta commit (plus its quarantine rows).

Order matters for crash safety: quarantine rows are written first, replacing the rows of
the same batches, then the data commit, which carries the metadata (files, interval, inputs)
that marks the batch done. A crash anywhere leaves the batch either not done (and redone
identically) or done.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from assay import _faults, sqlbuild
from assay.catalog.verified import record_verified
from assay.engines import Engine, Frame
from assay.engines.types import arrow_to_sql
from assay.errors import ContractViolationError
from assay.intervals import Interval
from assay.naming import check_columns
from assay.pipelines.producers import SOURCE_FILE, Output, RunContext
from assay.pipelines.quarantine import quarantine_name, rows_to_table
from assay.pipelines.rejected import write_quarantine
from assay.pipelines.spec import DatasetSpec
from assay.pipelines.strategies import Batch, strategy_for
from assay.tables import Warehouse, WriteMode
from assay.tables.commitmeta import CommitMeta

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
    if isinstance(table, Frame):  # hashed where it is (Spark's own row hash)
        rows, total = table.checksum()
        return _hashed(rows, total, table.schema)
    row_hash = exp.Anonymous(this="hash", expressions=sqlbuild.columns(table.column_names))
    total_sum = exp.Sum(this=sqlbuild.cast(row_hash, "HUGEINT"))
    query = exp.select(
        exp.Count(this=exp.Star()),
        sqlbuild.cast(exp.Coalesce(this=total_sum, expressions=[sqlbuild.literal(0)]), "VARCHAR"),
    ).from_("t")
    rows, total = (
        engine.query(sqlbuild.render(query, "duckdb"), {"t": table}).to_pylist()[0].values()
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


def _blocked_hint(rules: list[str]) -> str:
    """What to do about blocking rules: dbt's tests (`dbt:<name>`) live in the dbt project.

    Example:
        >>> _blocked_hint(["dbt:unique_stg_cards_card_id"])
        'fix the data or the dbt test; `assay dbt tests` lists them'
    """
    if rules and all(rule.startswith("dbt:") for rule in rules):
        return "fix the data or the dbt test; `assay dbt tests` lists them"
    return "fix the data or the contract; `assay check` shows every rule"


class QuarantineLimitExceeded(BatchBlocked):
    """A batch quarantined a larger share of its rows than the dataset's `max_quarantined`."""


def check_quarantine_share(
    spec: DatasetSpec, output: Output, good: pa.Table | Frame | None
) -> None:
    """Block the batch (raise QuarantineLimitExceeded) when rows quarantined / rows in is
    over the dataset's `max_quarantined`, naming the share, the limit and the top rules."""
    limit = spec.automation.max_quarantined
    quarantined = 0 if output.quarantine is None else output.quarantine.num_rows
    if limit is None or not quarantined:
        return
    rows_in = output.rows_in or (0 if good is None else good.num_rows) + quarantined
    share = quarantined / max(rows_in, quarantined)
    if share <= limit:
        return
    rules = Counter(str(r) for r in output.quarantine.column("rule").to_pylist())  # type: ignore[union-attr]
    top = ", ".join(f"{rule} {count:,}" for rule, count in rules.most_common(3))
    raise QuarantineLimitExceeded(
        f"{share:.2%} of the batch's {rows_in:,} rows quarantined ({quarantined:,}), over "
        f"max_quarantined {limit:.2%}; top rules: {top}",
        where=spec.name,
        hint=f"inspect {quarantine_name(spec.name)}, fix the source or the "
        "rule (or raise max_quarantined), then re-run the batch",
    )


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

    def _record_verified(self, ctx: RunContext, digest: str, inputs: Mapping[str, int]) -> None:
        """The rebuild read newer inputs and gave the same content: the catalog notes the
        versions checked, so the planner does not ask for the same rebuild again."""
        version = self.warehouse.version(ctx.dataset.name)
        if self.catalog is None or version is None:
            return
        spec = ctx.dataset
        record_verified(self.catalog, spec.name, spec.fingerprint, digest, version, inputs)

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
        strategy = strategy_for(spec)
        meta = strategy.record(ctx, output, intervals)
        exists = self.warehouse.exists(spec.name)
        contracted = bool(self.contracts.get(spec.name))
        data = output.data
        if data is not None and not data.num_columns:
            data = None  # a source that returned nothing at all
        if data is not None:
            check_columns(list(data.column_names), spec.where)
        if isinstance(data, Frame) and (strategy.hashes_content or contracted):
            data.reuse()  # hashed or checked, then written: computed once
        records_empty = ctx.replace_table or strategy.commits_when_empty(ctx, output, exists)
        if data is not None and not records_empty and not data.num_rows:
            data = None  # nothing new: commit nothing
        counted = not isinstance(data, Frame) or contracted
        empty_batch = (
            data is not None and bool(intervals) and strategy.is_empty_batch(data, counted)
        )
        if empty_batch and intervals and self._skip_empty_batch(ctx, intervals, exists):
            # No rows, and none to remove: commit nothing; the ledger still marks it done.
            self._write_quarantine(ctx, self._clearing(ctx, output, intervals))
            self._record_done(ctx, intervals, meta.inputs or {})
            return None, output
        if data is not None:
            strategy.check(ctx, data, data.engine if isinstance(data, Frame) else self.engine)
        if strategy.hashes_content and data is not None and not ctx.replace_table:
            digest = content_hash(self.engine, data)
            meta = replace(meta, content_hash=digest)
            if digest == ctx.state.content_hash and exists:
                self._record_verified(ctx, digest, meta.inputs or {})
                return None, output  # the same content again: commit nothing
        if empty_batch and intervals:
            output = self._clearing(ctx, output, intervals)  # not judged: it has no rows
        elif data is not None and data.num_columns and contracted:
            data, output = self._enforce(ctx, data, output, intervals)
        self._write_quarantine(ctx, output)
        _faults.point("after_quarantine")
        # After the quarantine write: the blocked batch's rejects stay for inspection and
        # `assay quarantine replay`; its data is not committed, its intervals not done.
        check_quarantine_share(spec, output, data)
        if data is None:
            return None, output
        if output.widen and not ctx.replace_table and exists:
            self._widen(ctx, output.widen)
        batch = Batch(ctx, data, meta, intervals, output.append_only)
        # A Frame is committed by its engine's writer (Spark's Delta writer), Arrow by ours.
        writer = data.engine.writer() if isinstance(data, Frame) else self.warehouse
        if exists and not ctx.replace_table:
            version = strategy.write(writer, self.warehouse, batch)
        else:
            version = writer.write(spec.name, data, mode=WriteMode.OVERWRITE, **batch.options())
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
                hint=_blocked_hint([r.rule for r in result.blocked]),
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

    def _skip_empty_batch(self, ctx: RunContext, intervals: list[Interval], exists: bool) -> bool:
        """An empty batch commits nothing unless it creates the table or removes rows."""
        if ctx.replace_table or not exists:
            return False
        strategy = strategy_for(ctx.dataset)
        return not strategy.may_hold_rows(self.warehouse, ctx.dataset, intervals)

    def _clearing(self, ctx: RunContext, output: Output, intervals: list[Interval]) -> Output:
        """`output` set to replace the earlier contract rejects of its intervals."""
        if not self.contracts.get(ctx.dataset.name):
            return output
        cleared = strategy_for(ctx.dataset).cleared_keys(ctx.dataset, intervals)
        keys = tuple(dict.fromkeys([*output.batch_keys, *cleared]))
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
        casts = [
            exp.alias_(sqlbuild.cast(sqlbuild.column(c), t), sqlbuild.identifier(c))
            for c, t in types.items()
        ]
        select = exp.select(exp.Star(replace=casts)).from_("t")
        widened = self.engine.query(sqlbuild.render(select, "duckdb"), {"t": TableRef(name)})
        self.warehouse.write(
            name,
            widened,
            mode=WriteMode.OVERWRITE,
            metadata=CommitMeta(run_id=ctx.run_id, extra={"widened": dict(types)}),
            partition_by=ctx.dataset.partition_by,
        )

    def _write_quarantine(self, ctx: RunContext, output: Output) -> None:
        meta = CommitMeta(run_id=ctx.run_id, extra={"dataset": ctx.dataset.name})
        write_quarantine(
            self.warehouse,
            ctx.dataset.name,
            output.quarantine,
            meta,
            replace_all=ctx.replace_table,
            batch_keys=output.batch_keys,
        )


def contract_rejects(
    ctx: RunContext, rejected: pa.Table, reasons: list[str], intervals: list[Interval] | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Quarantine rows for rows a contract rejected, keyed so a re-run replaces them: by
    source file, else as the dataset's write strategy keys them (interval, merge key, the
    whole of a full table)."""
    from assay.contracts.enforce import rows_as_json

    spec = ctx.dataset
    strategy = strategy_for(spec)
    raws = rows_as_json(rejected)
    keys: list[str] = []
    rows = []
    for record, raw, reason in zip(rejected.to_pylist(), raws, reasons, strict=True):
        if SOURCE_FILE in record:
            key = str(record[SOURCE_FILE])
        else:
            key = strategy.reject_key(spec, record, intervals)
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
    return rows, [*keys, *strategy.cleared_keys(spec, intervals)]
