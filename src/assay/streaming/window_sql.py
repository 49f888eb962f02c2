"""The SQL of a window operator (windows.py): event time, window assignment, partial
aggregates and their merge, late rows, the windows a watermark closes, and the final
aggregates of what it emits.

Every query runs on Arrow tables through the operator's engine. Most are the same for
every batch, so `WindowQueries` builds each of those once and keeps its text: building
a query costs more than running it on a small batch.

The operator's own columns: `__t` (event time) and `__ws` (window start), both in
microseconds since the epoch; in the state, `__n` and `__tmax` (rows and latest time per
key and window) and per aggregate `i` its mergeable parts `__c<i>`, `__s<i>`, `__m<i>`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import pyarrow as pa
from sqlglot import exp

from assay import sqlbuild as sb
from assay.engines import Engine
from assay.features.spec import Aggregation
from assay.streaming.spec import WindowSpec

WINDOW_START, WINDOW_END = "window_start", "window_end"
# An emitted window's keys, bounds and final aggregates, from the partials `s`.
_WINDOW_COLUMNS = (
    "$keys, make_timestamp(s.__ws) AS window_start, "
    "make_timestamp(s.__ws + $size) AS window_end, $finals"
)


def to_micros(delta_seconds: float) -> int:
    """A duration in seconds as whole microseconds, the unit of every time in the SQL."""
    return round(delta_seconds * 1_000_000)


class WindowQueries:
    """The queries of one operator over `spec`'s windows, on a stream whose event time is
    the column `timestamp`: each takes and returns Arrow tables.

    Example:
        >>> import assay
        >>> from datetime import datetime
        >>> from assay.engines import get_engine
        >>> from assay.tables import Warehouse
        >>> from assay.streaming.spec import window, tumbling
        >>> spec = window("silver.w", keys=["k"], window=tumbling("1m"),
        ...               aggregations=[assay.Aggregation(function="count")])
        >>> sql = WindowQueries(get_engine("duckdb", Warehouse("/tmp/w")), spec, "ts")
        >>> timed = sql.timed(pa.table({"k": [1, 2], "ts": [datetime(2026, 1, 1, 0, 1, 5),
        ...                                                None]}))
        >>> sql.assign(timed).select(["k", "__t", "__ws"]).to_pylist()
        [{'k': 1, '__t': 1767225665000000, '__ws': 1767225660000000}]
    """

    def __init__(self, engine: Engine, spec: WindowSpec, timestamp: str):
        self.engine = engine
        self.spec = spec
        self.timestamp = timestamp
        self.size = to_micros(spec.window.size.total_seconds())
        self.slide = to_micros(spec.window.slide.total_seconds())
        self._built: dict[Hashable, str] = {}  # SQL that is the same for every batch

    def run(
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

    def keys(self, table: str | None = None) -> list[exp.Expr]:
        """The spec's key columns (of `table`, if given)."""
        return sb.columns(self.spec.keys, table)

    def timed(self, batch: pa.Table) -> pa.Table:
        """The batch with `__t` (event time in micros, UTC); rows without a time dropped."""
        time = sb.column(self.timestamp)
        return self.run(
            "SELECT *, epoch_us($ts) AS __t FROM b WHERE $time IS NOT NULL",
            {"b": batch},
            ("timed", str(batch.schema.field(self.timestamp).type)),
            ts=sb.utc_timestamp(time, batch.schema.field(self.timestamp).type),
            time=time,
        )

    def newest(self, timed: pa.Table, partition_column: str | None) -> dict[str, int]:
        """The latest event time per partition of `timed` (all in one without them)."""
        split = bool(partition_column) and partition_column in timed.column_names
        by = sb.cast(sb.column(str(partition_column)), "VARCHAR") if split else sb.string("")
        sql = "SELECT $by AS p, max(__t) AS m FROM t GROUP BY 1"
        newest = self.run(sql, {"t": timed}, ("newest", split), by=by)
        return dict(zip(newest["p"].to_pylist(), newest["m"].to_pylist(), strict=True))

    def assign(self, timed: pa.Table) -> pa.Table:
        """Rows of `timed` paired with each window start that contains them."""
        copies = -(-self.size // self.slide)  # windows per row: ceil(size / slide)
        slide = _n(self.slide)
        first = sb.template("(__t - ((__t % $slide) + $slide) % $slide)", slide=slide)
        return self.run(
            "SELECT t.*, $first - k.i * $slide AS __ws FROM timed t, range($copies) AS k(i) "
            "WHERE $first - k.i * $slide + $size > __t",
            {"timed": timed},
            "assign",
            first=first,
            slide=slide,
            copies=_n(copies),
            size=_n(self.size),
        )

    def closes(self, watermark: int | None) -> exp.Expr:
        """Windows (`__ws` of a row) that `watermark` has closed: none without one."""
        if watermark is None:
            return exp.false()
        return sb.template("__ws + $size <= $wm", size=_n(self.size), wm=_n(watermark))

    def without(self, table: pa.Table, condition: exp.Expr) -> pa.Table:
        """The rows of `table` for which `condition` does not hold."""
        return self.run("SELECT * FROM t WHERE NOT ($c)", {"t": table}, c=condition)

    def late_rows(self, assigned: pa.Table, closed: exp.Expr, watermark: int | None) -> pa.Table:
        """The (row, window) pairs of `assigned` whose window had `closed`, as set aside."""
        return self.run(
            "SELECT * EXCLUDE (__t, __ws), make_timestamp(__ws) AS window_start, "
            "make_timestamp(__ws + $size) AS window_end, "
            "make_timestamp($wm) AS watermark FROM a WHERE $closed",
            {"a": assigned},
            size=_n(self.size),
            wm=_n(watermark or 0),
            closed=closed,
        )

    def partials(self, on_time: pa.Table) -> pa.Table:
        """Per key and window: row count and each aggregate's mergeable parts."""
        return self.run(
            "SELECT $keys, __ws, $parts FROM o GROUP BY ALL",
            {"o": on_time},
            "partials",
            keys=self.keys(),
            parts=_partial_parts(self.spec.aggregations),
        )

    def merge(self, state: pa.Table, new: pa.Table) -> pa.Table:
        """The partials of `state` and `new` merged per key and window."""
        return self.run(
            "SELECT $keys, __ws, $parts "
            "FROM (SELECT * FROM state UNION ALL BY NAME SELECT * FROM new) GROUP BY ALL",
            {"state": state, "new": new},
            "merge",
            keys=self.keys(),
            parts=_merged_parts(self.spec.aggregations),
        )

    def distinct_values(self, on_time: pa.Table, i: int, column: str) -> pa.Table:
        """The distinct non-null values of count_distinct `i`'s `column` per key and window."""
        return self.run(
            "SELECT DISTINCT $keys, __ws, $value AS v FROM o WHERE v IS NOT NULL",
            {"o": on_time},
            ("distinct", i),
            keys=self.keys(),
            value=sb.column(column),
        )

    def union(self, old: pa.Table, new: pa.Table) -> pa.Table:
        """The distinct rows of `old` and `new`."""
        return self.engine.query(
            "SELECT * FROM old UNION SELECT * FROM new", {"old": old, "new": new}
        )

    def closed_windows(
        self,
        state: pa.Table,
        distinct: Mapping[str, pa.Table],
        closes: exp.Expr,
        schema: pa.Schema,
    ) -> pa.Table:
        """The windows of `state` that `closes` holds for, with their final aggregates."""
        return self._finished(
            f"SELECT {_WINDOW_COLUMNS} FROM s WHERE $closes ORDER BY s.__ws, $keys",
            state,
            distinct,
            closes,
            schema,
            {},
            closes=_qualified(closes, "s"),
        )

    def oldest_windows(
        self,
        state: pa.Table,
        distinct: Mapping[str, pa.Table],
        touched: pa.Table,
        schema: pa.Schema,
    ) -> pa.Table:
        """Per key among `touched`'s rows, its oldest window in `state`: the aggregates so
        far, and `__tmax`, its latest event time."""
        return self._finished(
            f"SELECT {_WINDOW_COLUMNS}, make_timestamp(s.__tmax) AS __tmax FROM s "
            "WHERE EXISTS (SELECT 1 FROM t WHERE $on_touched) "
            "QUALIFY row_number() OVER (PARTITION BY $keys ORDER BY s.__ws) = 1",
            state,
            distinct,
            exp.true(),
            schema,
            {"t": touched.select(list(self.spec.keys))},
            on_touched=same_keys(self.spec.keys, "s", "t"),
        )

    def _finished(
        self,
        sql: str,
        state: pa.Table,
        distinct: Mapping[str, pa.Table],
        which: exp.Expr,
        schema: pa.Schema,
        sources: dict[str, pa.Table],
        **parts: sb.Part,
    ) -> pa.Table:
        """Run `sql` over the partials `s` of `state`, joined to the distinct counts of the
        windows `which` selects, with its `$keys`, `$size` and `$finals` filled in. Built
        per batch: the watermark in it moves."""
        joins, counts = self._distinct_joins(distinct, which)
        query = sb.template(
            sql,
            keys=self.keys("s"),
            size=_n(self.size),
            finals=_finals(self.spec.aggregations, schema),
            **parts,
        )
        query.set("joins", joins)
        tables = {**counts, "s": state, **sources}
        return self.engine.query(sb.render(query, "duckdb", copy=False), tables)

    def _distinct_joins(
        self, distinct: Mapping[str, pa.Table], which: exp.Expr
    ) -> tuple[list[exp.Expr], dict[str, pa.Table]]:
        """LEFT JOINs bringing each count_distinct's count per key and window."""
        joins, sources = [], {}
        for name, table in distinct.items():
            sources[name] = self.run(
                "SELECT $keys, __ws, count(*) AS n FROM t WHERE $which GROUP BY ALL",
                {"t": table},
                keys=self.keys(),
                which=which.copy(),
            )
            on = exp.and_(
                same_keys(self.spec.keys, "s", name),
                exp.column("__ws", "s").eq(exp.column("__ws", name)),
                copy=False,
            )
            joined = sb.template(
                "SELECT * FROM s LEFT JOIN $d ON $on", d=exp.to_identifier(name), on=on
            )
            joins.append(joined.args["joins"][0])
        return joins, sources

    def empty_output(self, schema: pa.Schema) -> pa.Table:
        """No windows, with the columns emitted windows have (for a batch of `schema`)."""
        fields = [schema.field(k) for k in self.spec.keys]
        fields += [
            pa.field(WINDOW_START, pa.timestamp("us")),
            pa.field(WINDOW_END, pa.timestamp("us")),
        ]
        for agg in self.spec.aggregations:
            fields.append(pa.field(agg.name, _output_type(agg, column_type(schema, agg.column))))
        return pa.schema(fields).empty_table()


def same_keys(keys: Sequence[str], left: str, right: str) -> exp.Expr:
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
        named(_final(i, a, column_type(schema, a.column)), a.name)
        for i, a in enumerate(aggregations)
    ]


def _n(value: int) -> exp.Expr:
    """A whole number (microseconds, counts) as a literal."""
    return sb.literal(value)


def _own(name: str) -> exp.Column:
    """One of the operator's own state columns (`__c0`, ...), unquoted."""
    return exp.column(name)


def _as(value: exp.Expr, name: str) -> exp.Expr:
    """`value AS name` for one of the operator's own columns."""
    return exp.alias_(value, exp.to_identifier(name), copy=False)


def named(value: exp.Expr, name: str) -> exp.Expr:
    """`value AS "name"`, a user's name for an output column."""
    return exp.alias_(value, sb.identifier(name), copy=False)


def _qualified(condition: exp.Expr, table: str) -> exp.Expr:
    """`condition` over the operator's own columns, read from `table`."""
    condition = condition.copy()
    for col in condition.find_all(exp.Column):
        if not col.table:
            col.set("table", exp.to_identifier(table))
    return condition


def column_type(schema: pa.Schema, column: str | None) -> pa.DataType | None:
    """The type of `column` in `schema`; None without one (or if it is not there)."""
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
