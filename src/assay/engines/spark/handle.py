"""What a SparkFrame and the SparkTableWriter need from the engine that made them.

A Protocol, so frame.py and writer.py need not import engine.py (which imports them):
the engine satisfies it structurally.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession


class SparkHandle(Protocol):
    """The session, the error guard and the Arrow collector of a `SparkEngine`."""

    @property
    def spark(self) -> SparkSession: ...

    def guard(self, work: Callable[[], Any], spark_sql: str | None = None) -> Any: ...

    def to_arrow(self, df: DataFrame, spark_sql: str | None = None) -> pa.Table: ...
