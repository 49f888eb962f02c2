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


#: What a query can read under a `layer.name` (or plain) alias.
Source: TypeAlias = "TableRef | pa.Table | pads.Dataset | pa.RecordBatchReader"


class Engine(ABC):
    """Runs SQL in the engine's dialect over named sources and returns Arrow."""

    name: ClassVar[str]
    #: The SQL dialect the engine runs (a sqlglot dialect name).
    dialect: ClassVar[str] = "duckdb"
    #: Capability: the engine has an ASOF join (point-in-time joins use it when it does,
    #: window functions otherwise).
    asof_join: ClassVar[bool] = True

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
        """Turn a TableRef into a lazy Arrow dataset; pass Arrow data through."""
        if isinstance(source, TableRef):
            return self.warehouse.dataset(source.name, source.version)
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
