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
of the last `size` instead, and emit each event's window once the watermark passes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from assay.engines import Engine
from assay.features.pit import utc
from assay.features.spec import Aggregation
from assay.naming import quote as _q
from assay.streaming.spec import WindowSpec
from assay.streaming.watermarks import PartitionWatermarks

WINDOW_START, WINDOW_END = "window_start", "window_end"
_T, _WS = "__t", "__ws"  # event time and window start, microseconds since the epoch


def _us(delta_seconds: float) -> int:
    return round(delta_seconds * 1_000_000)


def to_datetime(micros: int | None) -> datetime | None:
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
        self.size = _us(spec.window.size.total_seconds())
        self.slide = _us(spec.window.slide.total_seconds())
        self.lateness = _us(spec.allowed_lateness.total_seconds())
        self.sliding = spec.window.kind == "sliding"
        self.partition_column = partition_column
        self.marks = (
            PartitionWatermarks(idle_timeout)
            if clock is None
            else PartitionWatermarks(idle_timeout, clock)
        )
        self.state: pa.Table | None = None  # partials per key and window (or rows, sliding)
        self.distinct: dict[str, pa.Table] = {}  # per count_distinct: keys, window, value

    @property
    def watermark(self) -> int | None:
        """The event-time frontier minus the allowed lateness (micros); None before it
        exists (no row yet, or a partition not read yet)."""
        frontier = self.marks.frontier
        return None if frontier is None else frontier - self.lateness

    def _advance(self, timed: pa.Table) -> None:
        """Fold the batch's latest event time per partition into the marks."""
        if timed.num_rows:
            self.marks.observe(self._newest(timed))

    def _newest(self, timed: pa.Table) -> dict[str, int]:
        """The latest event time per partition of `timed` (all in one without them)."""
        part = self.partition_column
        by = f"CAST({_q(part)} AS VARCHAR)" if part and part in timed.column_names else "''"
        newest = self.engine.query(
            f"SELECT {by} AS p, max({_T}) AS m FROM t GROUP BY 1", {"t": timed}
        )
        return dict(zip(newest["p"].to_pylist(), newest["m"].to_pylist(), strict=True))

    # -- SQL pieces -------------------------------------------------------------------

    @property
    def _keys(self) -> str:
        return ", ".join(_q(k) for k in self.spec.keys)

    def _timed(self, batch: pa.Table) -> pa.Table:
        """The batch with `__t` (event time in micros, UTC); rows without a time dropped."""
        ts = utc(_q(self.timestamp), batch.schema.field(self.timestamp).type)
        return self.engine.query(
            f"SELECT *, epoch_us({ts}) AS {_T} FROM b WHERE {_q(self.timestamp)} IS NOT NULL",
            {"b": batch},
        )

    def _assign_sql(self) -> str:
        """Rows of `timed` paired with each window start that contains them."""
        copies = -(-self.size // self.slide)  # windows per row: ceil(size / slide)
        first = f"({_T} - (({_T} % {self.slide}) + {self.slide}) % {self.slide})"
        return (
            f"SELECT t.*, {first} - k.i * {self.slide} AS {_WS} "
            f"FROM timed t, range({copies}) AS k(i) "
            f"WHERE {first} - k.i * {self.slide} + {self.size} > {_T}"
        )

    def _partials(self, source: str) -> str:
        """Per key and window: row count and each aggregate's mergeable parts."""
        parts = ["count(*) AS __n", f"max({_T}) AS __tmax"]
        for i, agg in enumerate(self.spec.aggregations):
            col = _q(agg.column) if agg.column else "*"
            parts.append(f"count({col}) AS __c{i}")
            if agg.function in ("sum", "mean"):
                parts.append(f"sum({col}) AS __s{i}")
            elif agg.function in ("min", "max"):
                parts.append(f"{agg.function}({col}) AS __m{i}")
        return f"SELECT {self._keys}, {_WS}, {', '.join(parts)} FROM {source} GROUP BY ALL"

    def _merge_sql(self) -> str:
        parts = ["sum(__n)::BIGINT AS __n", "max(__tmax) AS __tmax"]
        for i, agg in enumerate(self.spec.aggregations):
            parts.append(f"sum(__c{i})::BIGINT AS __c{i}")
            if agg.function in ("sum", "mean"):
                parts.append(f"sum(__s{i}) AS __s{i}")
            elif agg.function in ("min", "max"):
                parts.append(f"{agg.function}(__m{i}) AS __m{i}")
        return (
            f"SELECT {self._keys}, {_WS}, {', '.join(parts)} "
            f"FROM (SELECT * FROM state UNION ALL BY NAME SELECT * FROM new) GROUP BY ALL"
        )

    def _final(self, i: int, agg: Aggregation, value_type: pa.DataType | None) -> str:
        if agg.function == "count":
            return f"__c{i}"
        if agg.function == "count_distinct":
            return f"coalesce(d{i}.n, 0)::BIGINT"
        if agg.function == "mean":
            return f"CASE WHEN __c{i} > 0 THEN __s{i} / __c{i} END"
        if agg.function == "sum":
            integral = value_type is not None and pa.types.is_integer(value_type)
            return f"CAST(__s{i} AS {'BIGINT' if integral else 'DOUBLE'})"
        return f"__m{i}"

    # -- the operator -------------------------------------------------------------------

    def process(self, batch: pa.Table) -> WindowOutput:
        """Fold one micro-batch in; return what closed and what came late."""
        if self.sliding:
            return self._process_sliding(batch)
        timed = self._timed(batch)
        assigned = self.engine.query(self._assign_sql(), {"timed": timed})
        closed_before = (
            f"{_WS} + {self.size} <= {self.watermark}" if self.watermark is not None else "false"
        )
        late = self._late_rows(assigned, closed_before)
        on_time = self.engine.query(f"SELECT * FROM a WHERE NOT ({closed_before})", {"a": assigned})
        self._fold(on_time, batch.schema)
        self._advance(timed)
        return WindowOutput(self._emit(batch.schema), late)

    def restore(self, rows: pa.Table, marks: Mapping[str, Any] | None = None) -> None:
        """Rebuild the state from the rows the operator has processed that may be in
        windows still open (the stream table as of the last batch folded in), and the
        partitions' `marks` saved then (without them: each partition's latest time among
        `rows`, so `rows` must then be all of them). Every row in a window still open
        counts (see above)."""
        timed = self._timed(rows)
        self.state, self.distinct = None, {}
        self.marks.restore(marks if marks is not None else self._marks_of(timed))
        watermark = self.watermark
        if self.sliding:
            self._restore_sliding(timed)
            return
        assigned = self.engine.query(self._assign_sql(), {"timed": timed})
        if watermark is not None:
            assigned = self.engine.query(
                f"SELECT * FROM a WHERE {_WS} + {self.size} > {watermark}", {"a": assigned}
            )
        self._fold(assigned, rows.schema)

    def _marks_of(self, timed: pa.Table) -> dict[str, Any]:
        """Marks as if `timed` had been read in one batch: latest time per partition."""
        probe = PartitionWatermarks(None)
        if timed.num_rows:
            probe.observe(self._newest(timed))
        return probe.state()

    def _late_rows(self, assigned: pa.Table, closed: str) -> pa.Table:
        return self.engine.query(
            f"SELECT * EXCLUDE ({_T}, {_WS}), make_timestamp({_WS}) AS {WINDOW_START}, "
            f"make_timestamp({_WS} + {self.size}) AS {WINDOW_END}, "
            f"make_timestamp({self.watermark or 0}) AS watermark FROM a WHERE {closed}",
            {"a": assigned},
        )

    def _fold(self, on_time: pa.Table, schema: pa.Schema) -> None:
        new = self.engine.query(self._partials("o"), {"o": on_time})
        if self.state is None or not self.state.num_rows:
            self.state = new
        elif new.num_rows:
            self.state = self.engine.query(self._merge_sql(), {"state": self.state, "new": new})
        for i, agg in enumerate(self.spec.aggregations):
            if agg.function != "count_distinct":
                continue
            values = self.engine.query(
                f"SELECT DISTINCT {self._keys}, {_WS}, {_q(str(agg.column))} AS v FROM o "
                "WHERE v IS NOT NULL",
                {"o": on_time},
            )
            old = self.distinct.get(f"d{i}")
            self.distinct[f"d{i}"] = (
                values
                if old is None
                else self.engine.query(
                    "SELECT * FROM old UNION SELECT * FROM new", {"old": old, "new": values}
                )
            )

    def _emit(self, schema: pa.Schema) -> pa.Table:
        """Windows the watermark has closed, with final aggregates; dropped from the state."""
        if self.state is None or self.watermark is None:
            return self._empty_output(schema)
        closes = f"{_WS} + {self.size} <= {self.watermark}"
        joins, sources = self._distinct_joins(closes)
        sources["s"] = self.state
        finals = ", ".join(
            f"{self._final(i, a, _type(schema, a.column))} AS {_q(a.name)}"
            for i, a in enumerate(self.spec.aggregations)
        )
        keys = ", ".join(f"s.{_q(k)}" for k in self.spec.keys)
        emitted = self.engine.query(
            f"SELECT {keys}, make_timestamp(s.{_WS}) AS {WINDOW_START}, "
            f"make_timestamp(s.{_WS} + {self.size}) AS {WINDOW_END}, {finals} "
            f"FROM s {' '.join(joins)} WHERE s.{closes} ORDER BY s.{_WS}, {keys}",
            sources,
        )
        self.state = self.engine.query(f"SELECT * FROM s WHERE NOT ({closes})", {"s": self.state})
        self.distinct = {
            name: self.engine.query(f"SELECT * FROM t WHERE NOT ({closes})", {"t": table})
            for name, table in self.distinct.items()
        }
        return emitted

    def current(self, touched: pa.Table, schema: pa.Schema) -> pa.Table:
        """For each key among `touched`'s rows, the aggregates so far of its oldest open
        window (the next to close: the fullest view of the recent past), with `__tmax`,
        its latest event time. Tumbling and hopping windows only."""
        if self.sliding or self.state is None or not self.state.num_rows or not touched.num_rows:
            return self._empty_output(schema)
        keys = ", ".join(f"s.{_q(k)}" for k in self.spec.keys)
        on_touched = " AND ".join(
            f"s.{_q(k)} IS NOT DISTINCT FROM t.{_q(k)}" for k in self.spec.keys
        )
        joins, sources = self._distinct_joins("true")
        sources["s"] = self.state
        sources["t"] = touched.select(list(self.spec.keys))
        finals = ", ".join(
            f"{self._final(i, a, _type(schema, a.column))} AS {_q(a.name)}"
            for i, a in enumerate(self.spec.aggregations)
        )
        return self.engine.query(
            f"SELECT {keys}, make_timestamp(s.{_WS}) AS {WINDOW_START}, "
            f"make_timestamp(s.{_WS} + {self.size}) AS {WINDOW_END}, {finals}, "
            f"make_timestamp(s.__tmax) AS __tmax FROM s {' '.join(joins)} "
            f"WHERE EXISTS (SELECT 1 FROM t WHERE {on_touched}) "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY s.{_WS}) = 1",
            sources,
        )

    def _distinct_joins(self, which: str) -> tuple[list[str], dict[str, pa.Table]]:
        """LEFT JOINs bringing each count_distinct's count per key and window."""
        joins, sources = [], {}
        for name, table in self.distinct.items():
            sources[name] = self.engine.query(
                f"SELECT {self._keys}, {_WS}, count(*) AS n FROM t WHERE {which} GROUP BY ALL",
                {"t": table},
            )
            on = " AND ".join(
                f"s.{_q(k)} IS NOT DISTINCT FROM {name}.{_q(k)}" for k in self.spec.keys
            )
            joins.append(f"LEFT JOIN {name} ON {on} AND s.{_WS} = {name}.{_WS}")
        return joins, sources

    def _empty_output(self, schema: pa.Schema) -> pa.Table:
        fields = [schema.field(k) for k in self.spec.keys]
        fields += [
            pa.field(WINDOW_START, pa.timestamp("us")),
            pa.field(WINDOW_END, pa.timestamp("us")),
        ]
        for agg in self.spec.aggregations:
            fields.append(pa.field(agg.name, _output_type(agg, _type(schema, agg.column))))
        return pa.schema(fields).empty_table()

    # -- sliding windows ----------------------------------------------------------------

    def _process_sliding(self, batch: pa.Table) -> WindowOutput:
        """Each event's window [t - size, t] closes when the watermark reaches t; rows of the
        last `size` before the watermark stay as state for windows still to close."""
        timed = self._timed(batch)
        wm = self.watermark
        is_late = f"{_T} <= {wm}" if wm is not None else "false"
        late = self.engine.query(
            f"SELECT * EXCLUDE ({_T}), make_timestamp({_T} - {self.size}) AS {WINDOW_START}, "
            f"make_timestamp({_T}) AS {WINDOW_END}, make_timestamp({wm or 0}) AS watermark "
            f"FROM t WHERE {is_late}",
            {"t": timed},
        )
        # Late rows get no window of their own, but still count in open windows after them.
        flagged = self.engine.query(f"SELECT *, {is_late} AS __late FROM t", {"t": timed})
        self.state = (
            flagged
            if self.state is None
            else pa.concat_tables([self.state, flagged], promote_options="permissive")
        )
        self._advance(timed)
        return WindowOutput(self._emit_sliding(batch.schema, wm), late)

    def _emit_sliding(self, schema: pa.Schema, before: int | None) -> pa.Table:
        if self.state is None or self.watermark is None:
            return self._empty_output(schema)
        after = f"e.{_T} > {before}" if before is not None else "true"
        on = " AND ".join(f"r.{_q(k)} IS NOT DISTINCT FROM e.{_q(k)}" for k in self.spec.keys)
        finals = []
        for agg in self.spec.aggregations:
            col = f"r.{_q(agg.column)}" if agg.column else "r.__t"
            fn = {"mean": "avg", "count_distinct": "count"}.get(agg.function, agg.function)
            distinct = "DISTINCT " if agg.function == "count_distinct" else ""
            value = f"{fn}({distinct}{col})"
            if agg.function == "sum":
                integral = pa.types.is_integer(_type(schema, agg.column) or pa.float64())
                value = f"CAST({value} AS {'BIGINT' if integral else 'DOUBLE'})"
            finals.append(f"{value} AS {_q(agg.name)}")
        keys = ", ".join(f"e.{_q(k)}" for k in self.spec.keys)
        # One window per closing event (events at the same key and time share one).
        emitted = self.engine.query(
            f"SELECT {keys}, make_timestamp(e.{_T} - {self.size}) AS {WINDOW_START}, "
            f"make_timestamp(e.{_T}) AS {WINDOW_END}, {', '.join(finals)} "
            f"FROM (SELECT DISTINCT {self._keys}, {_T} FROM s WHERE NOT __late) e "
            f"JOIN s r ON {on} AND r.{_T} BETWEEN e.{_T} - {self.size} AND e.{_T} "
            f"WHERE {after} AND e.{_T} <= {self.watermark} "
            f"GROUP BY ALL ORDER BY {WINDOW_END}, {keys}",
            {"s": self.state},
        )
        # Rows older than any window still to close are no longer needed.
        self.state = self.engine.query(
            f"SELECT * FROM s WHERE {_T} >= {self.watermark} - {self.size}", {"s": self.state}
        )
        return emitted

    def _restore_sliding(self, timed: pa.Table) -> None:
        wm = self.watermark
        keep = f"{_T} >= {wm} - {self.size}" if wm is not None else "true"
        # Rows at or before the watermark already had their windows emitted; they only
        # count in later windows now, as late rows would.
        late = f"{_T} <= {wm}" if wm is not None else "false"
        self.state = self.engine.query(
            f"SELECT *, {late} AS __late FROM t WHERE {keep}", {"t": timed}
        )


def _type(schema: pa.Schema, column: str | None) -> pa.DataType | None:
    if column is None or column not in schema.names:
        return None
    return schema.field(column).type


def _output_type(agg: Aggregation, value_type: pa.DataType | None) -> pa.DataType:
    if agg.function in ("count", "count_distinct"):
        return pa.int64()
    if agg.function == "mean":
        return pa.float64()
    if agg.function == "sum":
        return (
            pa.int64()
            if value_type is not None and pa.types.is_integer(value_type)
            else pa.float64()
        )
    return value_type or pa.float64()
