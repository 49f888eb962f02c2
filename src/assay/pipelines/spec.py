"""Immutable dataset specifications (what a user declared, independent of how it runs) and
the interface of what produces their data (`Producer`, its `RunContext` and `Output`)."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.errors import AssayError, DefinitionError
from assay.governance.protection import Protection
from assay.intervals import Grain
from assay.naming import split_name
from assay.pipelines.automation import Automation, Trigger
from assay.tables.commitmeta import CommitMeta, DatasetState

if TYPE_CHECKING:
    from assay.engines import Engine, Frame, TableRef
    from assay.tables import Warehouse


class Kind(StrEnum):
    """How a dataset's table is written on each run."""

    FULL = "full"  # recomputed and replaced as a whole
    INCREMENTAL = "incremental"  # by time range: each interval replaced on its own
    MERGE = "merge"  # upserted by key
    APPEND = "append"  # new input appended (file sources)


class SchemaPolicy(StrEnum):
    """What happens when a source's columns change (dlt's schema contracts)."""

    EVOLVE = "evolve"  # new columns are added; removed or retyped columns fail
    FREEZE = "freeze"  # any change fails
    DISCARD = "discard"  # new columns are dropped; removed ones become null
    QUARANTINE = "quarantine"  # rows with new columns or bad types are quarantined


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: a Delta table `layer.name` and the recipe that produces it."""

    name: str
    kind: Kind
    producer: Producer
    inputs: tuple[str, ...] = ()
    time_column: str | None = None
    grain: Grain = Grain.DAY
    start: datetime | None = None
    lookback: int = 0
    #: Contiguous intervals computed by one query and written in one commit; None (not
    #: declared): the engine's default (`Engine.default_batch_intervals`).
    batch_size: int | None = None
    keys: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    #: Columns `assay optimize` clusters the table's files on (z-order), so filters on
    #: them skip files; storage layout only, not part of the fingerprint.
    zorder_by: tuple[str, ...] = ()
    owner: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    schema_policy: SchemaPolicy = SchemaPolicy.EVOLVE
    #: Widen a column's type (BIGINT -> DOUBLE...) when a source's values need it.
    allow_widening: bool = False
    origin: str = "<python>"
    #: Schedule, SLA and run limits (`schedule=`, `sla=`, ...); not part of the fingerprint.
    automation: Automation = field(default_factory=Automation)
    #: Masks and drops at ingest (sources only) and retention (`mask=`, `drop=`,
    #: `retention=`); masks and drops change the rows, so they are in the fingerprint.
    protection: Protection = field(default_factory=Protection)
    #: What each column holds, for the catalog (dbt's column descriptions); documentation,
    #: not part of equality or the fingerprint.
    column_descriptions: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        split_name(self.name)
        if self.protection.at_ingest and self.inputs:
            raise DefinitionError(
                "mask= and drop= apply at ingest, to sources",
                where=self.where,
                hint="declare them on the source; readers get masks from roles in assay.yaml",
            )
        schedule = self.automation.schedule
        if schedule and schedule.trigger is Trigger.ON_ARRIVAL and self.kind is not Kind.APPEND:
            raise DefinitionError(
                "schedule 'on_arrival' is for file sources",
                where=self.where,
                hint="declare it on assay.files(...); transforms take 'on_upstream' or a cron",
            )
        if schedule and schedule.trigger is Trigger.ON_UPSTREAM and not self.inputs:
            raise DefinitionError(
                "schedule 'on_upstream' needs inputs",
                where=self.where,
                hint="sources take a cron schedule, or 'on_arrival' for files",
            )
        if self.kind is Kind.INCREMENTAL and not self.time_column:
            raise DefinitionError(
                "incremental datasets need a time column",
                where=self.where,
                hint="declare time_column (SQL header: `-- time_column: event_time`)",
            )
        if self.kind is Kind.MERGE and not self.keys:
            raise DefinitionError(
                "merge datasets need keys",
                where=self.where,
                hint="declare keys (SQL header: `-- keys: customer_id`)",
            )
        if self.name in self.inputs:
            raise DefinitionError("a dataset cannot read itself", where=self.where)

    @property
    def layer(self) -> str:
        return split_name(self.name)[0]

    @property
    def where(self) -> str:
        return f"{self.name} ({self.origin})"

    @property
    def fingerprint(self) -> str:
        """Hash of everything that changes the data: code plus write semantics."""
        parts: list[Any] = [
            self.producer.code_fingerprint(),
            self.kind.value,
            self.inputs,
            self.time_column,
            self.grain.value,
            self.keys,
            self.lookback,
        ]
        if self.protection.at_ingest:  # only then, so older fingerprints stay as they were
            parts.append((sorted(self.protection.mask.items()), self.protection.drop))
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def time_column_hint(column: str) -> str:
    """What to declare when a time column holds numbers (a year, an epoch) or text."""
    return (
        f"derive a DATE column from {column!r} where the data is read, e.g. "
        f"derive={{'period_start': 'make_date({column}, 1, 1)'}} on assay.files, or "
        f"`make_date({column}, 1, 1) AS period_start` in SQL; then declare "
        "time_column: period_start and grain: year"
    )


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
        runtime: the project's runtime (`assay.runtime.Runtime`), set by the runner, for
            producers that use the project's services: a model builds its training set
            through the feature store. Typed Any: the runtime module imports this one.
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
    runtime: Any = None

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
