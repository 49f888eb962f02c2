"""A Spark DataFrame as an assay Frame. A commit without contracts reads it once (the
write, whose metrics give the row count); one that checks contracts or hashes the content
first asks to `reuse` it, and the rows are cached rather than computed again."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa

from assay import sqlbuild
from assay.engines.base import Frame

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from assay.engines.base import Engine
    from assay.engines.spark.handle import SparkHandle


class SparkFrame(Frame):
    """A cached Spark DataFrame of a transform's result, as `SparkEngine.relation` returns
    it: `frame.num_rows`, `frame.schema` and `frame.checksum()` run on Spark."""

    def __init__(self, engine: SparkHandle, df: DataFrame, parent: Frame | None = None):
        # The SparkEngine that made it: an Engine to callers, a SparkHandle to this frame.
        self.engine = cast("Engine", engine)
        self.spark_engine = engine
        self.df = df
        self._cached = False
        #: A cached frame this one is computed from: released with it.
        self._parent = parent
        #: Rows the commit wrote, from its metrics (so they need not be counted).
        self.written_rows: int | None = None
        self._rows: int | None = None

    @cached_property
    def schema(self) -> pa.Schema:
        from pyspark.sql.pandas.types import to_arrow_schema

        arrow = to_arrow_schema(self.df.schema, timestamp_utc=True)
        return pa.schema([f.with_nullable(True) for f in arrow])

    @property
    def num_rows(self) -> int:
        if self.written_rows is not None:
            return self.written_rows
        if self._rows is None:
            self._rows = int(self.spark_engine.guard(self.df.count))
        return self._rows

    def reuse(self) -> None:
        if not self._cached:
            self.df = self.df.persist()
            self._cached = True

    def checksum(self) -> tuple[int, str]:
        from pyspark.sql import functions as F

        if not self.column_names:
            return 0, "0"
        row_hash = F.xxhash64(*[F.col(sqlbuild.quote(c, "spark")) for c in self.column_names])
        totals = self.df.agg(
            F.count(F.lit(1)).alias("rows"),
            F.coalesce(F.sum(row_hash.cast("decimal(38,0)")), F.lit(0)).cast("string").alias("h"),
        )
        row: Any = self.spark_engine.guard(totals.collect)[0]
        return int(row["rows"]), str(row["h"])

    def to_arrow(self) -> pa.Table:
        return self.spark_engine.to_arrow(self.df)

    def release(self) -> None:
        if self._cached:
            self.df.unpersist()
            self._cached = False
        if self._parent is not None:
            self._parent.release()
