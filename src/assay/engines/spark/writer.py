"""Commits of Spark Frames with Spark's Delta Lake writer: the same operations and commit
metadata as assay's delta-rs writer (`Warehouse.write` / `merge`), so a table's history and
the catalog read alike whichever engine wrote a version.

assay's metadata rides in the commit's `userMetadata` (Spark's way to annotate a commit),
as `{"assay": {...}}`; `Warehouse.history` decodes it like delta-rs's custom metadata.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import sqlbuild
from assay.errors import AssayError, TransientError
from assay.sqlbuild import changed_row, keys_match
from assay.tables import Warehouse, WriteMode
from assay.tables.delta import encode_metadata
from assay.tables.predicates import Predicate, render

if TYPE_CHECKING:
    from assay.engines.spark.frame import SparkFrame
    from assay.engines.spark.handle import SparkHandle

_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
#: The session setting that carries a commit's metadata is shared by every thread.
_commit_lock = threading.Lock()


class SparkTableWriter:
    """`write` and `merge` of Warehouse's signature, for SparkFrames."""

    def __init__(self, engine: SparkHandle, warehouse: Warehouse):
        self.engine = engine
        self.warehouse = warehouse

    def write(
        self,
        name: str,
        data: SparkFrame,
        *,
        mode: WriteMode,
        metadata: Mapping[str, Any],
        predicate: Predicate | None = None,
        partition_by: Sequence[str] = (),
        evolve_schema: bool = True,
    ) -> int:
        """One commit: append, overwrite the table, or replace the rows matching
        `predicate` (Delta's replaceWhere: an interval replaced exactly)."""
        df = data.df
        if self.warehouse.exists(name) and not (mode is WriteMode.OVERWRITE and predicate is None):
            df = _as_types(df, table_types(self.engine, self.warehouse.uri(name)))
        writer = df.write.format("delta").mode(mode.value)
        if mode is WriteMode.OVERWRITE and predicate is None:
            writer = writer.option("overwriteSchema", "true")  # a full refresh
        elif evolve_schema:
            writer = writer.option("mergeSchema", "true")
        if predicate is not None:
            writer = writer.option("replaceWhere", render(predicate, "spark"))
        if partition_by and not self.warehouse.exists(name):
            writer = writer.partitionBy(*partition_by)
        first = not self.warehouse.exists(name)
        before = None if first else self.warehouse.version(name)
        with self._commit(name, metadata):
            try:
                self.engine.guard(lambda: writer.save(self.warehouse.uri(name)))
            except AssayError:
                if first:
                    _discard_empty_log(self.warehouse.uri(name))
                raise
        after = int(self.warehouse.table(name).version())
        if after == before:
            # Delta commits nothing for an empty batch that replaces no rows: the last
            # commit's metrics are an earlier batch's, not this one's.
            data.written_rows = 0
            return after
        # A replaceWhere rewrites files it only partly replaces: their other rows are
        # copied, and counted in numOutputRows.
        output, copied = _metrics(self.warehouse, name, "numOutputRows", "numCopiedRows")
        data.written_rows = None if output is None else output - (copied or 0)
        return after

    def merge(
        self, name: str, data: SparkFrame, *, keys: Sequence[str], metadata: Mapping[str, Any]
    ) -> int | None:
        """Upsert on `keys` (changed rows update, new rows insert, new columns are added);
        None when no row changed."""
        from delta.tables import DeltaTable

        if not self.warehouse.exists(name):
            return self.write(name, data, mode=WriteMode.OVERWRITE, metadata=metadata)
        before = self.warehouse.table(name).version()
        types = table_types(self.engine, self.warehouse.uri(name))
        on = render(keys_match(keys), "spark")
        changed = render(changed_row(data.column_names, keys, set(types)), "spark")
        target = DeltaTable.forPath(self.engine.spark, self.warehouse.uri(name))
        merge = (
            target.alias("t")
            .merge(_as_types(data.df, types).alias("s"), on)
            .withSchemaEvolution()
            .whenMatchedUpdateAll(condition=changed)
            .whenNotMatchedInsertAll()
        )
        with self._commit(name, metadata):
            self.engine.guard(merge.execute)
        after = self.warehouse.table(name).version()
        if after == before:
            return None
        source, *touched = _metrics(
            self.warehouse,
            name,
            "numSourceRows",
            "numTargetRowsInserted",
            "numTargetRowsUpdated",
            "numTargetRowsDeleted",
        )
        data.written_rows = source
        return int(after) if any(touched) else None

    @contextmanager
    def _commit(self, name: str, metadata: Mapping[str, Any]) -> Iterator[None]:
        conf = self.engine.spark.conf
        with _commit_lock:
            conf.set(_USER_METADATA, json.dumps({"assay": encode_metadata(metadata)}))
            try:
                yield
            except AssayError as exc:
                # Delta's optimistic concurrency: another writer committed first; retried.
                if "Concurrent" in exc.message:
                    raise TransientError(f"concurrent commit conflict: {exc}", where=name) from exc
                raise
            finally:
                conf.unset(_USER_METADATA)


def _discard_empty_log(uri: str) -> None:
    """A failed first write can leave a `_delta_log` folder without a commit, which makes
    the table unreadable by every later command: remove it (local tables)."""
    if "://" in uri and not uri.startswith("file://"):
        return
    log = Path(uri.removeprefix("file://")) / "_delta_log"
    if log.is_dir() and not any(log.glob("*.json")):
        shutil.rmtree(log, ignore_errors=True)


def table_types(engine: SparkHandle, uri: str) -> dict[str, Any]:
    """Column name -> Spark type of the Delta table at `uri`."""
    from delta.tables import DeltaTable

    schema = DeltaTable.forPath(engine.spark, uri).toDF().schema
    return {f.name: f.dataType for f in schema.fields}


def _metrics(warehouse: Warehouse, name: str, *keys: str) -> list[int | None]:
    """Metrics of the table's last commit (Spark records them as text)."""
    metrics = warehouse.table(name).history(1)[0].get("operationMetrics") or {}
    return [None if metrics.get(k) is None else int(metrics[k]) for k in keys]


def _as_types(df: Any, types: dict[str, Any]) -> Any:
    """`df` with the table's own types for the columns they share: a table built on
    DuckDB keeps its types when Spark writes to it (DuckDB sums BIGINTs into
    DECIMAL(38, 0), Spark into BIGINT, and Delta refuses to merge the two)."""
    from pyspark.sql import functions as F

    casts = [
        F.col(sqlbuild.quote(c, "spark")).cast(types[c]).alias(c)
        if c in types and types[c] != df.schema[c].dataType
        else F.col(sqlbuild.quote(c, "spark"))
        for c in df.columns
    ]
    return df.select(*casts)
