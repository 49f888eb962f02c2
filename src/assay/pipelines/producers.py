"""What every dataset recipe shares: the run context, outputs, and Arrow normalization."""

from __future__ import annotations

import hashlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import GeneratorType
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.errors import AssayError
from assay.tables.commitmeta import CommitMeta, DatasetState

if TYPE_CHECKING:
    from assay.engines import Engine, Frame, TableRef
    from assay.pipelines.spec import DatasetSpec
    from assay.tables import Warehouse

#: Columns assay adds to source rows; they are not part of the user's schema.
SOURCE_FILE, LINE, INGESTED_AT = "_source_file", "_line", "_ingested_at"
SYSTEM_COLUMNS = (SOURCE_FILE, LINE, INGESTED_AT)


@dataclass
class RunContext:
    """What user code sees as `ctx`: the run, the interval, inputs and settings.

    Attributes:
        run_id: id of the current run (also in every commit it makes).
        dataset: the spec being built.
        start, end: the interval being built (incremental datasets), else None.
        inputs: upstream tables pinned to the versions this run reads.
        state: what the dataset's table says of itself (`DatasetState`: cursor, fingerprint,
            input versions, files ingested).
        vars: the `vars:` section of assay.yaml.
        duckdb: a DuckDB connection while a Python transform runs on DuckDB.
        spark: the Spark session while a Python transform runs on Spark.
    """

    run_id: str
    dataset: DatasetSpec
    engine: Engine
    warehouse: Warehouse
    project_root: str
    ingested_at: datetime
    inputs: Mapping[str, TableRef] = field(default_factory=dict)
    state: DatasetState = field(default_factory=DatasetState)
    vars: Mapping[str, Any] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    full_refresh: bool = False
    #: True until the first commit of a full refresh: that commit replaces the whole table.
    replace_table: bool = False
    duckdb: Any = None
    spark: Any = None
    #: Set by the engine while a Python transform runs: what `sql()` calls.
    sql_runner: Callable[[str], Any] | None = None

    def sql(self, query: str) -> Any:
        """Run DuckDB-dialect SQL over the transform's inputs (named `layer.name`) on the
        engine running the transform; a relation on DuckDB, a DataFrame on Spark.

        One transform body then runs on either engine:

            @assay.transform("gold.daily", inputs=["silver.t"], engines=["duckdb", "spark"])
            def daily(ctx, t):
                return ctx.sql("SELECT card_id, count(*) AS n FROM silver.t GROUP BY ALL")
        """
        if self.sql_runner is None:
            raise AssayError(
                "ctx.sql() runs only inside a Python transform", where=self.dataset.where
            )
        return self.sql_runner(query)


@dataclass
class Output:
    """One commit's worth of a dataset: good rows, quarantined rows and commit metadata."""

    #: Arrow, or a Frame kept in an engine that writes tables itself (Spark).
    data: pa.Table | Frame | None
    quarantine: pa.Table | None = None
    #: Rows read to make this output; None: the rows of `data` (a Frame's are known once
    #: it is committed, without counting them first).
    rows_in: int | None = 0
    #: What the producer adds to the commit's metadata (files read, cursor reached).
    metadata: CommitMeta = field(default_factory=CommitMeta)
    #: Keys of the quarantine rows this output replaces (files or intervals).
    batch_keys: tuple[str, ...] = ()
    #: True when none of the batch's rows can already be in the table (never-seen files):
    #: a plain append, with no replace-where scan of the existing table.
    append_only: bool = False
    #: Columns of the table to widen to these SQL types before this batch is written.
    widen: dict[str, str] = field(default_factory=dict)

    @property
    def rows_written(self) -> int:
        return 0 if self.data is None else self.data.num_rows

    @property
    def rows_quarantined(self) -> int:
        return 0 if self.quarantine is None else self.quarantine.num_rows


@dataclass(frozen=True)
class Pending:
    """What a producer has to do on this run, as it knows without reading its inputs.

    Example:
        >>> Pending(True, ("2 new or changed file(s)",)).needed
        True
    """

    needed: bool
    reasons: tuple[str, ...] = ()
    #: The table is rewritten whole (its declaration changed), not added to.
    replace_table: bool = False
    #: What `assay plan` says instead when only running the producer tells whether its data
    #: changed (Python and database sources, streams); None: `reasons` are exact.
    unforeseen: str | None = None


class Producer(ABC):
    """Produces a dataset's data: a source reading the outside world or a transform."""

    #: True for sources: they read outside data, so they run even when inputs are unchanged.
    is_source: bool = False
    #: True for streams: `assay stream` runs them, `assay run` leaves their tables alone.
    is_stream: bool = False
    #: True when the producer ingests files once each: its state carries the files done.
    tracks_files: bool = False

    @abstractmethod
    def code_fingerprint(self) -> str:
        """A hash of the code and options that determine the output."""

    @abstractmethod
    def produce(self, ctx: RunContext) -> Iterator[Output]:
        """Yield one Output per commit to make (usually one)."""

    def pending(
        self, state: DatasetState, spec: DatasetSpec, root: str, full_refresh: bool
    ) -> Pending | None:
        """What this producer has to do given the dataset's `state`; None when its inputs
        decide (a transform: the planner compares their versions and intervals).

        Example:
            >>> from assay.pipelines.sources import PythonSource
            >>> source = PythonSource(lambda ctx: None)
            >>> source.pending(DatasetState(), spec=None, root=".", full_refresh=False).reasons
            ('sources are read on every run',)
        """
        if self.is_stream:
            return Pending(False, unforeseen="a stream: `assay run` leaves it to `assay stream`")
        if self.is_source:
            return Pending(
                True,
                ("sources are read on every run",),
                unforeseen="re-read on every run; commits only if its data changed",
            )
        return None


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
