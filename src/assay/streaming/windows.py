"""The event-time window operator: keyed partial aggregates per open window, a watermark,
windows emitted when they close, late rows set aside.

Each micro-batch is processed in four SQL steps on Arrow tables (no Python per row):
assign rows to windows; split off rows whose window had closed before the batch (late);
fold the rest into the state as partial aggregates; advance the watermark and emit, then
drop, the windows it closed. State is only the open windows, so memory stays bounded on an
unbounded stream.

The watermark is the stream's event-time frontier (the minimum over source partitions of
the latest event time read from each, see watermarks.py) minus the allowed lateness, so a
partition read behind the others does not make its on-time events late.

Recovery needs no checkpoint of its own beyond the partitions' marks (saved with every
window commit): a window still open holds exactly the rows of the stream's table that
fall in it (a row is only ever late for a window that has closed, and closed windows
never reopen), so `restore` rebuilds the state from the table.

Sliding windows (Kafka Streams' kind: one window [t - size, t] per event) keep the rows
of the last `size` instead, and emit each event's window once the watermark passes it
(see sliding.py). The SQL of every step is in window_sql.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from assay.engines import Engine
from assay.streaming.sliding import SlidingWindows
from assay.streaming.spec import WindowSpec
from assay.streaming.watermarks import PartitionWatermarks
from assay.streaming.window_sql import WINDOW_END, WINDOW_START, WindowQueries, to_micros

__all__ = ["WINDOW_END", "WINDOW_START", "WindowOperator", "WindowOutput", "to_datetime"]


def to_datetime(micros: int | None) -> datetime | None:
    """Microseconds since the epoch as a naive UTC datetime (None stays None)."""
    if micros is None:
        return None
    return datetime.fromtimestamp(micros / 1e6, tz=UTC).replace(tzinfo=None)


@dataclass
class WindowOutput:
    """One batch's results: windows that closed, and (row, window) pairs that came late."""

    emitted: pa.Table
    late: pa.Table


class WindowOperator:
    """Runs one WindowSpec over micro-batches of a stream whose event time is `timestamp`.

    With `partition_column`, each source partition keeps its own mark and the watermark
    follows the slowest partition that is not idle (`idle_timeout` seconds without an
    event); without it, the batches are one sequence.

    Example:
        >>> import assay
        >>> from assay.engines import get_engine
        >>> from assay.tables import Warehouse
        >>> from assay.streaming.spec import window, tumbling
        >>> spec = window("silver.w", keys=["k"], window=tumbling("1m"),
        ...               aggregations=[assay.Aggregation(function="count")])
        >>> op = WindowOperator(get_engine("duckdb", Warehouse("/tmp/w")), spec, "ts")
        >>> at = lambda s: datetime(2026, 1, 1, 0, 0, s)
        >>> op.process(pa.table({"k": [1, 1], "ts": [at(1), at(2)]})).emitted.num_rows
        0
        >>> out = op.process(pa.table({"k": [1], "ts": [datetime(2026, 1, 1, 0, 1, 5)]}))
        >>> out.emitted.select(["k", "window_start", "count"]).to_pylist()
        [{'k': 1, 'window_start': datetime.datetime(2026, 1, 1, 0, 0), 'count': 2}]
    """

    def __init__(
        self,
        engine: Engine,
        spec: WindowSpec,
        timestamp: str,
        partition_column: str | None = None,
        idle_timeout: float | None = None,
        clock: Callable[[], float] | None = None,
    ):
        self.engine = engine
        self.spec = spec
        self.timestamp = timestamp
        self.queries = WindowQueries(engine, spec, timestamp)
        self.lateness = to_micros(spec.allowed_lateness.total_seconds())
        self.sliding = spec.window.kind == "sliding"
        self.partition_column = partition_column
        self.marks = (
            PartitionWatermarks(idle_timeout)
            if clock is None
            else PartitionWatermarks(idle_timeout, clock)
        )
        self.state: pa.Table | None = None  # partials per key and window (not sliding)
        self.distinct: dict[str, pa.Table] = {}  # per count_distinct: keys, window, value
        self.sliding_windows = SlidingWindows(self.queries)  # its rows, when sliding

    @property
    def watermark(self) -> int | None:
        """The event-time frontier minus the allowed lateness (micros); None before it
        exists (no row yet, or a partition not read yet)."""
        frontier = self.marks.frontier
        return None if frontier is None else frontier - self.lateness

    def _advance(self, timed: pa.Table) -> None:
        """Fold the batch's latest event time per partition into the marks."""
        if timed.num_rows:
            self.marks.observe(self.queries.newest(timed, self.partition_column))

    def process(self, batch: pa.Table) -> WindowOutput:
        """Fold one micro-batch in; return what closed and what came late."""
        queries = self.queries
        timed = queries.timed(batch)
        watermark = self.watermark  # the one before this batch decides what is late
        if self.sliding:
            late = self.sliding_windows.fold(timed, watermark)
            self._advance(timed)
            emitted = self.sliding_windows.emit(batch.schema, watermark, self.watermark)
            return WindowOutput(emitted, late)
        assigned = queries.assign(timed)
        closed_before = queries.closes(watermark)
        late = queries.late_rows(assigned, closed_before, watermark)
        self._fold(queries.without(assigned, closed_before))
        self._advance(timed)
        return WindowOutput(self._emit(batch.schema), late)

    def restore(self, rows: pa.Table, marks: Mapping[str, Any] | None = None) -> None:
        """Rebuild the state from the rows the operator has processed that may be in
        windows still open (the stream table as of the last batch folded in), and the
        partitions' `marks` saved then (without them: each partition's latest time among
        `rows`, so `rows` must then be all of them). Every row in a window still open
        counts (see above)."""
        timed = self.queries.timed(rows)
        self.state, self.distinct = None, {}
        self.marks.restore(marks if marks is not None else self._marks_of(timed))
        watermark = self.watermark
        if self.sliding:
            self.sliding_windows.restore(timed, watermark)
            return
        assigned = self.queries.assign(timed)
        if watermark is not None:
            assigned = self.queries.without(assigned, self.queries.closes(watermark))
        self._fold(assigned)

    def _marks_of(self, timed: pa.Table) -> dict[str, Any]:
        """Marks as if `timed` had been read in one batch: latest time per partition."""
        probe = PartitionWatermarks(None)
        if timed.num_rows:
            probe.observe(self.queries.newest(timed, self.partition_column))
        return probe.state()

    def _fold(self, on_time: pa.Table) -> None:
        """Fold the rows of `on_time` (in windows still open) into the state."""
        new = self.queries.partials(on_time)
        if self.state is None or not self.state.num_rows:
            self.state = new
        elif new.num_rows:
            self.state = self.queries.merge(self.state, new)
        for i, agg in enumerate(self.spec.aggregations):
            if agg.function != "count_distinct":
                continue
            values = self.queries.distinct_values(on_time, i, str(agg.column))
            old = self.distinct.get(f"d{i}")
            self.distinct[f"d{i}"] = values if old is None else self.queries.union(old, values)

    def _emit(self, schema: pa.Schema) -> pa.Table:
        """Windows the watermark has closed, with final aggregates; dropped from the state."""
        if self.state is None or self.watermark is None:
            return self.queries.empty_output(schema)
        closes = self.queries.closes(self.watermark)
        emitted = self.queries.closed_windows(self.state, self.distinct, closes, schema)
        self.state = self.queries.without(self.state, closes)
        self.distinct = {
            name: self.queries.without(table, closes) for name, table in self.distinct.items()
        }
        return emitted

    def current(self, touched: pa.Table, schema: pa.Schema) -> pa.Table:
        """For each key among `touched`'s rows, the aggregates so far of its oldest open
        window (the next to close: the fullest view of the recent past), with `__tmax`,
        its latest event time. Tumbling and hopping windows only."""
        if self.sliding or self.state is None or not self.state.num_rows or not touched.num_rows:
            return self.queries.empty_output(schema)
        return self.queries.oldest_windows(self.state, self.distinct, touched, schema)
