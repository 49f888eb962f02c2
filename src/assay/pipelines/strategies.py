"""One write strategy per kind of dataset: how a batch is written, what its commit records
and how the rows its contracts reject are keyed (so a re-run replaces them).

`Committer` runs the steps every write shares (contracts, quarantine, crash ordering) and
asks the dataset's strategy for what differs by kind:

    append        files replace their own rows (by `_source_file`); other rows are appended
    incremental   each interval's rows are replaced (overwrite where time in the batch)
    merge         rows are upserted on the keys; a batch holding a key twice is refused
    full          the table is replaced; the same content again commits nothing
    stream        written by `assay stream` (exactly-once, see streaming/sink.py), never here

Example:
    >>> from assay.pipelines.spec import Kind
    >>> [type(STRATEGIES[k]).__name__ for k in (Kind.APPEND, Kind.MERGE)]
    ['AppendStrategy', 'MergeStrategy']
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
from sqlglot import exp

from assay import sqlbuild
from assay.errors import AssayError, UsageError
from assay.intervals import Interval, to_naive_utc
from assay.pipelines.producers import SOURCE_FILE, Output, RunContext
from assay.pipelines.spec import DatasetSpec, Kind, SchemaPolicy
from assay.tables import WriteMode
from assay.tables.commitmeta import CommitMeta

if TYPE_CHECKING:
    from assay.engines import Engine, Frame
    from assay.tables import Warehouse

#: What commits a batch: the warehouse or an engine's own table writer (Spark's).
Writer = Any


@dataclass(frozen=True)
class Batch:
    """One batch to write into a dataset's existing table, as one commit."""

    ctx: RunContext
    data: pa.Table | Frame
    meta: CommitMeta
    intervals: list[Interval] | None = None
    #: None of the batch's rows can already be in the table (never-seen files).
    append_only: bool = False

    @property
    def spec(self) -> DatasetSpec:
        return self.ctx.dataset

    def options(self) -> dict[str, Any]:
        """What every write of the batch passes: its metadata and partitioning."""
        return {"metadata": self.meta.encode(), "partition_by": self.spec.partition_by}

    @property
    def evolves(self) -> bool:
        return self.spec.schema_policy is SchemaPolicy.EVOLVE


class WriteStrategy(ABC):
    """How datasets of one kind write a batch into their existing table."""

    #: The dataset kind it writes (None: not a kind of its own, e.g. streams).
    kind: ClassVar[Kind | None] = None
    #: The batch's content is checksummed: the same content again commits nothing.
    hashes_content: ClassVar[bool] = False

    def record(
        self, ctx: RunContext, output: Output, intervals: list[Interval] | None
    ) -> CommitMeta:
        """The metadata the batch's commit carries: run, code, inputs read, what the
        producer added (files, cursor) and, for interval batches, the intervals done."""
        inputs = {n: ref.version for n, ref in ctx.inputs.items() if ref.version is not None}
        return CommitMeta(
            run_id=ctx.run_id,
            fingerprint=ctx.dataset.fingerprint,
            inputs=inputs,
            intervals=tuple(intervals) if intervals else None,
            files=output.metadata.files,
            cursor=output.metadata.cursor,
            reset=ctx.replace_table,
            extra=output.metadata.extra,
        )

    def commits_when_empty(self, ctx: RunContext, output: Output, exists: bool) -> bool:
        """Whether a batch without rows still commits (to mark files or intervals done,
        or to create the table)."""
        return output.metadata.files is not None or not exists

    def is_empty_batch(self, data: pa.Table | Frame, counted: bool) -> bool:
        """A batch that has no rows and may commit nothing (`counted`: counting its rows
        costs nothing more)."""
        return False

    def may_hold_rows(
        self, warehouse: Warehouse, spec: DatasetSpec, intervals: list[Interval]
    ) -> bool:
        """Whether the existing table may hold rows an empty batch of `intervals` would
        remove (True: it must commit)."""
        return True

    def check(self, ctx: RunContext, data: pa.Table | Frame, engine: Engine) -> None:  # noqa: B027
        """Refuse a batch this kind cannot write (before anything is written); most
        kinds accept any batch."""

    @abstractmethod
    def write(self, writer: Writer, warehouse: Warehouse, batch: Batch) -> int | None:
        """Write the batch into its existing table as one commit (with `writer`; the
        table is read from `warehouse`); the new version (None: nothing changed)."""

    def reject_key(
        self, spec: DatasetSpec, record: Mapping[str, Any], intervals: list[Interval] | None
    ) -> str:
        """The batch key of a row a contract rejected (not from a source file)."""
        return "full"

    def cleared_keys(self, spec: DatasetSpec, intervals: list[Interval] | None) -> list[str]:
        """Batch keys whose earlier rejects a batch replaces even when it rejects nothing."""
        return []


class AppendStrategy(WriteStrategy):
    """New rows are appended; rows read from files that were read before replace that
    file's rows (a changed file)."""

    kind = Kind.APPEND

    def write(self, writer: Writer, warehouse: Warehouse, batch: Batch) -> int | None:
        files = batch.meta.files
        if files is not None and not batch.append_only:
            return int(
                writer.write(
                    batch.spec.name,
                    batch.data,
                    mode=WriteMode.OVERWRITE,
                    predicate=sqlbuild.in_list(SOURCE_FILE, [f.path for f in files]),
                    evolve_schema=batch.evolves,
                    **batch.options(),
                )
            )
        return int(
            writer.write(
                batch.spec.name,
                batch.data,
                mode=WriteMode.APPEND,
                evolve_schema=batch.evolves,
                **batch.options(),
            )
        )


class IncrementalStrategy(WriteStrategy):
    """Each batch replaces exactly the rows of its intervals; an empty batch that has no
    rows to remove commits nothing (the ledger alone marks it done)."""

    kind = Kind.INCREMENTAL

    def commits_when_empty(self, ctx: RunContext, output: Output, exists: bool) -> bool:
        return True

    def is_empty_batch(self, data: pa.Table | Frame, counted: bool) -> bool:
        # An uncounted Frame would be computed twice to count it; writing it empty is harmless.
        return counted and not data.num_rows

    def write(self, writer: Writer, warehouse: Warehouse, batch: Batch) -> int | None:
        if not batch.intervals:
            spec = batch.spec
            raise AssayError("an incremental batch names no interval", where=spec.where)
        return int(
            writer.write(
                batch.spec.name,
                batch.data,
                mode=WriteMode.OVERWRITE,
                predicate=self.predicate(warehouse, batch.spec, batch.intervals),
                evolve_schema=batch.evolves,
                **batch.options(),
            )
        )

    @staticmethod
    def predicate(warehouse: Warehouse, spec: DatasetSpec, intervals: list[Interval]) -> exp.Expr:
        """The rows of the batch's intervals, compared as the table's column type reads."""
        column = spec.time_column or ""
        schema = warehouse.schema(spec.name)
        kind = schema.field(column).type if column in schema.names else None
        return sqlbuild.time_range(column, intervals[0].start, intervals[-1].end, kind)

    def may_hold_rows(
        self, warehouse: Warehouse, spec: DatasetSpec, intervals: list[Interval]
    ) -> bool:
        """Whether the table may hold rows in the batch's range (from file statistics;
        True when they cannot tell)."""
        actions = warehouse.file_actions(spec.name)
        column = spec.time_column or ""
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

    def reject_key(
        self, spec: DatasetSpec, record: Mapping[str, Any], intervals: list[Interval] | None
    ) -> str:
        if not intervals or not spec.time_column:
            return "full"
        value = record.get(spec.time_column)
        for interval in intervals:
            if value is not None and interval.start <= to_naive_utc(value) < interval.end:
                return interval.key()
        return intervals[0].key()

    def cleared_keys(self, spec: DatasetSpec, intervals: list[Interval] | None) -> list[str]:
        # Every interval redone clears its old rejects, whether or not it rejects rows now.
        return [i.key() for i in intervals or []] if spec.time_column else []


class MergeStrategy(WriteStrategy):
    """Rows are upserted on the keys: changed rows update, new rows insert."""

    kind = Kind.MERGE
    hashes_content = True

    def check(self, ctx: RunContext, data: pa.Table | Frame, engine: Engine) -> None:
        """A merge batch holding a key twice is refused: which row wins would depend on how
        the data was delivered (Delta's MERGE refuses it for matched rows too)."""
        keys = ctx.dataset.keys
        select = (
            exp.select(*sqlbuild.columns(keys), exp.alias_(exp.Count(this=exp.Star()), "rows"))
            .from_("t")
            .group_by(*sqlbuild.columns(keys))
            .having(exp.Count(this=exp.Star()) > sqlbuild.literal(1))
            .order_by(exp.Ordered(this=exp.column("rows"), desc=True))
            .limit(5)
        )
        repeated = engine.query(sqlbuild.render(select, "duckdb"), {"t": data}).to_pylist()
        if not repeated:
            return
        shown = "; ".join(
            ", ".join(f"{k}={r[k]!r}" for k in keys) + f" ({r['rows']} rows)" for r in repeated
        )
        raise AssayError(
            f"duplicate keys in a merge batch, nothing committed: {shown}",
            where=ctx.dataset.where,
            hint="keep one row per key in the query, e.g. QUALIFY row_number() OVER "
            f"(PARTITION BY {', '.join(keys)} ORDER BY <newest first>) = 1",
        )

    def write(self, writer: Writer, warehouse: Warehouse, batch: Batch) -> int | None:
        spec = batch.spec
        version = writer.merge(spec.name, batch.data, keys=spec.keys, metadata=batch.meta.encode())
        return None if version is None else int(version)

    def reject_key(
        self, spec: DatasetSpec, record: Mapping[str, Any], intervals: list[Interval] | None
    ) -> str:
        return "key:" + json.dumps([record.get(k) for k in spec.keys], default=str)


class FullStrategy(WriteStrategy):
    """The table is replaced as a whole on every write that changed its content."""

    kind = Kind.FULL
    hashes_content = True

    def commits_when_empty(self, ctx: RunContext, output: Output, exists: bool) -> bool:
        return True  # an empty result replaces the table: its rows are gone

    def write(self, writer: Writer, warehouse: Warehouse, batch: Batch) -> int | None:
        return int(
            writer.write(batch.spec.name, batch.data, mode=WriteMode.OVERWRITE, **batch.options())
        )

    def cleared_keys(self, spec: DatasetSpec, intervals: list[Interval] | None) -> list[str]:
        return ["full"]  # the whole table was recomputed: so were its rejects


class StreamStrategy(WriteStrategy):
    """A stream's table (and its windows') is written by `assay stream` only, one commit
    per micro-batch fenced by app transactions (streaming/sink.py); a run never writes it."""

    def write(self, writer: Writer, warehouse: Warehouse, batch: Batch) -> int | None:
        raise UsageError(
            f"{batch.spec.name} is written by its stream, not by a run",
            where=batch.spec.where,
            hint="run it with `assay stream`",
        )


#: The strategy of each batch kind (strategies hold no state: one object serves all).
STRATEGIES: Mapping[Kind | None, WriteStrategy] = {
    s.kind: s for s in (AppendStrategy(), IncrementalStrategy(), MergeStrategy(), FullStrategy())
}
_STREAM = StreamStrategy()


def strategy_for(spec: DatasetSpec) -> WriteStrategy:
    """The write strategy of `spec` (a stream's, whatever its kind, when a stream
    produces it).

    Example:
        >>> import assay
        >>> spec = assay.files("bronze.tx", path="data/*.jsonl", format="jsonl")
        >>> type(strategy_for(spec)).__name__
        'AppendStrategy'
    """
    if spec.producer.is_stream:
        return _STREAM
    return STRATEGIES[spec.kind]


def _as_moment(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value
