"""Sliding windows (Kafka Streams' kind): one window [t - size, t] per event, emitted
once the watermark passes t.

Unlike tumbling and hopping windows, which fold rows into partial aggregates per window,
a sliding window's rows cannot be told apart from the next one's until it closes, so the
state is the rows of the last `size` before the watermark, and each window is aggregated
from them when it closes. The watermark itself is the operator's (windows.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
from sqlglot import exp

from assay import sqlbuild as sb
from assay.features.spec import Aggregation
from assay.streaming.window_sql import WindowQueries, column_type, named, same_keys


class SlidingWindows:
    """The rows and steps of one operator's sliding windows, run through its `queries`.

    Rows come with `__late`: a row at or before the watermark when it arrived gets no
    window of its own, but still counts in the open windows after it.
    """

    def __init__(self, queries: WindowQueries):
        self.queries = queries
        self.rows: pa.Table | None = None  # the last `size` of rows, flagged `__late`

    def fold(self, timed: pa.Table, watermark: int | None) -> pa.Table:
        """Keep the rows of `timed` (see `WindowQueries.timed`); return those late for
        `watermark`, the one before this batch, each with the window it would have had."""
        is_late = _at_or_before(watermark)
        late = self.queries.run(
            "SELECT * EXCLUDE (__t), make_timestamp(__t - $size) AS window_start, "
            "make_timestamp(__t) AS window_end, make_timestamp($wm) AS watermark "
            "FROM t WHERE $late",
            {"t": timed},
            size=sb.literal(self.queries.size),
            wm=sb.literal(watermark or 0),
            late=is_late,
        )
        # Late rows get no window of their own, but still count in open windows after them.
        flagged = self.queries.run("SELECT *, $late AS __late FROM t", {"t": timed}, late=is_late)
        self.rows = (
            flagged
            if self.rows is None
            else pa.concat_tables([self.rows, flagged], promote_options="permissive")
        )
        return late

    def emit(self, schema: pa.Schema, before: int | None, watermark: int | None) -> pa.Table:
        """The windows of events after `before` (the watermark before this batch) up to
        `watermark` (the one after it), with their aggregates; rows no window still to
        close needs are dropped."""
        queries = self.queries
        if self.rows is None or watermark is None:
            return queries.empty_output(schema)
        after = exp.column("__t", "e") > sb.literal(before) if before is not None else exp.true()
        # One window per closing event (events at the same key and time share one).
        emitted = queries.run(
            "SELECT $e_keys, make_timestamp(e.__t - $size) AS window_start, "
            "make_timestamp(e.__t) AS window_end, $finals "
            "FROM (SELECT DISTINCT $keys, __t FROM s WHERE NOT __late) e "
            "JOIN s r ON $on AND r.__t BETWEEN e.__t - $size AND e.__t "
            "WHERE $after AND e.__t <= $wm "
            "GROUP BY ALL ORDER BY window_end, $e_keys",
            {"s": self.rows},
            e_keys=queries.keys("e"),
            keys=queries.keys(),
            size=sb.literal(queries.size),
            finals=_sliding_finals(queries.spec.aggregations, schema),
            on=same_keys(queries.spec.keys, "r", "e"),
            after=after,
            wm=sb.literal(watermark),
        )
        # Rows older than any window still to close are no longer needed.
        self.rows = queries.run(
            "SELECT * FROM s WHERE __t >= $wm - $size",
            {"s": self.rows},
            wm=sb.literal(watermark),
            size=sb.literal(queries.size),
        )
        return emitted

    def restore(self, timed: pa.Table, watermark: int | None) -> None:
        """Rebuild the rows from `timed`, the stream's rows, as of `watermark`."""
        size = sb.literal(self.queries.size)
        keep = (
            sb.template("__t >= $wm - $size", wm=sb.literal(watermark), size=size)
            if watermark is not None
            else exp.true()
        )
        # Rows at or before the watermark already had their windows emitted; they only
        # count in later windows now, as late rows would.
        late = _at_or_before(watermark)
        self.rows = self.queries.run(
            "SELECT *, $late AS __late FROM t WHERE $keep", {"t": timed}, late=late, keep=keep
        )


def _at_or_before(watermark: int | None) -> exp.Expr:
    """Rows (`__t`) at or before `watermark`: none without one."""
    return exp.column("__t") <= sb.literal(watermark) if watermark is not None else exp.false()


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
            integral = pa.types.is_integer(column_type(schema, agg.column) or pa.float64())
            value = sb.cast(value, "BIGINT" if integral else "DOUBLE")
        finals.append(named(value, agg.name))
    return finals
