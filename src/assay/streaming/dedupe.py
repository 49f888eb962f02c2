"""Dropping producer re-sends: a stream's record whose key is already stored with an event
time at most `dedupe_within` away from its own (Spark's dropDuplicatesWithinWatermark).

The state is the stream's table itself: each batch looks up its keys among the stored
rows whose event time is within `dedupe_within` of the batch's, reading only the files
whose statistics can hold such times, in the snapshot the batch commits against. So a
restart or a crash loses nothing, a replayed batch decides the same way, and how the
records were batched does not change what is kept. Within a batch, records are taken in
arrival order: a record is dropped when its key was kept earlier in the batch within the
duration.

What is dropped is counted per source partition, in an app transaction of the stream's
table (`dedupe:` + the partition's app id, version = its running total) committed with the
batch: fenced like the partition's offset, so the count is exact under a consumer group
and survives restarts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from sqlglot import exp

from assay import sqlbuild as sb
from assay.streaming.readers import PARTITION

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from assay.engines import Engine

#: Prefix of the app transactions counting dropped duplicates per source partition.
COUNTER = "dedupe:"
ROW = "__dedupe_row"


def counter_id(app_id: str) -> str:
    """The app transaction counting a partition's dropped duplicates."""
    return COUNTER + app_id


class Deduplicator:
    """Splits a batch's good rows into rows to keep and duplicates to drop.

    Example: ``kept, dropped = Deduplicator(("event_id",), "event_time", within,
    engine).split(rows, snapshot)``
    """

    def __init__(
        self, keys: Sequence[str], timestamp: str, within: timedelta, engine: Engine
    ) -> None:
        self.keys = tuple(keys)
        self.timestamp = timestamp
        self.within_us = round(within.total_seconds() * 1e6)
        self.within = within
        self.engine = engine

    def split(self, rows: pa.Table, snapshot: DeltaTable | None) -> tuple[pa.Table, pa.Table]:
        """(rows kept, duplicates dropped), each in the batch's order."""
        if not rows.num_rows:
            return rows, rows
        numbered = rows.append_column(ROW, pa.array(np.arange(rows.num_rows), pa.int64()))
        stored = self._stored(numbered, snapshot)
        dropped = np.zeros(rows.num_rows, dtype=bool)
        if stored is not None and stored.num_rows:
            dropped[self._matching_stored(numbered, stored)] = True
        self._within_batch(numbered, dropped)
        if not dropped.any():
            return rows, rows.schema.empty_table()
        mask = pa.array(dropped)
        return rows.filter(pc.invert(mask)), rows.filter(mask)

    def _stored(self, rows: pa.Table, snapshot: DeltaTable | None) -> pa.Table | None:
        """Stored rows (keys, event time) that can match a row of the batch."""
        if snapshot is None:
            return None
        schema = pa.schema(snapshot.schema().to_arrow())
        needed = [*self.keys, self.timestamp]
        if any(c not in schema.names for c in needed) or any(
            c not in rows.column_names for c in needed
        ):
            return None
        times = _micros(rows[self.timestamp])
        low, high = pc.min(times).as_py(), pc.max(times).as_py()
        if low is None:
            return None
        bounds = (low - self.within_us, high + self.within_us)
        # Only files whose min/max event time can fall in the range are opened.
        start, end = (pa.scalar(b, pa.timestamp("us")).as_py() for b in bounds)
        dataset = snapshot.to_pyarrow_dataset(
            file_pruning_predicate=[(self.timestamp, ">=", start), (self.timestamp, "<=", end)]
        )
        ts_field = pads.field(self.timestamp)
        ts_type = schema.field(self.timestamp).type
        where = (ts_field >= pa.scalar(start, ts_type)) & (ts_field <= pa.scalar(end, ts_type))
        first = self.keys[0]
        if not pc.any(pc.is_null(rows[first])).as_py():  # a null key matches null: no filter
            values = pc.unique(rows[first]).cast(schema.field(first).type)
            where = where & pads.field(first).isin(values)
        return dataset.to_table(columns=needed, filter=where)

    def _matching_stored(self, rows: pa.Table, stored: pa.Table) -> np.ndarray:
        """Numbers of the batch's rows whose key is stored within the duration."""
        on = exp.and_(
            *(
                exp.NullSafeEQ(this=sb.column(k, "b"), expression=sb.column(k, "s"))
                for k in self.keys
            ),
            copy=False,
        )
        query = sb.template(
            "SELECT DISTINCT b.__dedupe_row FROM batch AS b JOIN stored AS s ON $on "
            "WHERE abs(epoch_us($batch_ts) - epoch_us($stored_ts)) <= $within",
            on=on,
            batch_ts=sb.column(self.timestamp, "b"),
            stored_ts=sb.column(self.timestamp, "s"),
            within=sb.literal(self.within_us),
        )
        sql = sb.render(query, "duckdb", copy=False)
        batch = rows.select([*self.keys, self.timestamp, ROW])
        found = self.engine.query(sql, {"batch": batch, "stored": stored})
        return np.asarray(found[ROW].to_numpy(), dtype=np.int64)

    def _within_batch(self, rows: pa.Table, dropped: np.ndarray) -> None:
        """Mark rows whose key was kept earlier in the batch within the duration."""
        keys = list(zip(*(rows[k].to_pylist() for k in self.keys), strict=True))
        counts = Counter(k for k, gone in zip(keys, dropped, strict=True) if not gone)
        repeated = {k for k, n in counts.items() if n > 1}
        if not repeated:
            return
        times = _micros(rows[self.timestamp]).to_pylist()
        kept: dict[tuple[Any, ...], list[int]] = {}
        for i, key in enumerate(keys):
            if dropped[i] or key not in repeated:
                continue
            earlier = kept.setdefault(key, [])
            t = times[i]
            if any(abs(t - e) <= self.within_us for e in earlier):
                dropped[i] = True
            else:
                earlier.append(t)


def per_partition(dropped: pa.Table) -> dict[str, int]:
    """Dropped duplicates per source partition."""
    if not dropped.num_rows:
        return {}
    return dict(Counter(dropped[PARTITION].to_pylist()))


def _micros(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Event times as int64 microseconds (any unit)."""
    return pc.cast(pc.cast(column, pa.timestamp("us")), pa.int64())
