"""Windowed aggregations of a feature view, as SQL, from its one definition.

Offline (training sets), a view's aggregates are a *timeline* per entity: their value only
changes when a row enters a window (at the row's timestamp) or leaves it (at timestamp +
window), so evaluating every aggregate at those change points, with the window frame
(p - w, p], gives a step function the point-in-time ASOF join reads exactly at any
entity row's timestamp. Online (materialization), the same aggregates are evaluated once,
at the materialization's end time, with FILTER clauses over the longest window.

Both return null for every feature of an entity with no row in the longest window (the
view's TTL), and 0 for counts of a shorter window that holds no rows.

The timeline is the same bits on every run over the same rows (whatever the threads or the
input's order): rows tied on their time are ranked by their values into one order key, so
a floating-point sum always adds them in one order (`_ranked`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlglot import exp

from assay import sqlbuild as sb
from assay.features.spec import Aggregation, FeatureView

ALIVE = "__rows_in_ttl"
# Places per microsecond in the frames' order key: more than any (keys, __ts) tie group
# can hold (a group is one entity's rows at one instant, each once per window), and small
# enough that microseconds since 1970 times TIES fit DECIMAL(38, 0) for any timestamp.
TIES = 2**32


def _micros(window: timedelta) -> int:
    return int(window.total_seconds() * 1_000_000)


def _aggregate(agg: Aggregation, column: exp.Expr | None = None) -> exp.Expr:
    """The aggregate call; `column` overrides the row marker counted by a plain count."""
    target: exp.Expr = (
        sb.column(agg.column) if agg.column else column if column is not None else exp.Star()
    )
    if agg.function == "count_distinct":
        return exp.Count(this=exp.Distinct(expressions=[target]))
    return {
        "count": exp.Count,
        "sum": exp.Sum,
        "mean": exp.Avg,
        "min": exp.Min,
        "max": exp.Max,
    }[agg.function](this=target)


def _windows(view: FeatureView) -> list[timedelta]:
    return sorted({a.window for a in view.aggregations})


def timeline_sql(
    view: FeatureView, source: exp.Expr, ts_expr: exp.Expr, portable: bool = False
) -> exp.Expr:
    """A query: join keys, `__ts` (change points), and every aggregate as of `__ts`.

    `source` names the source relation, `ts_expr` is its timestamp as naive UTC. Rows with
    a null timestamp or key belong to no window and are skipped. `portable` avoids
    DISTINCT window aggregates.
    """
    keys = sb.columns(view.join_keys)
    value_columns = sorted({a.column for a in view.aggregations if a.column})
    not_null = [sb.column(k).is_(exp.null()).not_() for k in view.join_keys]
    events = sb.template(
        "SELECT $keys, $ts AS __ts, $values, 1 AS __row FROM $src WHERE $where",
        keys=keys,
        ts=ts_expr,
        values=sb.columns(value_columns),
        src=source,
        where=exp.and_(sb.column(view.timestamp).is_(exp.null()).not_(), *not_null, copy=False),
    )
    # Where each row leaves each window, a point with no values, so the aggregates there
    # are computed without it.
    nulls = [exp.alias_(exp.null(), sb.identifier(c)) for c in value_columns]
    points = sb.template("SELECT * FROM events")
    for w in _windows(view):
        exit_points = sb.template(
            "SELECT $keys, __ts + $width AS __ts, $nulls, NULL AS __row FROM events",
            keys=keys,
            width=sb.micros(_micros(w)),
            nulls=nulls,
        )
        points = exp.union(points, exit_points, distinct=False, copy=False)
    # One named frame per distinct window over the tie-broken order key `__k` (`_ranked`).
    # For the last row of the tie group at p (key p * TIES + TIES - 1), w * TIES - 1 keys
    # back reach (p - w + 1us) * TIES, the first place at p - w + 1us: the frame holds
    # exactly the rows in (p - w, p], whatever their rank in their own groups.
    frames = {w: f"w{i}" for i, w in enumerate(_windows(view))}
    window_defs = [
        sb.template(
            "SELECT 1 FROM t WINDOW w AS (PARTITION BY $keys ORDER BY __k RANGE BETWEEN "
            "$width PRECEDING AND CURRENT ROW)",
            keys=keys,
            width=exp.Literal.number(_micros(w) * TIES - 1),
        ).args["windows"][0]
        for w in frames
    ]
    for definition, name in zip(window_defs, frames.values(), strict=True):
        definition.set("this", exp.to_identifier(name))
    longest = frames[max(frames)]
    aggregates = [
        exp.alias_(_windowed(a, frames[a.window], portable), sb.identifier(a.name))
        for a in view.aggregations
    ]
    alive = [
        exp.alias_(
            exp.Case().when(
                exp.column(ALIVE) > exp.Literal.number(0), sb.column(a.name), copy=False
            ),
            sb.identifier(a.name),
        )
        for a in view.aggregations
    ]
    steps = sb.template(
        "SELECT $keys, __ts, __r, $aggregates, count(__row) OVER $longest AS __rows_in_ttl "
        "FROM ranked WINDOW w AS ()",
        keys=keys,
        aggregates=aggregates,
        longest=exp.to_identifier(longest),
    )
    steps.set("windows", window_defs)
    # The last row of a point's tie group sees every row at the point, in one fixed order.
    query = sb.template(
        "SELECT $keys, __ts, $alive FROM steps WHERE __r = 1", keys=keys, alive=alive
    )
    ranked = _ranked(view.join_keys, value_columns, portable)
    return (
        query.with_("events", as_=events, copy=False)  # type: ignore[attr-defined]
        .with_("points", as_=points, copy=False)
        .with_("ranked", as_=ranked, copy=False)
        .with_("steps", as_=steps, copy=False)
    )


def _ranked(join_keys: Sequence[str], value_columns: Sequence[str], portable: bool) -> exp.Expr:
    """`points` with `__r`, each row's rank from the last in its (keys, __ts) tie group
    (1: the last), and `__k`, the one order key of the window frames: `__ts` in
    microseconds times TIES, plus the row's place in its group, the last at `TIES - 1`.

    Why: rows tied on `__ts` leave DuckDB's (and Spark's) sort in any order, and a
    floating-point sum adds its values in that order, so two runs over the same rows
    could differ in the last bits. Ranking the ties by every value makes the order total
    (rows tied on every value are interchangeable), and RANGE frames take only one key.
    """
    keys = sb.columns(join_keys)
    # Any fixed order does (where nulls go is the engine's default): only its being total.
    by_values: list[exp.Expr] = [exp.Ordered(this=c, desc=True) for c in sb.columns(value_columns)]
    by_values.append(exp.Ordered(this=exp.column("__row"), desc=True))
    micros = (
        sb.template("date_diff('microsecond', TIMESTAMP '1970-01-01', __ts)")
        if portable
        else sb.template("epoch_us(__ts)")
    )
    ranked = sb.template(
        "SELECT *, row_number() OVER (PARTITION BY $keys, __ts ORDER BY $order) AS __r FROM points",
        keys=keys,
        order=by_values,
    )
    return sb.template(
        "SELECT *, CAST($micros AS DECIMAL(38, 0)) * $ties + ($ties - __r) AS __k "
        "FROM ($ranked) AS p",
        micros=micros,
        ties=exp.Literal.number(TIES),
        ranked=ranked,
    )


def _over(function: exp.Expr, frame: str) -> exp.Window:
    """`function OVER frame`, a named window frame."""
    return exp.Window(this=function, alias=exp.to_identifier(frame))


def _windowed(agg: Aggregation, frame: str, portable: bool) -> exp.Expr:
    """The aggregate over a named window frame. `portable`: for engines without DISTINCT
    in window aggregates (Spark), a distinct count counts the distinct values of the
    frame's list instead."""
    if portable and agg.function == "count_distinct" and agg.column:
        values = _over(sb.template("list($c)", c=sb.column(agg.column)), frame)
        return sb.template("array_length(list_distinct($v))", v=values)
    return _over(_aggregate(agg, exp.column("__row")), frame)


def latest_sql(
    view: FeatureView, source: exp.Expr, ts_expr: exp.Expr, end: datetime, start: datetime | None
) -> str:
    """Every entity's aggregates as of `end`, with `__ts` its latest row's timestamp.

    Entities with no row in the longest window before `end` are left out: the online
    store reports them expired. `start` keeps only entities with a row since then.
    """
    keys = sb.columns(view.join_keys)
    at = _timestamp(end)
    ttl = view.ttl_delta
    assert ttl is not None  # an aggregated view's TTL is its longest window
    aggregates = [
        exp.alias_(
            exp.Filter(
                this=_aggregate(a),
                expression=exp.Where(
                    this=exp.column("__ts")
                    > exp.Sub(this=at.copy(), expression=sb.micros(_micros(a.window)))
                ),
            ),
            sb.identifier(a.name),
        )
        for a in view.aggregations
    ]
    where = exp.and_(
        exp.column("__ts") <= at.copy(),
        exp.column("__ts") > exp.Sub(this=at.copy(), expression=sb.micros(_micros(ttl))),
        *(sb.column(k).is_(exp.null()).not_() for k in view.join_keys),
        copy=False,
    )
    query = sb.template(
        "SELECT $keys, $aggregates, max(__ts) AS __ts FROM "
        "(SELECT *, $ts AS __ts FROM $src) AS rows WHERE $where GROUP BY $keys ORDER BY $keys",
        keys=keys,
        aggregates=aggregates,
        ts=ts_expr,
        src=source,
        where=where,
    )
    if start is not None:
        query = query.having(  # type: ignore[attr-defined]
            sb.template("max(__ts) >= $start", start=_timestamp(start)), copy=False
        )
    return sb.render(query, "duckdb", copy=False)


def _timestamp(moment: datetime) -> exp.Expr:
    """`TIMESTAMP '...'`: a naive timestamp literal (as the caller's time is written)."""
    return exp.cast(exp.Literal.string(moment.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
