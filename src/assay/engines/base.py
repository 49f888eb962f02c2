"""The engine interface: run SQL (and Python transforms) over warehouse tables and Arrow data.

Engines are plug-ins: a class with a `name`, registered with `register_engine`, created with
`get_engine(name, warehouse)`. Nothing above this room imports duckdb or pyspark.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

import pyarrow as pa

from assay.errors import UsageError
from assay.tables import Warehouse

if TYPE_CHECKING:
    import pyarrow.dataset as pads


@dataclass(frozen=True)
class TableRef:
    """A warehouse table at a pinned version (None: latest)."""

    name: str
    version: int | None = None


@dataclass(frozen=True, eq=False)
class GovernedRef:
    """A warehouse table as an access policy lets a role read it (assay.governance.access):
    engines show it under its alias as `SELECT <select> FROM <table> [WHERE <where>]` in
    their own dialect, so every query over the alias (joins, CTEs, subqueries) and every
    read that is not SQL text (training sets, profiles) sees only masked values and the
    rows the filter keeps.

    Attributes:
        table: the table at its pinned version.
        select: dialect -> the select list (masked expressions aliased to the column names).
        where: dialect -> the row filter over the stored values (None: every row).
        schema: the Arrow schema of what the select gives.
    """

    table: TableRef
    select: Mapping[str, tuple[str, ...]]
    where: Mapping[str, str | None]
    schema: pa.Schema

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def version(self) -> int | None:
        return self.table.version

    def statement(self, dialect: str, relation: str) -> str:
        """The governed SELECT in `dialect` over `relation` (the stored table's name there).

        Example:
            >>> ref = GovernedRef(TableRef("s.t", 1), {"duckdb": ('"a"',)}, {"duckdb": "a > 1"},
            ...                   pa.schema([("a", pa.int64())]))
            >>> ref.statement("duckdb", '"raw"')
            'SELECT "a" FROM "raw" WHERE a > 1'
        """
        sql = f"SELECT {', '.join(self.select[dialect])} FROM {relation}"
        where = self.where.get(dialect)
        return f"{sql} WHERE {where}" if where else sql


class Frame(ABC):
    """A result that stays in its engine (a Spark DataFrame, cached): engines that write
    tables themselves (`Engine.writes_tables`) return these from transforms, so a table's
    rows go from the cluster to storage without passing through this process.

    It answers what a commit asks of an Arrow table (schema, row count, checksum) and is
    itself a source of further queries on its engine.
    """

    engine: Engine

    @property
    @abstractmethod
    def schema(self) -> pa.Schema:
        """The Arrow schema of the rows."""

    @property
    @abstractmethod
    def num_rows(self) -> int:
        """The number of rows (computed once)."""

    @abstractmethod
    def checksum(self) -> tuple[int, str]:
        """Rows and an order-insensitive sum of row hashes, in one pass."""

    @abstractmethod
    def to_arrow(self) -> pa.Table:
        """Collect the rows into this process."""

    @abstractmethod
    def release(self) -> None:
        """Free what the engine keeps for this frame (its cache)."""

    def reuse(self) -> None:  # noqa: B027 - optional: engines without caches do nothing
        """Keep the rows once computed: the frame is about to be read more than once (a
        contract check, then the write). Without it each read recomputes them."""

    @property
    def column_names(self) -> list[str]:
        return list(self.schema.names)

    @property
    def num_columns(self) -> int:
        return len(self.schema)


#: What a query can read under a `layer.name` (or plain) alias.
Source: TypeAlias = (
    "TableRef | GovernedRef | pa.Table | pads.Dataset | pa.RecordBatchReader | Frame"
)


class Engine(ABC):
    """Runs SQL in the engine's dialect over named sources and returns Arrow."""

    name: ClassVar[str]
    #: The SQL dialect the engine runs (a sqlglot dialect name).
    dialect: ClassVar[str] = "duckdb"
    #: Capability: the engine has an ASOF join (point-in-time joins use it when it does,
    #: window functions otherwise).
    asof_join: ClassVar[bool] = True
    #: Capability: the engine writes tables itself: transforms give Frames (`relation`),
    #: contracts split them on the engine (`split`), and `writer()` commits them.
    writes_tables: ClassVar[bool] = False
    #: Intervals one query computes and one commit writes when a dataset declares no
    #: `batch_size` (engines with a high fixed cost per query take more at a time).
    default_batch_intervals: ClassVar[int] = 30

    def __init__(self, warehouse: Warehouse, settings: Mapping[str, Any] | None = None):
        self.warehouse = warehouse
        self.settings: dict[str, Any] = dict(settings or {})

    @abstractmethod
    def query(self, sql: str, sources: Mapping[str, Source]) -> pa.Table:
        """Run `sql` (DuckDB's dialect: assay's one SQL dialect, translated by engines that
        speak another) where each key of `sources` names a readable table, and collect it."""

    @abstractmethod
    def call_python(
        self, func: Callable[..., Any], sources: Mapping[str, Source], as_relations: bool, ctx: Any
    ) -> Any:
        """Call a Python transform with its inputs as engine-native relations or Arrow."""

    def relation(self, sql: str, sources: Mapping[str, Source]) -> Frame:
        """Like `query`, but the result stays in the engine (engines that write tables)."""
        raise NotImplementedError(f"the {self.name} engine collects results (see query)")

    def split(self, flagged: Frame, column: str) -> tuple[Frame, pa.Table]:
        """Rows of `flagged` whose `column` is empty (kept in the engine, without the
        column) and the others (collected, with it): how contracts quarantine on engines
        that write tables."""
        raise NotImplementedError(f"the {self.name} engine collects results (see query)")

    def writer(self) -> Any:
        """What commits this engine's Frames: an object with Warehouse's `write` and
        `merge` (the warehouse itself for engines that collect their results)."""
        return self.warehouse

    def sql_for(self, duckdb_sql: str, where: str | None = None) -> str:
        """SQL written in DuckDB's dialect, as this engine runs it (`assay plan` shows it).

        Example:
            >>> get_engine("duckdb", Warehouse("/tmp/wh")).sql_for("SELECT epoch(max(t)) FROM x")
            'SELECT epoch(max(t)) FROM x'
        """
        if self.dialect == "duckdb":
            return duckdb_sql
        from assay.engines.translate import translate

        return translate(duckdb_sql, self.dialect, where)

    def resolve(self, source: Source) -> pa.Table | pads.Dataset | pa.RecordBatchReader:
        """Turn a TableRef into a lazy Arrow dataset (a Frame, or a GovernedRef's governed
        rows, into Arrow); pass Arrow data through."""
        if isinstance(source, GovernedRef):
            return self.query('SELECT * FROM "__assay_governed"', {"__assay_governed": source})
        if isinstance(source, TableRef):
            return self.warehouse.dataset(source.name, source.version)
        if isinstance(source, Frame):
            return source.to_arrow()
        return source


_ENGINES: dict[str, str | type[Engine]] = {
    "duckdb": "assay.engines.duckdb:DuckDBEngine",
    "spark": "assay.engines.spark:SparkEngine",
}


def register_engine(name: str, engine: str | type[Engine]) -> None:
    """Register an engine class (or a lazy `module:Class` path) under `name`."""
    _ENGINES[name] = engine


def get_engine(
    name: str, warehouse: Warehouse, settings: Mapping[str, Any] | None = None
) -> Engine:
    """Create the engine registered as `name` (`settings`: its section of assay.yaml).

    Example:
        >>> get_engine("duckdb", Warehouse("/tmp/wh")).name
        'duckdb'
    """
    if name not in _ENGINES:
        raise UsageError(
            f"unknown engine {name!r}", hint=f"choose one of: {', '.join(sorted(_ENGINES))}"
        )
    target = _ENGINES[name]
    if isinstance(target, str):
        module, _, cls_name = target.partition(":")
        target = getattr(importlib.import_module(module), cls_name)
        _ENGINES[name] = target
    return target(warehouse, settings)
