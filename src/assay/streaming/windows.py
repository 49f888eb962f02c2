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

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from sqlglot import exp

from assay import sqlbuild as sb
from assay.engines import Engine
from assay.features.spec import Aggregation
from assay.streaming.spec import WindowSpec
from assay.streaming.watermarks import PartitionWatermarks

WINDOW_START, WINDOW_END = "window_start", "window_end"
# The operator's own columns: `__t` (event time) and `__ws` (window start), both in
# microseconds since the epoch.


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
        self._built: dict[Hashable, str] = {}  # SQL that is the same for every batch

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
        split = bool(part) and part in timed.column_names
        by = sb.cast(sb.column(str(part)), "VARCHAR") if split else sb.string("")
        sql = "SELECT $by AS p, max(__t) AS m FROM t GROUP BY 1"
        newest = self._run(sql, {"t": timed}, ("newest", split), by=by)
        return dict(zip(newest["p"].to_pylist(), newest["m"].to_pylist(), strict=True))

    # -- SQL pieces -------------------------------------------------------------------

    def _run(
        self,
        sql: str,
        sources: Mapping[str, pa.Table],
        once: Hashable | None = None,
        **parts: sb.Part,
    ) -> pa.Table:
        """Run the constant SQL `sql` with its `$name` parts (see `sqlbuild.template`).

        A query whose parts do not change between batches names itself by `once`: it is
        built the first time only (building costs more than running it on a small batch).
        """
        text = self._built.get(once) if once is not None else None
        if text is None:
            text = sb.render(sb.template(sql, **parts), "duckdb", copy=False)
            if once is not None:
                self._built[once] = text
        return self.engine.query(text, sources)

    def _keys(self, table: str | None = None) -> list[exp.Expr]:
        return sb.columns(self.spec.keys, table)

    def _timed(self, batch: pa.Table) -> pa.Table:
        """The batch with `__t` (event time in micros, UTC); rows without a time dropped."""
        time = sb.column(self.timestamp)
        return self._run(
            "SELECT *, epoch_us($ts) AS __t FROM b WHERE $time IS NOT NULL",
            {"b": batch},
            ("timed", str(batch.schema.field(self.timestamp).type)),
            ts=sb.utc_timestamp(time, batch.schema.field(self.timestamp).type),
            time=time,
        )

    def _assign(self, timed: pa.Table) -> pa.Table:
        """Rows of `timed` paired with each window start that contains them."""
        copies = -(-self.size // self.slide)  # windows per row: ceil(size / slide)
        first = sb.template("(__t - ((__t % $slide) + $slide) % $slide)", slide=_n(self.slide))
        return self._run(
            "SELECT t.*, $first - k.i * $slide AS __ws FROM timed t, range($copies) AS k(i) "
            "WHERE $first - k.i * $slide + $size > __t",
            {"timed": timed},
            "assign",
            first=first,
            slide=_n(self.slide),
            copies=_n(copies),
            size=_n(self.size),
        )

    def _closes(self, watermark: int | None) -> exp.Expr:
        """Windows (`__ws` of a row) that `watermark` has closed: none without one."""
        if watermark is None:
            return exp.false()
        return sb.template("__ws + $size <= $wm", size=_n(self.size), wm=_n(watermark))

    def _partials(self, on_time: pa.Table) -> pa.Table:
        """Per key and window: row count and each aggregate's mergeable parts."""
        return self._run(
            "SELECT $keys, __ws, $parts FROM o GROUP BY ALL",
            {"o": on_time},
            "partials",
            keys=self._keys(),
            parts=_partial_parts(self.spec.aggregations),
        )

    def _merge(self, state: pa.Table, new: pa.Table) -> pa.Table:
        return self._run(
            "SELECT $keys, __ws, $parts "
            "FROM (SELECT * FROM state UNION ALL BY NAME SELECT * FROM new) GROUP BY ALL",
            {"state": state, "new": new},
            "merge",
            keys=self._keys(),
            parts=_merged_parts(self.spec.aggregations),
        )

    # -- the operator -------------------------------------------------------------------

    def process(self, batch: pa.Table) -> WindowOutput:
        """Fold one micro-batch in; return what closed and what came late."""
        if self.sliding:
            return self._process_sliding(batch)
        timed = self._timed(batch)
        assigned = self._assign(timed)
        closed_before = self._closes(self.watermark)
        late = self._late_rows(assigned, closed_before)
        on_time = self._run(
            "SELECT * FROM a WHERE NOT ($closed)", {"a": assigned}, closed=closed_before
        )
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
        assigned = self._assign(timed)
        if watermark is not None:
            assigned = self._run(
                "SELECT * FROM a WHERE NOT ($closed)",
                {"a": assigned},
                closed=self._closes(watermark),
            )
        self._fold(assigned, rows.schema)

    def _marks_of(self, timed: pa.Table) -> dict[str, Any]:
        """Marks as if `timed` had been read in one batch: latest time per partition."""
        probe = PartitionWatermarks(None)
        if timed.num_rows:
            probe.observe(self._newest(timed))
        return probe.state()

    def _late_rows(self, assigned: pa.Table, closed: exp.Expr) -> pa.Table:
        return self._run(
            "SELECT * EXCLUDE (__t, __ws), make_timestamp(__ws) AS window_start, "
            "make_timestamp(__ws + $size) AS window_end, "
            "make_timestamp($wm) AS watermark FROM a WHERE $closed",
            {"a": assigned},
            size=_n(self.size),
            wm=_n(self.watermark or 0),
            closed=closed,
        )

    def _fold(self, on_time: pa.Table, schema: pa.Schema) -> None:
        new = self._partials(on_time)
        if self.state is None or not self.state.num_rows:
            self.state = new
        elif new.num_rows:
            self.state = self._merge(self.state, new)
        for i, agg in enumerate(self.spec.aggregations):
            if agg.function != "count_distinct":
                continue
            values = self._run(
                "SELECT DISTINCT $keys, __ws, $value AS v FROM o WHERE v IS NOT NULL",
                {"o": on_time},
                ("distinct", i),
                keys=self._keys(),
                value=sb.column(str(agg.column)),
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
        closes = self._closes(self.watermark)
        joins, sources = self._distinct_joins(closes)
        sources["s"] = self.state
        query = sb.template(
            "SELECT $keys, make_timestamp(s.__ws) AS window_start, "
            "make_timestamp(s.__ws + $size) AS window_end, $finals "
            "FROM s WHERE $closes ORDER BY s.__ws, $keys",
            keys=self._keys("s"),
            size=_n(self.size),
            finals=_finals(self.spec.aggregations, schema),
            closes=_qualified(closes, "s"),
        )
        query.set("joins", joins)
        emitted = self.engine.query(sb.render(query, "duckdb", copy=False), sources)
        self.state = self._run(
            "SELECT * FROM s WHERE NOT ($closes)", {"s": self.state}, closes=closes
        )
        self.distinct = {
            name: self._run("SELECT * FROM t WHERE NOT ($closes)", {"t": table}, closes=closes)
            for name, table in self.distinct.items()
        }
        return emitted

    def current(self, touched: pa.Table, schema: pa.Schema) -> pa.Table:
        """For each key among `touched`'s rows, the aggregates so far of its oldest open
        window (the next to close: the fullest view of the recent past), with `__tmax`,
        its latest event time. Tumbling and hopping windows only."""
        if self.sliding or self.state is None or not self.state.num_rows or not touched.num_rows:
            return self._empty_output(schema)
        joins, sources = self._distinct_joins(exp.true())
        sources["s"] = self.state
        sources["t"] = touched.select(list(self.spec.keys))
        query = sb.template(
            "SELECT $keys, make_timestamp(s.__ws) AS window_start, "
            "make_timestamp(s.__ws + $size) AS window_end, $finals, "
            "make_timestamp(s.__tmax) AS __tmax FROM s "
            "WHERE EXISTS (SELECT 1 FROM t WHERE $on_touched) "
            "QUALIFY row_number() OVER (PARTITION BY $keys ORDER BY s.__ws) = 1",
            keys=self._keys("s"),
            size=_n(self.size),
            finals=_finals(self.spec.aggregations, schema),
            on_touched=_same_keys(self.spec.keys, "s", "t"),
        )
        query.set("joins", joins)
        return self.engine.query(sb.render(query, "duckdb", copy=False), sources)

    def _distinct_joins(self, which: exp.Expr) -> tuple[list[exp.Expr], dict[str, pa.Table]]:
        """LEFT JOINs bringing each count_distinct's count per key and window."""
        joins, sources = [], {}
        for name, table in self.distinct.items():
            sources[name] = self._run(
                "SELECT $keys, __ws, count(*) AS n FROM t WHERE $which GROUP BY ALL",
                {"t": table},
                keys=self._keys(),
                which=which.copy(),
            )
            on = exp.and_(
                _same_keys(self.spec.keys, "s", name),
                exp.column("__ws", "s").eq(exp.column("__ws", name)),
                copy=False,
            )
            joined = sb.template(
                "SELECT * FROM s LEFT JOIN $d ON $on", d=exp.to_identifier(name), on=on
            )
            joins.append(joined.args["joins"][0])
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
        is_late = exp.column("__t") <= _n(wm) if wm is not None else exp.false()
        late = self._run(
            "SELECT * EXCLUDE (__t), make_timestamp(__t - $size) AS window_start, "
            "make_timestamp(__t) AS window_end, make_timestamp($wm) AS watermark "
            "FROM t WHERE $late",
            {"t": timed},
            size=_n(self.size),
            wm=_n(wm or 0),
            late=is_late,
        )
        # Late rows get no window of their own, but still count in open windows after them.
        flagged = self._run("SELECT *, $late AS __late FROM t", {"t": timed}, late=is_late)
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
        after = exp.column("__t", "e") > _n(before) if before is not None else exp.true()
        # One window per closing event (events at the same key and time share one).
        emitted = self._run(
            "SELECT $e_keys, make_timestamp(e.__t - $size) AS window_start, "
            "make_timestamp(e.__t) AS window_end, $finals "
            "FROM (SELECT DISTINCT $keys, __t FROM s WHERE NOT __late) e "
            "JOIN s r ON $on AND r.__t BETWEEN e.__t - $size AND e.__t "
            "WHERE $after AND e.__t <= $wm "
            "GROUP BY ALL ORDER BY window_end, $e_keys",
            {"s": self.state},
            e_keys=self._keys("e"),
            keys=self._keys(),
            size=_n(self.size),
            finals=_sliding_finals(self.spec.aggregations, schema),
            on=_same_keys(self.spec.keys, "r", "e"),
            after=after,
            wm=_n(self.watermark),
        )
        # Rows older than any window still to close are no longer needed.
        self.state = self._run(
            "SELECT * FROM s WHERE __t >= $wm - $size",
            {"s": self.state},
            wm=_n(self.watermark),
            size=_n(self.size),
        )
        return emitted

    def _restore_sliding(self, timed: pa.Table) -> None:
        wm = self.watermark
        keep = (
            sb.template("__t >= $wm - $size", wm=_n(wm), size=_n(self.size))
            if wm is not None
            else exp.true()
        )
        # Rows at or before the watermark already had their windows emitted; they only
        # count in later windows now, as late rows would.
        late = exp.column("__t") <= _n(wm) if wm is not None else exp.false()
        self.state = self._run(
            "SELECT *, $late AS __late FROM t WHERE $keep", {"t": timed}, late=late, keep=keep
        )


def _same_keys(keys: Sequence[str], left: str, right: str) -> exp.Expr:
    """Every key of `left` is the key of `right` (NULLs equal)."""
    return exp.and_(
        *(exp.NullSafeEQ(this=sb.column(k, left), expression=sb.column(k, right)) for k in keys),
        copy=False,
    )


def _partial_parts(aggregations: Sequence[Aggregation]) -> list[exp.Expr]:
    """Per key and window: row count, latest time and each aggregate's mergeable parts."""
    parts = [sb.template("count(*) AS __n"), sb.template("max(__t) AS __tmax")]
    for i, agg in enumerate(aggregations):
        value = sb.column(agg.column) if agg.column else exp.Star()
        parts.append(_as(exp.Count(this=value), f"__c{i}"))
        if agg.function in ("sum", "mean"):
            parts.append(_as(exp.Sum(this=value.copy()), f"__s{i}"))
        elif agg.function in ("min", "max"):
            fold = exp.Min if agg.function == "min" else exp.Max
            parts.append(_as(fold(this=value.copy()), f"__m{i}"))
    return parts


def _merged_parts(aggregations: Sequence[Aggregation]) -> list[exp.Expr]:
    """The parts of `_partial_parts` merged over the rows of one key and window."""
    parts = [sb.template("sum(__n)::BIGINT AS __n"), sb.template("max(__tmax) AS __tmax")]
    for i, agg in enumerate(aggregations):
        parts.append(_as(sb.cast(exp.Sum(this=_own(f"__c{i}")), "BIGINT"), f"__c{i}"))
        if agg.function in ("sum", "mean"):
            parts.append(_as(exp.Sum(this=_own(f"__s{i}")), f"__s{i}"))
        elif agg.function in ("min", "max"):
            fold = exp.Min if agg.function == "min" else exp.Max
            parts.append(_as(fold(this=_own(f"__m{i}")), f"__m{i}"))
    return parts


def _final(i: int, agg: Aggregation, value_type: pa.DataType | None) -> exp.Expr:
    """Aggregate `i`'s value from its merged parts (and its distinct count `d<i>.n`)."""
    if agg.function == "count":
        return _own(f"__c{i}")
    if agg.function == "count_distinct":
        return sb.template("coalesce($n, 0)::BIGINT", n=exp.column("n", f"d{i}"))
    if agg.function == "mean":
        count, total = _own(f"__c{i}"), _own(f"__s{i}")
        return sb.template("CASE WHEN $c > 0 THEN $s / $c END", c=count, s=total)
    if agg.function == "sum":
        integral = value_type is not None and pa.types.is_integer(value_type)
        return sb.cast(_own(f"__s{i}"), "BIGINT" if integral else "DOUBLE")
    return _own(f"__m{i}")


def _finals(aggregations: Sequence[Aggregation], schema: pa.Schema) -> list[exp.Expr]:
    return [
        _named(_final(i, a, _type(schema, a.column)), a.name) for i, a in enumerate(aggregations)
    ]


def _sliding_finals(aggregations: Sequence[Aggregation], schema: pa.Schema) -> list[exp.Expr]:
    """Each aggregate over the rows `r` of a sliding window."""
    finals = []
    for agg in aggregations:
        value: exp.Expr = sb.column(agg.column, "r") if agg.column else exp.column("__t", "r")
        if agg.function == "count_distinct":
            value = exp.Count(this=exp.Distinct(expressions=[value]))
        else:
            fold = {
                "mean": exp.Avg,
                "count": exp.Count,
                "sum": exp.Sum,
                "min": exp.Min,
                "max": exp.Max,
            }[agg.function]
            value = fold(this=value)
        if agg.function == "sum":
            integral = pa.types.is_integer(_type(schema, agg.column) or pa.float64())
            value = sb.cast(value, "BIGINT" if integral else "DOUBLE")
        finals.append(_named(value, agg.name))
    return finals


def _n(value: int) -> exp.Expr:
    """A whole number (microseconds, counts) as a literal."""
    return sb.literal(value)


def _own(name: str) -> exp.Column:
    """One of the operator's own state columns (`__c0`, ...), unquoted."""
    return exp.column(name)


def _as(value: exp.Expr, name: str) -> exp.Expr:
    """`value AS name` for one of the operator's own columns."""
    return exp.alias_(value, exp.to_identifier(name), copy=False)


def _named(value: exp.Expr, name: str) -> exp.Expr:
    """`value AS "name"`, a user's name for an output column."""
    return exp.alias_(value, sb.identifier(name), copy=False)


def _qualified(condition: exp.Expr, table: str) -> exp.Expr:
    """`condition` over the operator's own columns, read from `table`."""
    condition = condition.copy()
    for col in condition.find_all(exp.Column):
        if not col.table:
            col.set("table", exp.to_identifier(table))
    return condition


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
