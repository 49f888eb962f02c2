"""Materialization: the latest row per entity (within TTL) from a view's source table into
the online store, incrementally: only files the source added since the last run are read,
unless it removed some (then the whole table, still idempotent). A store that no longer
holds a view it was given (its file or table deleted or emptied, Redis flushed) is rebuilt:
every latest value is written again, not only what changed since the last run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.dataset as pads
from sqlglot import exp

from assay import sqlbuild as sb
from assay.catalog import Catalog
from assay.engines import Engine, Source, TableRef
from assay.features import windows
from assay.features.online import EVENT_TS, OnlineStore, to_micros
from assay.features.pit import sort_key, utc
from assay.features.registry import (
    last_materialization,
    materialized_rows,
    record_materialization,
)
from assay.features.spec import FeatureView
from assay.tables import Warehouse

BATCH_ROWS = 100_000

logger = logging.getLogger("assay.features")


@dataclass(frozen=True)
class Materialized:
    view: str
    rows: int
    incremental: bool
    source_version: int
    #: The store had lost the view (deleted, emptied, flushed) and was written afresh.
    rebuilt: bool = False


def changed_files(warehouse: Warehouse, table: str, since: int) -> list[str] | None:
    """URIs of data files added after version `since`; None when files were also removed."""
    before = set(warehouse.file_actions(table, since)["path"].to_pylist())
    now = set(warehouse.file_actions(table)["path"].to_pylist())
    if before - now:
        return None
    root = warehouse.uri(table)
    return [f"{root}/{path}" for path in sorted(now - before)]


def materialize_view(
    engine: Engine,
    warehouse: Warehouse,
    catalog: Catalog,
    store: OnlineStore,
    view: FeatureView,
    end: datetime,
    start: datetime | None = None,
) -> Materialized:
    """Write the view's latest values as of `end` to `store`."""
    version = warehouse.version(view.source) or 0
    last = last_materialization(catalog, view)
    # A view whose every run found nothing to write is not expected to be in the store.
    rebuilt = last is not None and materialized_rows(catalog, view) > 0 and not store.holds(view)
    if rebuilt:
        # What changed since the last run is not enough: everything it wrote is gone.
        logger.warning(
            "the online store holds nothing for feature view %s, materialized before "
            "(deleted, emptied or flushed): writing every entity's latest values again",
            view.name,
        )
        last = None
    if view.aggregations:
        # Windows slide with `end`, so every entity with rows in the longest window is
        # recomputed, reading only that window of the source.
        kind = warehouse.schema(view.source).field(view.timestamp).type
        ts_expr = utc(sb.column(view.timestamp), kind)
        sql = windows.latest_sql(view, exp.to_identifier("src"), ts_expr, end, start)
        latest = engine.query(sql, {"src": TableRef(view.source, version)})
        return _write(catalog, store, view, latest, version, end, False, rebuilt)
    ts = sb.column(view.timestamp)
    sources: dict[str, Source] = {"src": TableRef(view.source, version)}
    rows = sb.template("SELECT * FROM src")
    incremental = False
    if last is not None and start is None and last[1] <= end:
        files = changed_files(warehouse, view.source, last[0])
        if files is not None:
            schema = warehouse.schema(view.source)
            new: Source = (
                pads.dataset(files, format="parquet", schema=schema)
                if files
                else schema.empty_table()
            )
            # New files in full, plus rows of old files that the later `end` now reaches.
            sources["new"] = new
            rows = sb.template(
                "SELECT * FROM new UNION ALL BY NAME SELECT * FROM src WHERE $ts > $last",
                ts=ts,
                last=_timestamp(last[1]),
            )
            incremental = True
    where: list[exp.Expr] = [ts <= _timestamp(end)]
    if start is not None:
        where.append(ts.copy() >= _timestamp(start))
    if view.ttl_delta:
        where.append(ts.copy() >= _timestamp(end - view.ttl_delta))
    created = sb.column(view.created_timestamp) if view.created_timestamp else None
    # The latest row per entity (ties: the latest created) by one hash aggregate: arg_max
    # over the ASOF sort key, not a window function sorting every row.
    packed = sb.struct([*((f, sb.column(f)) for f in view.features), ("__ts", ts)])
    query = sb.template(
        "SELECT $keys, latest.* FROM (SELECT $keys, arg_max($packed, $key) AS latest "
        "FROM ($rows) AS changed WHERE $where GROUP BY ALL) "
        # In key order: SQLite upserts into its key index 3x faster than in hash order.
        "ORDER BY $keys",
        keys=sb.columns(view.join_keys),
        packed=packed,
        key=sort_key(ts, created),
        rows=rows,
        where=exp.and_(*where, copy=False),
    )
    sql = sb.render(query, "duckdb", copy=False)
    latest = engine.query(sql, sources)
    return _write(catalog, store, view, latest, version, end, incremental, rebuilt)


def _write(
    catalog: Catalog,
    store: OnlineStore,
    view: FeatureView,
    latest: pa.Table,
    version: int,
    end: datetime,
    incremental: bool,
    rebuilt: bool = False,
) -> Materialized:
    """Stream `latest` (keys, features, `__ts`) into the store in Arrow batches."""
    written = 0
    for start_row in range(0, latest.num_rows, BATCH_ROWS):
        batch = latest.slice(start_row, BATCH_ROWS)
        batch = batch.append_column(EVENT_TS, to_micros(batch["__ts"])).drop_columns(["__ts"])
        written += store.write(view, batch)
    record_materialization(catalog, view, version, end, written)
    return Materialized(view.name, written, incremental, version, rebuilt)


def _timestamp(moment: datetime) -> exp.Expr:
    """`TIMESTAMP '...'` as the moment is written (naive, or with its offset)."""
    return exp.cast(exp.Literal.string(str(moment)), exp.DataType.Type.TIMESTAMP)
